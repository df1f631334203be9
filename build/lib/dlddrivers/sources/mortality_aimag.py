"""NSO Mongolia adult livestock mortality rate per aimag and species, 1992-2024.

File ``rates`` (``mongolia_livestock_mortality_aimag/mortality_rates_aimag.csv``), one row per
aimag-year: ``Aimag, Year, Mort_hor, Mort_cat, Mort_cam, Mort_sheep, Mort_goat, All_SFU, All``.

* A rate is the adult losses of calendar year t as a fraction of the December census stock of
  year t - 1 (``SOURCE.md`` checks: ``All_SFU`` is reproduced only with year t - 1 stocks). So
  deaths = rate(t) x stock(t - 1), with the stock from :mod:`dlddrivers.sources.nso_livestock`.
* ``mort_sfu`` (from ``All_SFU``) is the sheep-forage-unit weighted all-species rate (prefer it);
  ``mort_all`` (from ``All``) the plain mean of the available species rates (noisy: tiny camel
  herds weigh as much as sheep).
* Empty cells (17 ``Mort_cam`` cells: no camels in the previous year) are absent, not zero: not
  emitted, counted in the log per column.
* Small-herd artefacts (e.g. camel 0.77 Bulgan 1996) are kept as published.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ..contracts import tidy
from ..errors import RawFileError
from ..units import UnitRegistry
from . import DropLog
from ._common import check_unique, number_cells, read_text_table

SOURCE = "mortality_aimag"
FILE_KEY = "rates"
MEASURE = "fraction of previous December stock"
#: provider column -> indicator code
COLUMN_CODES = {
    "Mort_hor": "mort_horse",
    "Mort_cat": "mort_cattle",
    "Mort_cam": "mort_camel",
    "Mort_sheep": "mort_sheep",
    "Mort_goat": "mort_goat",
    "All_SFU": "mort_sfu",
    "All": "mort_all",
}
INDICATORS: dict[str, str] = {code: MEASURE for code in COLUMN_CODES.values()}
#: indicator code -> species indicator of :mod:`nso_livestock` (for recovering deaths)
SPECIES_OF = {"mort_horse": "horse", "mort_cattle": "cattle", "mort_camel": "camel",
              "mort_sheep": "sheep", "mort_goat": "goat"}


def read(files: Mapping[str, Path], registry: UnitRegistry, log: DropLog, **options: object) -> pd.DataFrame:
    """Mortality rates per aimag, year and species (tidy, ``mort_*``)."""
    path = Path(files[FILE_KEY])
    needed = ["Aimag", "Year", *COLUMN_CODES]
    df = read_text_table(path, needed)
    df = df[needed].apply(lambda s: s.str.strip())
    year = pd.to_numeric(df["Year"], errors="coerce")
    if year.isna().any() or (year % 1 != 0).any():
        i = int((year.isna() | (year % 1 != 0)).to_numpy().nonzero()[0][0])
        raise RawFileError(path, "Year", "a whole year", f"{df['Year'].iloc[i]!r} on data row {i + 1}")
    names = registry.map_names(df["Aimag"], "aimag", file=str(path), field="Aimag")

    parts = []
    for col, code in COLUMN_CODES.items():
        num = number_cells(df[col], path, col, allow_empty=True,
                           expected="a number (fraction) or an empty cell")
        neg = num < 0
        if neg.any():
            raise RawFileError(path, col, "a rate >= 0", num[neg].iloc[0])
        empty = num.isna()
        log.add(SOURCE, path, "empty cell (absent, e.g. no animals in the previous year)",
                int(empty.sum()),
                f"{col}: " + ", ".join(f"{a} {y}" for a, y in zip(df.loc[empty, 'Aimag'],
                                                                  df.loc[empty, 'Year'], strict=True)))
        parts.append(pd.DataFrame({
            "unit": df["Aimag"].map(names), "year": year.astype(int), "indicator": code,
            "value": num.astype(float), "measure": MEASURE, "source": SOURCE,
        }).loc[~empty])
    out = pd.concat(parts, ignore_index=True)
    check_unique(out, ["unit", "year", "indicator"], path, field="Aimag, Year")
    return tidy(out.sort_values(["unit", "year", "indicator"]), source=SOURCE)
