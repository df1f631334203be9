"""FAO Forest Resources Assessment 2020 (via Our World in Data), by English ``Entity`` name.

Forest area (1000 ha) and forest cover (% of land area) are annual; deforestation,
afforestation, forest expansion and net change are FRA *period averages* (1000 ha/yr) that OWID
places on the period's first year (1990 = 1990-2000, 2000 = 2000-2010, 2010 = 2010-2015,
2015 = 2015-2020); the measure string says so. Entities whose name is not in the registry
(other countries, continents, World) are counted in the drop log.

Before 1990 the file holds only ``Forest cover`` from historical sources compiled by OWID (China
from 1700, Japan from 1600, South Korea from 1948), not FRA 2020 data: those values are
not passed on by default (``first_year=1990``) and are counted in the drop log.
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

SOURCE = "fra_forest"
KEY = "forest"
PERIOD_MEASURE = "1000 ha/yr (FRA period mean on first year)"
FRA_FIRST_YEAR = 1990
HISTORICAL_REASON = "before FRA 2020 coverage (OWID historical estimate)"

#: indicator code -> column of the OWID file
COLUMNS: dict[str, str] = {
    "forest_area": "Forest area",
    "forest_cover": "Forest cover",
    "deforestation": "Deforestation",
    "afforestation": "Afforestation",
    "forest_expansion": "Forest expansion",
    "forest_net_change": "Annual net change in forest area",
}

#: provider code emitted -> unit
INDICATORS: dict[str, str] = {
    "forest_area": "1000 ha",
    "forest_cover": "% of land area",
    "deforestation": PERIOD_MEASURE,
    "afforestation": PERIOD_MEASURE,
    "forest_expansion": PERIOD_MEASURE,
    "forest_net_change": PERIOD_MEASURE,
}


def read(files: Mapping[str, Path], registry: UnitRegistry, log: DropLog, *,
         first_year: int = FRA_FIRST_YEAR, **options: object) -> pd.DataFrame:
    """Read the OWID FRA 2020 CSV (key ``forest``) into TIDY rows (indicators of ``COLUMNS``).

    Only non-empty cells become rows. Rows of entities outside the registry are counted once
    per entity-year row of the file (reason "not in unit registry"); values of registry
    countries before ``first_year`` (OWID's pre-FRA historical compilation) are counted once
    per value.
    """
    path = file_path(files, KEY, SOURCE)
    raw = read_csv(path, keep_default_na=False, na_values=[""], dtype={"Entity": str})
    require_columns(raw, ["Entity", "Year", *COLUMNS.values()], path)
    units = map_names(raw["Entity"], registry)
    known = units.notna()
    log_rows(log, SOURCE, path, NOT_IN_REGISTRY, raw.loc[~known, "Entity"])
    kept = raw.loc[known]
    year = years(kept["Year"], path, "Year")
    parts = []
    for code, column in COLUMNS.items():
        value = numeric(kept[column], path, column)
        has = value.notna()
        early = has & (year < first_year)
        log_rows(log, SOURCE, path, HISTORICAL_REASON, units[known][early].astype(str),
                 prefix=f"{code}: ")
        has &= ~early
        parts.append(pd.DataFrame({"unit": units[known][has].astype(str), "year": year[has],
                                   "indicator": code, "value": value[has]}))
    return finish(pd.concat(parts, ignore_index=True), measures=INDICATORS, source=SOURCE, path=path)
