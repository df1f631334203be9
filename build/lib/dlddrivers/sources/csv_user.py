"""A user's own indicator file: ``unit,year,value`` (CSV).

File key ``data``. Options:

* ``indicator`` (required): the indicator code to emit;
* ``measure`` (required): the measurement unit, e.g. ``"km2"``, ``"head per km2"``;
* ``level`` (default ``"aimag"``): the registry level of the units (``country`` or ``aimag``);
* ``source`` (default ``"csv_user"``): the source name written to the ``source`` column.

``unit`` is a registry id of that level (``MN65``, ``MNG``) or any name the registry lists for it
(``Arkhangai``, ``Arxangai``, ``Mongolia``); an unknown unit raises
:class:`~dlddrivers.errors.UnknownUnitError` naming it and the file. ``year`` is a whole year, or
empty for a time-invariant attribute. ``value`` is a number; an empty value is counted in the log
and not emitted; any other text raises :class:`~dlddrivers.errors.RawFileError`. A unit-year given
twice raises. Extra columns are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ..contracts import tidy
from ..errors import ConfigError, RawFileError
from ..units import LEVELS, UnitRegistry
from . import DropLog
from ._common import check_unique, read_csv

SOURCE = "csv_user"
FILE_KEY = "data"
COLUMNS = ["unit", "year", "value"]
#: the indicator and measure come from the options; nothing is fixed in advance
INDICATORS: dict[str, str] = {}


def _resolve(value: str, registry: UnitRegistry, level: str, path: Path) -> str:
    ids = set(registry.ids(level))
    if value in ids:
        return value
    if value.upper() in ids:
        return value.upper()
    return registry.by_name(value, level, file=str(path), field="unit")  # raises if unknown


def read(files: Mapping[str, Path], registry: UnitRegistry, log: DropLog, *,
         indicator: str | None = None, measure: str | None = None, level: str = "aimag",
         source: str = SOURCE, **options: object) -> pd.DataFrame:
    """The user's file as a tidy table with one indicator."""
    if not indicator or not isinstance(indicator, str):
        raise ConfigError("csv_user.indicator", indicator, "an indicator code (non-empty string)")
    if not measure or not isinstance(measure, str):
        raise ConfigError("csv_user.measure", measure, "a measurement unit (non-empty string)")
    if level not in LEVELS:
        raise ConfigError("csv_user.level", level, f"one of {list(LEVELS)}")
    if FILE_KEY not in files:
        raise ConfigError("csv_user.files", sorted(files), f"a file under key '{FILE_KEY}'")
    path = Path(files[FILE_KEY])
    # a user's file may lack the final line end; everything else goes through the shared checks
    df = read_csv(path, final_newline=False, dtype=str, keep_default_na=False, skipinitialspace=True)
    df.columns = [str(c).strip().lower() for c in df.columns]
    for col in COLUMNS:
        if col not in df.columns:
            raise RawFileError(path, col, f"a column '{col}' (columns {COLUMNS})", list(df.columns))
    df = df[COLUMNS].apply(lambda s: s.str.strip())

    if (df["unit"] == "").any():
        i = int((df["unit"] == "").to_numpy().nonzero()[0][0])
        raise RawFileError(path, "unit", "a unit id or name", f"empty on data row {i + 1}")
    mapping = {u: _resolve(u, registry, level, path) for u in sorted(set(df["unit"]))}

    year = pd.to_numeric(df["year"], errors="coerce")
    bad_year = (df["year"] != "") & (year.isna() | (year % 1 != 0) | (year < 1800) | (year > 2100))
    if bad_year.any():
        i = int(bad_year.to_numpy().nonzero()[0][0])
        raise RawFileError(path, "year", "a whole year 1800-2100 or an empty cell",
                           f"{df['year'].iloc[i]!r} on data row {i + 1}")
    value = pd.to_numeric(df["value"], errors="coerce")
    bad_value = (df["value"] != "") & value.isna()
    if bad_value.any():
        i = int(bad_value.to_numpy().nonzero()[0][0])
        raise RawFileError(path, "value", "a number or an empty cell",
                           f"{df['value'].iloc[i]!r} on data row {i + 1}")
    empty = df["value"] == ""
    log.add(source, path, "empty value", int(empty.sum()))

    out = pd.DataFrame({
        "unit": df["unit"].map(mapping),
        "year": year.astype("Int64"),
        "indicator": indicator,
        "value": value.astype(float),
        "measure": measure,
        "source": source,
    }).loc[~empty]
    check_unique(out, ["unit", "year"], path)
    return tidy(out.sort_values(["unit", "year"]), source=source)
