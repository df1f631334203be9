"""Summer (JJA) SPEI-3 per Mongolian aimag (ERA5-Drought), 1950-2024.

File ``jja`` (``spei3_mongolia_aimag/spei3_jja_aimag_1950_2024.csv``), columns
``Aimag, Year, JJA_Mean_SPEI3``: the mean of the June, July and August SPEI-3 values, area-weighted
over each aimag polygon by the upstream authors. 21 aimags (no Ulaanbaatar), spelled as in the NSO
livestock file. Indicator ``spei3_jja`` (dimensionless; negative = drier than normal). An empty
value cell is counted in the log and not emitted.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ..contracts import tidy
from ..errors import RawFileError
from ..units import UnitRegistry
from . import DropLog

SOURCE = "spei3_aimag"
FILE_KEY = "jja"
COLUMNS = ["Aimag", "Year", "JJA_Mean_SPEI3"]
INDICATORS: dict[str, str] = {"spei3_jja": "dimensionless (standardised index)"}


def _numeric(df: pd.DataFrame, col: str, path: Path, *, allow_empty: bool) -> pd.Series:
    """``df[col]`` as numbers; a non-empty unparsable cell raises naming file and field."""
    s = df[col].str.strip()
    num = pd.to_numeric(s, errors="coerce")
    bad = num.isna() & ((s != "") | (not allow_empty))
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise RawFileError(path, col, "a number", f"{s.iloc[i]!r} on data row {i + 1}")
    return num


def read(files: Mapping[str, Path], registry: UnitRegistry, log: DropLog, **options: object) -> pd.DataFrame:
    """JJA SPEI-3 per aimag and year (tidy, indicator ``spei3_jja``)."""
    path = Path(files[FILE_KEY])
    if not path.exists():
        raise RawFileError(path, None, "an existing file")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df.columns = [c.strip() for c in df.columns]
    for col in COLUMNS:
        if col not in df.columns:
            raise RawFileError(path, col, f"a column '{col}' (columns {COLUMNS})", list(df.columns))
    year = _numeric(df, "Year", path, allow_empty=False)
    value = _numeric(df, "JJA_Mean_SPEI3", path, allow_empty=True)
    names = registry.map_names(df["Aimag"].str.strip(), "aimag", file=str(path), field="Aimag")
    empty = value.isna()
    log.add(SOURCE, path, "empty value", int(empty.sum()))
    out = pd.DataFrame(
        {
            "unit": df["Aimag"].str.strip().map(names),
            "year": year.astype("Int64"),
            "indicator": "spei3_jja",
            "value": value.astype(float),
            "measure": INDICATORS["spei3_jja"],
            "source": SOURCE,
        }
    ).loc[~empty]
    dup = out.duplicated(["unit", "year"])
    if dup.any():
        raise RawFileError(path, "Aimag, Year", "one row per aimag and year",
                           out.loc[dup, ["unit", "year"]].iloc[0].tolist())
    return tidy(out.sort_values(["unit", "year"]), source=SOURCE)
