"""SDG indicator 15.3.1 (AG_LND_DGRD, % of land area degraded) from the Open Numbers DDF.

File ``geo_area,nature,units,year,ag_lnd_dgrd``; ``geo_area`` = UN M49 code. Regional
aggregates are recognised by the registry (kind ``m49``); rows that UNSD flags as aggregate
(``nature`` = ``n``) but whose code the registry does not list are counted as aggregates too,
with the codes in the detail. ``units`` must be ``percent``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ..errors import RawFileError
from ..units import UnitRegistry
from . import DropLog
from ._common import (
    AGGREGATE,
    file_path,
    finish,
    log_rows,
    map_codes,
    numeric,
    read_csv,
    require_columns,
    split_registry,
    years,
)

SOURCE = "sdg15"
COLUMN = "ag_lnd_dgrd"

#: provider code emitted -> unit
INDICATORS: dict[str, str] = {"sdg_15_3_1": "% of land area"}


def read(files: Mapping[str, Path], registry: UnitRegistry, log: DropLog, **options: object) -> pd.DataFrame:
    """Read the SDG 15.3.1 file (key ``ag_lnd_dgrd``) into TIDY rows (indicator ``sdg_15_3_1``)."""
    path = file_path(files, COLUMN, SOURCE)
    raw = read_csv(path, dtype={"geo_area": str, "nature": str, "units": str},
                   keep_default_na=False, na_values=[""])
    require_columns(raw, ["geo_area", "nature", "units", "year", COLUMN], path)
    raw = raw.loc[raw[COLUMN].notna()]
    bad_units = raw["units"].astype(str).str.strip().str.lower() != "percent"
    if bad_units.any():
        raise RawFileError(path, "units", "'percent'", raw.loc[bad_units, "units"].iloc[0])
    raw = raw.assign(geo_area=raw["geo_area"].astype(str).str.strip())
    units = map_codes(raw["geo_area"], registry, "m49")
    in_registry_agg = raw["geo_area"].map(lambda c: registry.is_aggregate("m49", c)).astype(bool)
    flagged = units.isna() & ~in_registry_agg & (raw["nature"].astype(str).str.strip() == "n")
    log_rows(log, SOURCE, path, AGGREGATE, raw.loc[flagged, "geo_area"],
             prefix="nature 'n', M49 code not among registry aggregates: ")
    raw, units = raw.loc[~flagged], units[~flagged]
    kept = split_registry(raw, "geo_area", units, registry=registry, log=log, source=SOURCE,
                          path=path, aggregate_kind="m49")
    out = pd.DataFrame(
        {
            "unit": kept["unit"],
            "year": years(kept["year"], path, "year"),
            "indicator": "sdg_15_3_1",
            "value": numeric(kept[COLUMN], path, COLUMN),
        }
    )
    return finish(out, measures=INDICATORS, source=SOURCE, path=path)
