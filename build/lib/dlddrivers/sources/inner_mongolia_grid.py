"""Inner Mongolia NDVI change and its candidate drivers on grid cells (GD R package data).

Files ``ndvi_<k>`` (``inner_mongolia_ndvi_grid/ndvi_<k>.rda``, ``k`` = 5, 10, 20, 30, 40, 50 km
cells): one R data frame each, one row per grid cell, columns ``NDVIchange, Climatezone,
Mining, Tempchange, Precipitation, GDP, Popdensity`` (Song, Wang, Ge and Xu 2020, GIScience &
Remote Sensing 57:593-610; GD package ``R/data.R``). The data are cross-sectional (NDVI change
2010-2014), so ``year`` is null in the tidy output.

Cells are not listed in the unit registry one by one: the registry declares the grid region
(``grids:`` in ``config/units.yaml``, here ``IM``) and its cell sizes, and the reader generates
the cell ids ``<region>_<k>km_<row>`` (row = the R row name, 1-based, zero-padded to 5 digits).

Categorical columns are emitted as class codes 1..K in the fixed order below (the catalogue
declares the same labels in ``categories``): climate zone in Köppen-Geiger code order, mining
intensity from very low to very high (an R factor whose levels are ordered in meaning). An
unknown label, a missing value, a non-numeric cell or a missing column raises
:class:`~dlddrivers.errors.RawFileError` naming the file and the field. Units are not documented
upstream: every measure says "as provided by the GD package".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..contracts import tidy
from ..errors import ConfigError, RawFileError
from ..units import UnitRegistry
from . import DropLog

SOURCE = "inner_mongolia_ndvi_grid"
#: Grid region id in the unit registry (``grids:``).
REGION = "IM"
AS_PROVIDED = "as provided by the GD package (unit not documented)"
#: Provider column -> measure.
INDICATORS: dict[str, str] = {
    "NDVIchange": "NDVI difference 2014 minus 2010 (unitless; " + AS_PROVIDED + ")",
    "Climatezone": "class code (Koppen-Geiger zone; categories in the catalogue)",
    "Mining": "class code (mining intensity, 1 = very low ... 5 = very high)",
    "Tempchange": "temperature change, " + AS_PROVIDED,
    "Precipitation": "precipitation, " + AS_PROVIDED + "; values consistent with annual mm",
    "GDP": "GDP density, " + AS_PROVIDED,
    "Popdensity": "population density, " + AS_PROVIDED,
}
#: Class labels of the categorical columns, in code order (code = position + 1).
CATEGORIES: dict[str, list[str]] = {
    "Climatezone": ["Bsk", "Bwk", "Dwa", "Dwb", "Dwc"],
    "Mining": ["very low", "low", "medium", "high", "very high"],
}
_KEY = re.compile(r"^ndvi_(\d+)$")


def cell_km(file_key: str) -> int:
    """The cell size in km encoded in a file key ``ndvi_<k>``."""
    m = _KEY.match(str(file_key))
    if not m:
        raise ConfigError(f"sources.{SOURCE}.files", file_key, "a file key 'ndvi_<cell size in km>'")
    return int(m.group(1))


def cell_ids(region: str, km: int, rows: pd.Index | np.ndarray) -> np.ndarray:
    """Unit ids ``<region>_<km>km_<row>`` for the given 1-based row names."""
    return np.array([f"{region}_{km}km_{int(r):05d}" for r in rows], dtype=object)


def read_frame(path: str | Path) -> pd.DataFrame:
    """The one data frame of an ``.rda`` file, with its columns checked (errors name the file)."""
    import pyreadr

    path = Path(path)
    if not path.exists():
        raise RawFileError(path, None, "an existing R data file")
    try:
        res = pyreadr.read_r(str(path))
    except Exception as exc:  # pyreadr raises its own LibrdataError / PyreadrError types
        raise RawFileError(path, None, "an R data file readable by pyreadr", str(exc)[:200]) from exc
    if len(res) != 1:
        raise RawFileError(path, None, "exactly one data frame", sorted(res))
    df = next(iter(res.values()))
    for col in INDICATORS:
        if col not in df.columns:
            raise RawFileError(path, col, f"a column '{col}'", list(df.columns))
    return df


def _codes(values: pd.Series, labels: list[str], path: Path, field: str) -> np.ndarray:
    s = values.astype(object)
    if s.isna().any():
        i = int(np.flatnonzero(s.isna().to_numpy())[0])
        raise RawFileError(path, field, f"one of {labels}", f"a missing value on row {i + 1}")
    text = s.astype(str).str.strip()
    pos = {lab: k + 1 for k, lab in enumerate(labels)}
    bad = ~text.isin(list(pos))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise RawFileError(path, field, f"one of {labels}", f"{text.iloc[i]!r} on row {i + 1}")
    return text.map(pos).to_numpy(float)


def read(files: Mapping[str, Path], registry: UnitRegistry, log: DropLog,
         region: str = REGION, **options: object) -> pd.DataFrame:
    """All grid files given, as one tidy table (unit = cell id, year null, indicator = column).

    ``files`` maps ``ndvi_<k>`` keys to paths; the region must be a grid of the registry and
    ``k`` one of its cell sizes.
    """
    grids = getattr(registry, "grids", {}) or {}
    if region not in grids:
        raise ConfigError("grids", region, f"a grid region of the unit registry {registry.path}")
    sizes = list(grids[region].get("cell_sizes_km", []))
    frames = []
    for key, path in files.items():
        km = cell_km(key)
        if km not in sizes:
            raise ConfigError(f"sources.{SOURCE}.files.{key}", km,
                              f"a cell size of grid '{region}' in {registry.path} ({sizes})")
        path = Path(path)
        df = read_frame(path)
        try:
            rows = pd.Index(df.index.astype(int))
        except (TypeError, ValueError) as exc:
            raise RawFileError(path, "rownames", "integer row names", df.index[:3].tolist()) from exc
        if rows.has_duplicates:
            raise RawFileError(path, "rownames", "one row per cell", rows[rows.duplicated()][0])
        units = cell_ids(region, km, rows)
        for col, measure in INDICATORS.items():
            if col in CATEGORIES:
                value = _codes(df[col], CATEGORIES[col], path, col)
            else:
                v = pd.to_numeric(df[col], errors="coerce")
                bad = v.isna() & df[col].notna()
                if bad.any():
                    i = int(np.flatnonzero(bad.to_numpy())[0])
                    raise RawFileError(path, col, "a number", f"{df[col].iloc[i]!r} on row {i + 1}")
                value = v.to_numpy(float)
            missing = np.isnan(value)
            log.add(SOURCE, path, "missing value", int(missing.sum()), col)
            frames.append(pd.DataFrame({
                "unit": units[~missing], "year": pd.array([pd.NA] * int((~missing).sum()), "Int64"),
                "indicator": col, "value": value[~missing], "measure": measure, "source": SOURCE,
            }))
    if not frames:
        raise ConfigError(f"sources.{SOURCE}.files", sorted(files), "at least one ndvi_<k> file")
    out = pd.concat(frames, ignore_index=True)
    return tidy(out, source=SOURCE)
