"""Coal production (EJ) from The Shift Project Data Portal (OWID input table, wide).

Wide CSV: ``Year`` then one column per entity name (regional aggregates first: World, Asia and
Oceania, OECD, ...). Columns are matched to registry countries by name; the others are counted
(reason "not in unit registry"). ``Russian Federation & USSR`` is the USSR before 1992 and
Russia from 1992: only years >= 1992 go to RUS, the earlier values are counted as USSR.
Early decades hold many exact zeros (e.g. Mongolia, South Korea, Afghanistan before ~1950):
they are kept and counted in the drop log, since a 0 may stand for "no data" upstream.
A run of zeros *between* non-zero years of the same country is a reporting gap, not a stop of
production (Japan 2002-2015 is 0 here, 0.074 EJ in 2001 and 0.029 EJ in 2016, while BP gives
0.024-0.032 EJ, about 1.2 Mt a year): such interior zeros are not emitted (missing) and are
counted under :data:`GAP_REASON`.
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
    log_counts,
    log_rows,
    numeric,
    read_csv,
    require_columns,
    years,
)

SOURCE = "coal_shift"
KEY = "coal"
CODE = "coal_production_ej_shift"
RUSSIA_USSR = "Russian Federation & USSR"
FIRST_RUSSIA_YEAR = 1992
USSR_REASON = "USSR, not a study unit"
ZERO_REASON = "zero value (may mean not reported upstream)"
GAP_REASON = "zero between non-zero years of the same country (reporting gap); not emitted"

#: provider code emitted -> unit
INDICATORS: dict[str, str] = {CODE: "EJ"}


def read(files: Mapping[str, Path], registry: UnitRegistry, log: DropLog, **options: object) -> pd.DataFrame:
    """Read the Shift coal table (key ``coal``) into TIDY rows (indicator ``coal_production_ej_shift``).

    Only non-empty cells become rows; the drop log counts non-empty cells (one per entity and
    year) of columns outside the registry, and the pre-1992 cells of ``Russian Federation & USSR``.
    """
    path = file_path(files, KEY, SOURCE)
    # the provider file has no line end after its last row (upstream as published)
    raw = read_csv(path, final_newline=False, keep_default_na=False, na_values=[""])
    require_columns(raw, ["Year"], path)
    year = years(raw["Year"], path, "Year")
    entities = [c for c in raw.columns if c != "Year"]
    ids = {c: registry.by_name(str(c), "country", strict=False) for c in entities}
    dropped = [c for c in entities if ids[c] is None]
    if dropped:
        log_counts(log, SOURCE, path, NOT_IN_REGISTRY, raw[dropped].notna().sum())
    parts = []
    for col in (c for c in entities if ids[c] is not None):
        value = numeric(raw[col], path, col)
        has = value.notna()
        if col == RUSSIA_USSR:
            early = has & (year < FIRST_RUSSIA_YEAR)
            log_rows(log, SOURCE, path, USSR_REASON,
                     pd.Series([f"{col} < {FIRST_RUSSIA_YEAR}"] * int(early.sum()), dtype=object))
            has &= ~early
        nonzero = has & (value != 0)
        if nonzero.any():
            pos = (year[nonzero]).astype(int)
            gap = has & (value == 0) & (year > pos.min()) & (year < pos.max())
            log_rows(log, SOURCE, path, GAP_REASON,
                     pd.Series([f"{col} {y}" for y in year[gap]], dtype=object))
            has &= ~gap
        parts.append(pd.DataFrame({"unit": ids[col], "year": year[has], "indicator": CODE,
                                   "value": value[has]}))
    if not parts:
        parts.append(pd.DataFrame(columns=["unit", "year", "indicator", "value"]))
    out = pd.concat(parts, ignore_index=True)
    zeros = out["value"] == 0
    log_rows(log, SOURCE, path, ZERO_REASON, out.loc[zeros, "unit"])
    return finish(out, measures=INDICATORS, source=SOURCE, path=path)
