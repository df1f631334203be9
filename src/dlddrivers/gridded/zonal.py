"""Zonal aggregation of pixel layers to registry units (aimags, countries).

* :func:`rasterize_units`: which unit each pixel centre falls in, by even-odd scan-line filling
  of the units' polygons (rings from the project's boundary readers), vectorised per grid row
  (no per-pixel loop, no GIS stack). A pixel whose centre is outside every unit is ``-1``.
* :func:`zonal_year_means`: area-weighted mean of a (year, lat, lon) stack per unit and year,
  computed block by block on the dask chunks (memory bounded by the chunk), with the valid area
  and coverage (valid area / unit area on the grid) beside each mean.
* :func:`class_areas`: area (km2) of each class per unit and its share of the unit's assessed
  area (estimand: share of area).
* :func:`unit_summaries`: area-weighted means of 2-D result layers per unit.

Weights are cell areas on the sphere (:func:`dlddrivers.gridded.methods.cell_area_km2`), so a
degree cell at 50 N weighs about 0.64 of one at the equator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd


def rasterize_units(geoms: Mapping[str, list], lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Unit index per pixel (lat, lon) and the unit order.

    ``geoms``: ``{unit: [polygon, ...]}`` with polygon = ``[ring, ...]`` and ring an ``(n, 2)``
    array of lon, lat (the format of :func:`dlddrivers.sources.boundaries_mng.read_geometries`).
    A pixel belongs to a unit when its centre is inside an odd number of the unit's rings
    (holes and multi-part units handled alike); where units overlap the first in sorted order wins.
    """
    lat = np.asarray(lat, dtype=float)
    lon = np.asarray(lon, dtype=float)
    units = sorted(geoms)
    out = np.full((lat.size, lon.size), -1, dtype=np.int32)
    for k, u in enumerate(units):
        rings = [np.asarray(r, dtype=float) for poly in geoms[u] for r in poly]
        if not rings:
            continue
        x1 = np.concatenate([r[:, 0] for r in rings])
        y1 = np.concatenate([r[:, 1] for r in rings])
        x2 = np.concatenate([np.roll(r[:, 0], -1) for r in rings])
        y2 = np.concatenate([np.roll(r[:, 1], -1) for r in rings])
        ymin, ymax = min(y1.min(), y2.min()), max(y1.max(), y2.max())
        rows = np.nonzero((lat >= ymin) & (lat <= ymax))[0]
        for i in rows:
            yc = lat[i]
            # half-open rule: an edge counts when yc is in [min(y1, y2), max(y1, y2))
            hit = (y1 <= yc) != (y2 <= yc)
            if not hit.any():
                continue
            xa, ya, xb, yb = x1[hit], y1[hit], x2[hit], y2[hit]
            xs = np.sort(xa + (yc - ya) * (xb - xa) / (yb - ya))
            # pixels whose centre lies between crossing 2j and 2j+1 are inside
            cnt = np.searchsorted(xs, lon, side="right")
            inside = (cnt % 2 == 1) & (out[i] < 0)
            out[i, inside] = k
    return out, units


def _block_sums(block: np.ndarray, zone: np.ndarray, w: np.ndarray, nz: int) -> np.ndarray:
    """(T, nz, 2): sums of w*value and of w over valid pixels, per year and unit."""
    T = block.shape[0]
    z = zone.ravel()
    inz = z >= 0
    zz = z[inz]
    ww = w.ravel()[inz]
    out = np.zeros((T, nz, 2))
    for t in range(T):
        v = np.asarray(block[t], dtype=np.float64).ravel()[inz]
        ok = np.isfinite(v)
        out[t, :, 0] = np.bincount(zz[ok], weights=ww[ok] * v[ok], minlength=nz)
        out[t, :, 1] = np.bincount(zz[ok], weights=ww[ok], minlength=nz)
    return out


def zonal_block_parts_delayed(stack, zone: np.ndarray, area: np.ndarray, nz: int,
                              offset: tuple[int, int] = (0, 0)) -> list[tuple[tuple[int, int], object]]:
    """Per-block ``dask.delayed`` (T, nz, 2) weighted sums of a (year, lat, lon) DataArray,
    each keyed by the global (row, column) of the block's first pixel (``offset`` is the
    position of ``stack`` in the study grid, for a tile). Blocks without a zone pixel are
    skipped (they add nothing). :func:`combine_block_parts` adds them up in key order, so a
    study split into tiles along block boundaries sums exactly the same parts in the same
    order as the whole study."""
    import dask

    arr = stack.data
    if not hasattr(arr, "to_delayed"):
        return [(tuple(offset), dask.delayed(_block_sums)(np.asarray(arr), zone, area, nz))]
    blocks = arr.to_delayed()
    ych = np.cumsum((0,) + arr.chunks[1])
    xch = np.cumsum((0,) + arr.chunks[2])
    parts = []
    for bi in range(blocks.shape[1]):
        for bj in range(blocks.shape[2]):
            ys, xs = slice(ych[bi], ych[bi + 1]), slice(xch[bj], xch[bj + 1])
            zb = zone[ys, xs]
            if not (zb >= 0).any():
                continue
            key = (int(offset[0] + ych[bi]), int(offset[1] + xch[bj]))
            parts.append((key, dask.delayed(_block_sums)(blocks[0, bi, bj], zb, area[ys, xs], nz)))
    return parts


