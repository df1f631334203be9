"""Coal production from the BP Statistical Review of World Energy 2021 (OWID long input table).

Long CSV ``Entity, Year, <variable> ...``; used: ``Coal Production - Tonnes`` (million tonnes)
and ``Coal Production - EJ`` (exajoules). Entities are English names (registry ``by_name``).
``USSR`` (1981-1984) is counted separately from other entities outside the registry (regions,
price series, other countries). DPR Korea is not reported separately by BP.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ..units import UnitRegistry
from . import DropLog
from ._common import (
    NOT_IN_REGISTRY,
    file_path,
    finish,
    log_rows,
    map_names,
    numeric,
    read_csv,
    require_columns,
    years,
)

SOURCE = "coal_bp"
KEY = "review"
USSR_REASON = "USSR, not a study unit"

#: indicator code -> column of the BP table
COLUMNS: dict[str, str] = {
    "coal_production_mt": "Coal Production - Tonnes",
    "coal_production_ej": "Coal Production - EJ",
}

#: provider code emitted -> unit
INDICATORS: dict[str, str] = {
    "coal_production_mt": "million tonnes",
    "coal_production_ej": "EJ",
}


def read(files: Mapping[str, Path], registry: UnitRegistry, log: DropLog, **options: object) -> pd.DataFrame:
    """Read the BP 2021 table (key ``review``) into TIDY rows; only non-empty values become rows.

    Dropped values (one per entity, year and indicator) are counted: ``USSR`` with reason
    "USSR, not a study unit", every other entity outside the registry as "not in unit registry".
    """
    path = file_path(files, KEY, SOURCE)
    raw = read_csv(path, keep_default_na=False, na_values=[""], dtype={"Entity": str},
                   usecols=lambda c: c in {"Entity", "Year", *COLUMNS.values()})
    require_columns(raw, ["Entity", "Year", *COLUMNS.values()], path)
    entity = raw["Entity"].astype(str).str.strip()
    units = map_names(entity, registry)
    known = units.notna()
    ussr = entity.str.upper() == "USSR"
    year = years(raw["Year"], path, "Year")
    parts = []
    for code, column in COLUMNS.items():
        value = numeric(raw[column], path, column)
        has = value.notna()
        log_rows(log, SOURCE, path, USSR_REASON, entity[has & ussr], prefix=f"{code}: ")
        log_rows(log, SOURCE, path, NOT_IN_REGISTRY, entity[has & ~known & ~ussr], prefix=f"{code}: ")
        keep = has & known
        parts.append(pd.DataFrame({"unit": units[keep].astype(str), "year": year[keep],
                                   "indicator": code, "value": value[keep]}))
    return finish(pd.concat(parts, ignore_index=True), measures=INDICATORS, source=SOURCE, path=path)
