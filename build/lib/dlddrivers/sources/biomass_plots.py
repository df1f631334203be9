"""Field-measured rangeland biomass at Mongolian monitoring plots, aggregated per aimag-year.

File ``plots`` (``mongolia_rangeland_biomass_plots/bm20012020.csv``): one row per plot (1,491),
Latin columns ``AimagName, SoumName, Bagname, PlotName, Longitude, Latitude`` and one column per
year ``2007`` ... ``2020`` (wide). The Mongolian-script columns are corrupted to ``?`` upstream
and are not used. Aimag names are transliterations (``Arhangai``, ``Huvsgul``, ``Zavhan``, ...)
resolved through the unit registry; 9 plots are in Ulaanbaatar (``MN11``).

The unit is not stated upstream; values (median 1.2-2.8, upper quartile 2.7-5.4) are most likely
centners per hectare (1 c/ha = 100 kg/ha) of peak-season above-ground standing biomass.

Screening, every exclusion counted in the drop log:

* rows with an empty ``AimagName`` (3 rows, no soum, plot or coordinates either): not used;
* non-numeric cells (the literal ``no`` in 2008, or any other text): treated as missing;
* empty cells: missing (counted once per file, as information);
* outliers, :data:`OUTLIER_RULE`: a value above :data:`MAX_PLAUSIBLE` (50 c/ha = 5 t/ha, far
  above Mongolian steppe standing biomass; the file holds 96, 1592, 1966, 2822, 3958 next to an
  upper quartile of ~5, probably typing or unit errors) or below 0 is excluded and counted per
  aimag-year (log and ``biomass_outliers_n``).

Indicators per aimag and year (emitted where the aimag has at least one numeric value that year):
``biomass_median`` and ``biomass_mean`` over the plots used (only if ``biomass_plots_n`` > 0),
``biomass_plots_n`` (plots used) and ``biomass_outliers_n`` (plots excluded as outliers).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..contracts import tidy
from ..errors import RawFileError
from ..units import UnitRegistry
from . import DropLog
from ._common import read_csv

SOURCE = "biomass_plots"
FILE_KEY = "plots"
AIMAG_COLUMN = "AimagName"
MEASURE_BIOMASS = "c/ha (unit not stated upstream; probably centners per hectare)"
MEASURE_COUNT = "plots"
INDICATORS: dict[str, str] = {
    "biomass_median": MEASURE_BIOMASS,
    "biomass_mean": MEASURE_BIOMASS,
    "biomass_plots_n": MEASURE_COUNT,
    "biomass_outliers_n": MEASURE_COUNT,
}
#: values above this (c/ha) are implausible for Mongolian rangeland and are excluded
MAX_PLAUSIBLE = 50.0
MIN_PLAUSIBLE = 0.0
OUTLIER_RULE = (f"value > {MAX_PLAUSIBLE:g} or < {MIN_PLAUSIBLE:g} "
                "(implausible for c/ha standing biomass; likely typing or unit error)")
_YEAR_COL = re.compile(r"^(19|20)\d\d$")


def plot_values(files: Mapping[str, Path], registry: UnitRegistry, log: DropLog) -> pd.DataFrame:
    """Long table of numeric plot values: ``unit, plot, year, value, outlier`` (one row per cell).

    ``plot`` is the row number in the file (0-based data row). Rows without an aimag name,
    empty and non-numeric cells are counted in ``log`` and left out.
    """
    path = Path(files[FILE_KEY])
    raw = read_csv(path, dtype=str, keep_default_na=False)
    raw.columns = [c.strip() for c in raw.columns]
    if AIMAG_COLUMN not in raw.columns:
        raise RawFileError(path, AIMAG_COLUMN, f"a column '{AIMAG_COLUMN}'", list(raw.columns))
    years = [c for c in raw.columns if _YEAR_COL.match(c)]
    if not years:
        raise RawFileError(path, "2007 ... 2020", "one column per year (wide)", list(raw.columns))

    name = raw[AIMAG_COLUMN].str.strip()
    no_name = name == ""
    log.add(SOURCE, path, "plot row without aimag name", int(no_name.sum()),
            "data rows " + ", ".join(str(i + 1) for i in np.flatnonzero(no_name.to_numpy())))
    raw = raw.loc[~no_name]
    names = registry.map_names(name.loc[~no_name], "aimag", file=str(path), field=AIMAG_COLUMN)
    unit = name.loc[~no_name].map(names)

    cells = raw[years].apply(lambda s: s.str.strip())
    long = cells.stack()  # index (row, year column)
    long = long.rename("text").reset_index()
    long.columns = ["plot", "year", "text"]
    long["unit"] = unit.reindex(long["plot"]).to_numpy()
    empty = long["text"] == ""
    log.add(SOURCE, path, "empty cell (no measurement)", int(empty.sum()))
    long = long.loc[~empty]
    long["value"] = pd.to_numeric(long["text"], errors="coerce")
    nonnum = long["value"].isna()
    log.add(SOURCE, path, "non-numeric cell treated as missing", int(nonnum.sum()),
            "; ".join(f"{t!r} {u} {y} data row {p + 1}" for t, u, y, p in
                      long.loc[nonnum, ["text", "unit", "year", "plot"]].itertuples(index=False)))
    long = long.loc[~nonnum].copy()
    long["year"] = long["year"].astype(int)
    long["outlier"] = (long["value"] > MAX_PLAUSIBLE) | (long["value"] < MIN_PLAUSIBLE)
    for (u, y), grp in long.loc[long["outlier"]].groupby(["unit", "year"]):
        log.add(SOURCE, path, "outlier excluded", len(grp),
                f"{u} {y}: {OUTLIER_RULE}; values {sorted(grp['value'].tolist())}")
    return long[["unit", "plot", "year", "value", "outlier"]].reset_index(drop=True)


def read(files: Mapping[str, Path], registry: UnitRegistry, log: DropLog, **options: object) -> pd.DataFrame:
    """Aimag-year median, mean, plots used and outliers excluded (tidy)."""
    long = plot_values(files, registry, log)
    used = long.loc[~long["outlier"]]
    g = used.groupby(["unit", "year"])["value"]
    stats = pd.DataFrame({"biomass_median": g.median(), "biomass_mean": g.mean(),
                          "biomass_plots_n": g.size().astype(float)})
    counts = pd.DataFrame({
        "biomass_outliers_n": long.groupby(["unit", "year"])["outlier"].sum().astype(float),
    })
    wide = counts.join(stats, how="left")
    wide["biomass_plots_n"] = wide["biomass_plots_n"].fillna(0.0)
    out = wide.rename_axis(["unit", "year"]).reset_index().melt(
        id_vars=["unit", "year"], var_name="indicator", value_name="value")
    out = out.loc[out["value"].notna()]
    out["measure"] = out["indicator"].map(INDICATORS)
    out["source"] = SOURCE
    return tidy(out.sort_values(["unit", "year", "indicator"]), source=SOURCE)
