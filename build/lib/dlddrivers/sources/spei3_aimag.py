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
from ..units import UnitRegistry
from . import DropLog
from ._common import check_unique, number_cells, read_text_table

SOURCE = "spei3_aimag"
FILE_KEY = "jja"
COLUMNS = ["Aimag", "Year", "JJA_Mean_SPEI3"]
INDICATORS: dict[str, str] = {"spei3_jja": "dimensionless (standardised index)"}


def read(files: Mapping[str, Path], registry: UnitRegistry, log: DropLog, **options: object) -> pd.DataFrame:
    """JJA SPEI-3 per aimag and year (tidy, indicator ``spei3_jja``)."""
    path = Path(files[FILE_KEY])
    df = read_text_table(path, COLUMNS)
    year = number_cells(df["Year"], path, "Year", allow_empty=False)
    value = number_cells(df["JJA_Mean_SPEI3"], path, "JJA_Mean_SPEI3", allow_empty=True)
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
    check_unique(out, ["unit", "year"], path, field="Aimag, Year")
    return tidy(out.sort_values(["unit", "year"]), source=SOURCE)
