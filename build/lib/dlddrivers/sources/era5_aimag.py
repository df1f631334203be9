"""ERA5 seasonal mean 2 m temperature per Mongolian aimag, °C, 1970-2025.

File ``seasonal`` (``era5_temperature_mongolia_aimag/era5_seasonal_temperature_aimag.csv``),
long format ``Aimag, Year, Season, Seasonal_Temp_C`` with ``Season`` in DJF, MAM, JJA, SON.

Conventions and exclusions:

* **DJF is labelled by the year of its January** (DJF 2010 = Dec 2009 + Jan-Feb 2010), as
  upstream. It is kept: ``t2m_djf`` of year t is the winter that *ends* in year t, i.e. the winter
  that precedes the spring and summer of year t and follows the December livestock census of
  year t - 1; its January-February falls in the loss year t of the mortality rates (the 2009/10
  dzud winter is DJF 2010, and its losses are mortality 2010).
* ``DJF 2026`` rests on the newest ERA5 months at download time and may be incomplete: it is
  dropped and counted (:data:`INCOMPLETE`).
* option ``drop_after: int | None``: drop (and count) every value of a later year, e.g.
  ``drop_after=2024`` to leave out the provisional 2025 seasons.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ..contracts import tidy
from ..errors import ConfigError, RawFileError
from ..units import UnitRegistry
from . import DropLog
from ._common import check_unique, number_cells, read_text_table

SOURCE = "era5_aimag"
FILE_KEY = "seasonal"
COLUMNS = ["Aimag", "Year", "Season", "Seasonal_Temp_C"]
SEASONS = {"DJF": "t2m_djf", "MAM": "t2m_mam", "JJA": "t2m_jja", "SON": "t2m_son"}
INDICATORS: dict[str, str] = {code: "°C" for code in SEASONS.values()}
#: (season, year) known to be incomplete upstream: always dropped and counted.
INCOMPLETE: tuple[tuple[str, int], ...] = (("DJF", 2026),)


def read(files: Mapping[str, Path], registry: UnitRegistry, log: DropLog, *,
         drop_after: int | None = None, **options: object) -> pd.DataFrame:
    """Seasonal 2 m temperature per aimag and year (tidy, ``t2m_djf`` ... ``t2m_son``)."""
    if drop_after is not None and (isinstance(drop_after, bool) or not isinstance(drop_after, int)):
        raise ConfigError("era5_aimag.drop_after", drop_after, "a year (int) or null")
    path = Path(files[FILE_KEY])
    df = read_text_table(path, COLUMNS)
    df["Season"] = df["Season"].str.strip()
    bad_season = sorted(set(df["Season"]) - set(SEASONS))
    if bad_season:
        raise RawFileError(path, "Season", f"one of {list(SEASONS)}", bad_season)
    year = number_cells(df["Year"], path, "Year", allow_empty=False).astype(int)
    value = number_cells(df["Seasonal_Temp_C"], path, "Seasonal_Temp_C", allow_empty=True)
    names = registry.map_names(df["Aimag"].str.strip(), "aimag", file=str(path), field="Aimag")

    keep = pd.Series(True, index=df.index)
    for season, yr in INCOMPLETE:
        hit = (df["Season"] == season) & (year == yr)
        log.add(SOURCE, path, "incomplete upstream season", int(hit.sum()), f"{season} {yr}")
        keep &= ~hit
    if drop_after is not None:
        late = keep & (year > drop_after)
        log.add(SOURCE, path, "provisional year dropped (drop_after)", int(late.sum()),
                f"years > {drop_after}")
        keep &= ~late
    empty = keep & value.isna()
    log.add(SOURCE, path, "empty value", int(empty.sum()))
    keep &= ~empty

    out = pd.DataFrame(
        {
            "unit": df["Aimag"].str.strip().map(names),
            "year": year,
            "indicator": df["Season"].map(SEASONS),
            "value": value.astype(float),
            "measure": "°C",
            "source": SOURCE,
        }
    ).loc[keep]
    check_unique(out, ["unit", "year", "indicator"], path, field="Aimag, Year, Season")
    return tidy(out.sort_values(["unit", "year", "indicator"]), source=SOURCE)