def combine_block_parts(parts, n_years: int, nz: int) -> np.ndarray:
    """(T, nz, 2) sum of keyed block parts (``[(key, array)]``), added in key order."""
    ps = [a for _, a in sorted(parts, key=lambda kv: tuple(kv[0]))]
    return np.sum(ps, axis=0) if ps else np.zeros((n_years, nz, 2))


def zonal_year_sums_delayed(stack, zone: np.ndarray, area: np.ndarray, nz: int):
    """A ``dask.delayed`` (T, nz, 2) array of per-unit weighted sums of a dask-backed (year, lat,
    lon) DataArray, reduced block by block (compute it together with other results so the stack
    is read once)."""
    import dask

    parts = zonal_block_parts_delayed(stack, zone, area, nz)
    keys = [k for k, _ in parts]
    T = stack.shape[0]
    return dask.delayed(lambda ps: combine_block_parts(list(zip(keys, ps, strict=True)), T, nz))(
        [p for _, p in parts])


def year_means_table(sums: np.ndarray, years: Sequence[int], units: Sequence[str],
                     unit_area: np.ndarray, indicator: str) -> pd.DataFrame:
    """Long table ``unit, year, indicator, value, valid_area_km2, coverage`` from (T, nz, 2)
    sums; a unit-year with no valid pixel has an empty value and coverage 0."""
    rows = []
    for t, y in enumerate(years):
        for k, u in enumerate(units):
            sw = sums[t, k, 1]
            rows.append({"unit": u, "year": int(y), "indicator": indicator,
                         "value": sums[t, k, 0] / sw if sw > 0 else np.nan,
                         "valid_area_km2": sw,
                         "coverage": sw / unit_area[k] if unit_area[k] > 0 else 0.0})
    return pd.DataFrame(rows)


def unit_grid_area(zone: np.ndarray, area: np.ndarray, nz: int) -> np.ndarray:
    """Area (km2) of each unit on the grid (sum of the areas of its pixels)."""
    inz = zone >= 0
    return np.bincount(zone[inz], weights=area[inz], minlength=nz)


def class_areas(cls: np.ndarray, zone: np.ndarray, area: np.ndarray, units: Sequence[str],
                labels: Mapping[int, str], scheme: str, exclude: Sequence[int] = ()) -> pd.DataFrame:
    """Area per unit and class; ``share`` is of the unit's assessed area (classes in
    ``exclude``, e.g. "insufficient data", and NaN are not assessed and are reported in
    ``not_assessed_km2``)."""
    c = np.asarray(cls, dtype=float)
    rows = []
    for k, u in enumerate(units):
        sel = zone == k
        ua = area[sel]
        uc = c[sel]
        assessed = np.isfinite(uc) & ~np.isin(uc, list(exclude))
        tot = float(ua[assessed].sum())
        for code, label in labels.items():
            a = float(ua[uc == code].sum())
            rows.append({"unit": u, "scheme": scheme, "class": int(code), "label": label,
                         "area_km2": a, "share": a / tot if (tot > 0 and code not in exclude) else np.nan,
                         "assessed_km2": tot, "not_assessed_km2": float(ua[~assessed].sum()),
                         "n_pixels": int((uc == code).sum()), "estimand": "share of area"})
    return pd.DataFrame(rows)


def unit_summaries(layers: Mapping[str, np.ndarray], zone: np.ndarray, area: np.ndarray,
                   units: Sequence[str]) -> pd.DataFrame:
    """Area-weighted mean of each 2-D layer per unit, with the valid pixel count and area."""
    rows = []
    for name, arr in layers.items():
        a = np.asarray(arr, dtype=float)
        for k, u in enumerate(units):
            sel = (zone == k) & np.isfinite(a)
            w = area[sel]
            rows.append({"unit": u, "layer": name,
                         "mean": float((a[sel] * w).sum() / w.sum()) if w.sum() > 0 else np.nan,
                         "n_pixels": int(sel.sum()), "valid_area_km2": float(w.sum())})
    return pd.DataFrame(rows)
