"""FAOSTAT land cover (ESA CCI-LC classes, 1000 ha) from the Open Numbers DDF, one file per class.

Files ``geo,year,<column>`` with ``geo`` = FAOSTAT area code (read as text). Code 351 (China
incl. Taiwan, Hong Kong, Macao) overlaps code 41 (mainland China) and is a registry aggregate
(kind ``fao``): it is counted in the drop log, never summed with 41.
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

SOURCE = "faostat_landcover"
MEASURE = "1000 ha"

#: file key -> value column of that DDF file
COLUMNS: dict[str, str] = {
    "barren": "lc_terrestrial_barren_land_area_from_cci_lc",
    "grassland": "lc_grassland_area_from_cci_lc",
    "sparse": "lc_sparsely_natural_vegetated_areas_area_from_cci_lc",
    "shrub": "lc_shrub_covered_areas_area_from_cci_lc",
    "tree": "lc_tree_covered_areas_area_from_cci_lc",
    "herbaceous_crops": "lc_herbaceous_crops_area_from_cci_lc",
}

#: provider code emitted (``lc_<file key>``) -> unit
INDICATORS: dict[str, str] = {f"lc_{key}": MEASURE for key in COLUMNS}


def read(files: Mapping[str, Path], registry: UnitRegistry, log: DropLog, **options: object) -> pd.DataFrame:
    """Read the six CCI-LC class files (keys as in ``COLUMNS``) into TIDY rows in 1000 ha."""
    parts = []
    for key, column in COLUMNS.items():
        path = file_path(files, key, SOURCE)
        raw = read_csv(path, dtype={"geo": str}, keep_default_na=False, na_values=[""])
        require_columns(raw, ["geo", "year", column], path)
        raw = raw.loc[raw[column].notna()]
        raw = raw.assign(geo=raw["geo"].astype(str).str.strip())
        units = map_codes(raw["geo"], registry, "fao")
        kept = split_registry(raw, "geo", units, registry=registry, log=log, source=SOURCE,
                              path=path, aggregate_kind="fao")
        value = numeric(kept[column], path, column)
        parts.append(
            pd.DataFrame(
                {
                    "unit": kept["unit"],
                    "year": years(kept["year"], path, "year"),
                    "indicator": f"lc_{key}",
                    "value": value,
                }
            )
        )
    paths = {f"lc_{k}": files[k] for k in COLUMNS if k in files}
    return finish(pd.concat(parts, ignore_index=True), measures=INDICATORS, source=SOURCE, path=paths)
