"""WDI mineral and coal rents (% of GDP) from the Open Numbers DDF conversion of WDI.

Two long files ``geo,time,<code>`` with ``geo`` = lower-case ISO3 (Open Numbers geo ids).
Economies outside the registry are counted in the drop log, World Bank aggregate codes
(registry kind ``wdi``) as aggregates. DPR Korea is absent upstream (no rents published).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ..units import UnitRegistry
from . import DropLog
from ._common import (
    file_path,
    finish,
    map_codes,
    numeric,
    read_csv,
    require_columns,
    split_registry,
    years,
)

SOURCE = "wdi_rents"

#: provider code (= file key = value column) -> unit
INDICATORS: dict[str, str] = {
    "ny_gdp_minr_rt_zs": "% of GDP",
    "ny_gdp_coal_rt_zs": "% of GDP",
}


def read(files: Mapping[str, Path], registry: UnitRegistry, log: DropLog, **options: object) -> pd.DataFrame:
    """Read the DDF rents files (keys ``ny_gdp_minr_rt_zs``, ``ny_gdp_coal_rt_zs``) into TIDY rows."""
    parts = []
    for code in INDICATORS:
        path = file_path(files, code, SOURCE)
        raw = read_csv(path, dtype={"geo": str}, keep_default_na=False, na_values=[""])
        require_columns(raw, ["geo", "time", code], path)
        raw = raw.loc[raw[code].notna()]
        geo = raw["geo"].astype(str).str.strip()
        raw = raw.assign(geo=geo, agg_key=geo.str.upper())
        units = map_codes(raw["geo"], registry, "iso3")
        kept = split_registry(raw, "geo", units, registry=registry, log=log, source=SOURCE,
                              path=path, aggregate_kind="wdi", aggregate_key=raw["agg_key"])
        parts.append(
            pd.DataFrame(
                {
                    "unit": kept["unit"],
                    "year": years(kept["time"], path, "time"),
                    "indicator": code,
                    "value": numeric(kept[code], path, code),
                }
            )
        )
    paths = {code: files[code] for code in INDICATORS if code in files}
    return finish(pd.concat(parts, ignore_index=True), measures=INDICATORS, source=SOURCE, path=paths)
