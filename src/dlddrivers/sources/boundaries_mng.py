"""Mongolian aimag boundaries (OCHA COD-AB, source NSO): polygons and areas.

File ``adm1`` (``ocha_cod_ab/mng_admbnda_adm1_nso_v3.geojson``): 22 features (21 aimags and
Ulaanbaatar), ``MultiPolygon`` (or ``Polygon``) in lon/lat WGS84; ``ADM1_PCODE`` is the NSO aimag
code, resolved with ``registry.by_code("nso", ...)`` (an unknown code raises).

**Area method: WGS84 ellipsoid, exact for the polygon drawn in an equal-area projection.**
Each vertex latitude φ is converted to its authalic latitude β (the latitude on the sphere of
equal surface, radius ``R_q``), and each ring's area is computed with the cylindrical equal-area
trapezoid sum ``A = R_q² / 2 · |Σ (λ₂ − λ₁)(sin β₁ + sin β₂)|`` (λ in radians). This is the
ring-area formula of d3/turf with the authalic transform in place of the plain latitude; it is
the exact ellipsoidal area of the polygon whose edges are straight lines in the Lambert
cylindrical equal-area projection, which for these densely digitised boundaries (~76k vertices)
differs negligibly from geodesic edges. Holes (inner rings) are subtracted; parts of a
``MultiPolygon`` are added. :func:`ring_area_sphere` (authalic radius 6,371,007.2 m, no
transform) is kept for comparison; it gives areas about 0.2-0.3 % smaller at Mongolian latitudes.

Indicator ``area_km2`` with a null year (time-invariant attribute).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..contracts import tidy
from ..errors import RawFileError
from ..units import UnitRegistry
from . import DropLog
from .boundaries import feature_code, load_features, polygons, read_features

SOURCE = "boundaries_mng"
FILE_KEY = "adm1"
CODE_FIELD = "ADM1_PCODE"
MEASURE = "km2 (WGS84 ellipsoidal area, authalic-latitude equal-area method)"
INDICATORS: dict[str, str] = {"area_km2": MEASURE}

#: WGS84 semi-major axis (m) and flattening
WGS84_A = 6378137.0
WGS84_F = 1 / 298.257223563
#: authalic (equal-area) sphere radius of WGS84, m (as in d3/turf)
AUTHALIC_RADIUS = 6371007.2

Ring = np.ndarray  # (n, 2) array of lon, lat in degrees; first ring of a polygon = outer


def _q(sin_phi: np.ndarray, e: float) -> np.ndarray:
    """The authalic ``q`` function of the ellipsoid (Snyder 1987, eq. 3-12)."""
    es = e * sin_phi
    return (1 - e * e) * (sin_phi / (1 - es * es) - np.log((1 - es) / (1 + es)) / (2 * e))


_E = float(np.sqrt(WGS84_F * (2 - WGS84_F)))
_QP = float(_q(np.array(1.0), _E))
#: radius of the sphere with the area of the WGS84 ellipsoid, m (6,371,007.18...)
R_Q = WGS84_A * np.sqrt(_QP / 2)


def authalic_sin(lat_deg: np.ndarray) -> np.ndarray:
    """sin of the authalic latitude for geodetic latitudes (degrees) on WGS84."""
    return _q(np.sin(np.radians(lat_deg)), _E) / _QP


def _trapezoid(lon_deg: np.ndarray, s: np.ndarray) -> float:
    """|Σ (λ₂ − λ₁)(s₁ + s₂)| / 2 over a ring (closed or not), λ in radians."""
    lam = np.radians(lon_deg)
    lam2, s2 = np.roll(lam, -1), np.roll(s, -1)
    return abs(float(np.sum((lam2 - lam) * (s + s2)))) / 2


def ring_area_ellipsoid(ring: Ring) -> float:
    """Area (m²) of one ring on the WGS84 ellipsoid (authalic-latitude method)."""
    ring = np.asarray(ring, dtype=float)
    return R_Q**2 * _trapezoid(ring[:, 0], authalic_sin(ring[:, 1]))


def ring_area_sphere(ring: Ring, radius: float = AUTHALIC_RADIUS) -> float:
    """Area (m²) of one ring on a sphere (the d3/turf ring-area formula)."""
    ring = np.asarray(ring, dtype=float)
    return radius**2 * _trapezoid(ring[:, 0], np.sin(np.radians(ring[:, 1])))


def polygons_area(polygons: list[list[Ring]], ring_area=ring_area_ellipsoid) -> float:
    """Area (m²) of a multipolygon: outer rings minus holes, summed over parts."""
    total = 0.0
    for rings in polygons:
        if not rings:
            continue
        total += ring_area(rings[0]) - sum(ring_area(h) for h in rings[1:])
    return total


def _features(path: Path, registry: UnitRegistry) -> list[tuple[str, list[list[Ring]]]]:
    out = []
    seen: set[str] = set()
    for i, f in enumerate(load_features(path)):
        code = feature_code(f, CODE_FIELD, path, i)
        unit = registry.by_code("nso", code, file=str(path), field=CODE_FIELD, strict=True)
        if unit in seen:
            raise RawFileError(path, CODE_FIELD, "one feature per aimag", code)
        seen.add(unit)
        out.append((unit, polygons(f.get("geometry"), path, code)))
    return out


def read_geometries(path: str | Path, registry: UnitRegistry | None = None) -> dict[str, list[list[Ring]]]:
    """Polygons per unit id: ``{unit: [polygon, ...]}``, polygon = ``[outer, hole, ...]``.

    Each ring is an ``(n, 2)`` numpy array of lon, lat (degrees, WGS84). Unit ids are
    ``MN<ADM1_PCODE>``; with a ``registry`` the codes are checked against it.
    """
    path = Path(path)
    if registry is not None:
        return dict(_features(path, registry))
    return read_features(path, CODE_FIELD, prefix="MN")


def read(files: Mapping[str, Path], registry: UnitRegistry, log: DropLog, **options: object) -> pd.DataFrame:
    """Aimag areas in km² (tidy, indicator ``area_km2``, year null)."""
    path = Path(files[FILE_KEY])
    rows = [(unit, polygons_area(polys) / 1e6) for unit, polys in _features(path, registry)]
    out = pd.DataFrame(rows, columns=["unit", "value"])
    out["year"] = pd.array([pd.NA] * len(out), dtype="Int64")
    out["indicator"] = "area_km2"
    out["measure"] = MEASURE
    out["source"] = SOURCE
    return tidy(out.sort_values("unit"), source=SOURCE)
