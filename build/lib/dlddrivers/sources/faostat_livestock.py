"""FAOSTAT live-animal stocks (head) from the JGCRI gcamfaostat ``GCAMFAOSTAT_AnimalStock.csv.gz``.

Gzip CSV: leading ``#`` comment lines (8 in the snapshot), then ``area_code, area, item_code,
item, element_code, element, unit, <year>, <year>, ...`` (wide years). Kept: element 5111
*Stocks* with unit ``An`` (head) for the grazing species in ``ITEMS``. Empty cells are not
rows. ``area_code`` is mapped with registry kind ``fao``; 351 (China incl. Taiwan) and 228
(USSR) are registry aggregates and counted. gcamfaostat fills remaining gaps with 0, so a 0
may mean "not reported": zeros are kept but counted in the drop log.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ..errors import RawFileError
from ..units import UnitRegistry
from . import DropLog
from ._common import (
    file_path,
    finish,
    log_rows,
    map_codes,
    numeric,
    read_csv,
    read_text,
    require_columns,
    split_registry,
)

SOURCE = "faostat_livestock"
KEY = "stocks"
ID_COLUMNS = ["area_code", "area", "item_code", "item", "element_code", "element", "unit"]
ELEMENT_STOCKS = 5111
UNIT_HEAD = "An"
ZERO_REASON = "zero value (may mean not reported upstream)"

#: FAOSTAT item name -> indicator code
ITEMS: dict[str, str] = {
    "Cattle": "cattle",
    "Sheep": "sheep",
    "Goats": "goats",
    "Horses": "horses",
    "Camels": "camels",
    "Buffalo": "buffalo",
    "Asses": "asses",
    "Mules and hinnies": "mules",
}

#: provider code emitted -> unit
INDICATORS: dict[str, str] = {code: "head" for code in ITEMS.values()}

_YEAR = re.compile(r"^\d{4}$")


def comment_lines(path: Path) -> int:
    """Number of leading ``#`` lines of the (gzip or plain) CSV at ``path``."""
    n = 0
    for line in read_text(path).splitlines():
        if not line.startswith("#"):
            break
        n += 1
    return n


def read(files: Mapping[str, Path], registry: UnitRegistry, log: DropLog, **options: object) -> pd.DataFrame:
    """Read the FAOSTAT stocks file (key ``stocks``) into TIDY rows in head (indicators of ``ITEMS``)."""
    path = file_path(files, KEY, SOURCE)
    raw = read_csv(path, skiprows=comment_lines(path), keep_default_na=False, na_values=[""],
                   dtype={"area": str, "item": str, "element": str, "unit": str})
    require_columns(raw, ID_COLUMNS, path)
    year_cols = [c for c in raw.columns if _YEAR.match(str(c))]
    if not year_cols:
        raise RawFileError(path, "<year>", "one column per year (e.g. '1970')", list(raw.columns)[:10])
    element = numeric(raw["element_code"], path, "element_code")
    sel = raw.loc[(element == ELEMENT_STOCKS) & (raw["unit"].astype(str).str.strip() == UNIT_HEAD)
                  & raw["item"].isin(list(ITEMS))]
    sel = sel.assign(area_code=numeric(sel["area_code"], path, "area_code").astype("Int64").astype(str))
    long = sel.melt(id_vars=["area_code", "item"], value_vars=year_cols, var_name="year",
                    value_name="value")
    long = long.loc[long["value"].notna()]
    # a non-numeric cell makes its column text: name that year column in the error
    for col in year_cols:
        if not pd.api.types.is_numeric_dtype(raw[col]):
            numeric(sel[col], path, col)
    long = long.assign(value=long["value"].astype(float), year=long["year"].astype(int))
    units = map_codes(long["area_code"], registry, "fao")
    kept = split_registry(long, "area_code", units, registry=registry, log=log, source=SOURCE,
                          path=path, aggregate_kind="fao")
    out = pd.DataFrame(
        {
            "unit": kept["unit"],
            "year": kept["year"].astype("Int64"),
            "indicator": kept["item"].map(ITEMS),
            "value": kept["value"],
        }
    )
    zeros = out["value"] == 0
    log_rows(log, SOURCE, path, ZERO_REASON, out.loc[zeros, "unit"] + " " + out.loc[zeros, "indicator"])
    return finish(out, measures=INDICATORS, source=SOURCE, path=path)
