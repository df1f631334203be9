"""GIS output: per-unit results as GeoPackage layers (aimag or country polygons + result columns).

Every per-unit result that a map draws is also written as one layer of ``<study>.gpkg`` in the
study's ``maps/`` folder, so analysts can open it in QGIS. The geometry comes from the boundary
files the maps use (lon/lat, EPSG:4326): aimag polygons as they are; a country as the union of
its sub-national polygons. A unit without a boundary file keeps its row with an empty geometry
(GeoPackage allows it) and a ``geometry_note`` saying so, so no result is dropped. The columns
are the table's own (the layer is a copy of table rows, never a recomputation).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

Geometry = list[list[np.ndarray]]


def shapely_geometry(geom: Geometry):
    """A shapely (Multi)Polygon from ``[[outer, hole, ...], ...]`` lon/lat rings."""
    from shapely.geometry import MultiPolygon, Polygon
    from shapely.validation import make_valid

    polys = [Polygon(p[0], p[1:]) for p in geom if len(p) and len(p[0]) >= 4]
    g = polys[0] if len(polys) == 1 else MultiPolygon(polys)
    return g if g.is_valid else make_valid(g)


def unit_geometries(geoms: Mapping[str, Geometry]) -> dict[str, object]:
    """Shapely geometry per unit."""
    return {u: shapely_geometry(g) for u, g in geoms.items()}


def country_geometries(by_country: Mapping[str, Mapping[str, Geometry]],
                       leave_out: Mapping[str, set[str]] | None = None) -> dict[str, object]:
    """One geometry per country: the union of its sub-national features (features listed in
    ``leave_out[iso]`` are left out, e.g. parts outside the statistical unit)."""
    from shapely import union_all

    out = {}
    for iso, feats in by_country.items():
        skip = (leave_out or {}).get(iso, set())
        out[iso] = union_all([shapely_geometry(g) for c, g in feats.items() if c not in skip])
    return out


def layer_frame(table: pd.DataFrame, geometries: Mapping[str, object], names: Mapping[str, str],
                unit_col: str = "unit"):
    """A GeoDataFrame of ``table`` (every row kept) with ``unit_name`` and the unit's geometry;
    rows of units without a geometry get an empty one and a ``geometry_note``."""
    import geopandas as gpd

    t = table.reset_index(drop=True).copy()
    units = t[unit_col].astype(str)
    t.insert(t.columns.get_loc(unit_col) + 1, "unit_name", units.map(lambda u: names.get(u, u)))
    t["geometry_note"] = np.where(units.isin(list(geometries)), "", "no boundary file for this unit")
    geom = [geometries.get(u) for u in units]
    # object columns holding mixed types are written as text (GeoPackage needs one type per column)
    for c in t.columns:
        if t[c].dtype == object:
            t[c] = t[c].map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    return gpd.GeoDataFrame(t, geometry=geom, crs="EPSG:4326")


def write_layers(path: str | Path, layers: Mapping[str, object]) -> Path:
    """Write GeoDataFrames as layers of one GeoPackage (replaced if it exists); returns its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    for name, gdf in layers.items():
        gdf.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
    return path


__all__ = ["shapely_geometry", "unit_geometries", "country_geometries", "layer_frame", "write_layers"]
