"""Boundary files: polygons per registry unit from the boundary sources of ``config/sources.yaml``.

A boundary file is a raw file like any other: its source entry in ``config/sources.yaml`` gives
the provider, URL, licence and sha256, so retrieval, checksum verification and provenance
treat it like every other raw file. Which file outlines which unit is registry data: a country
in ``config/units.yaml`` may carry ::

    boundary: {source: boundaries_chn, file: adm1, code_field: ADM1_PCODE,
               outside: {CN071: Taiwan}}

(``source``/``file``: the entry and file key in ``sources.yaml``; ``code_field``: the feature
property that names each sub-national feature; ``outside``: features of the file that are not
part of the statistical unit, drawn unfilled and left out of the unit's geometry).

Geometries are ``{code: [polygon, ...]}``, polygon = ``[outer ring, hole, ...]``, each ring an
``(n, 2)`` numpy array of lon, lat (degrees, WGS84). Files are GeoJSON FeatureCollections of
``Polygon``/``MultiPolygon`` features; every malformed feature raises
:class:`~dlddrivers.errors.RawFileError` naming the file, the field and the value.

Entry points: :func:`boundary_specs` (which units have a declared boundary file, and which
declarations point to a source that is not in ``sources.yaml``: skipped and reported, not an
error), :func:`read_features` (one file), :func:`read_boundaries` (the files of a study) and
:func:`aimag_geometries` (the Mongolian aimags keyed by registry unit id, via
:mod:`dlddrivers.sources.boundaries_mng`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError, RawFileError
from ._common import read_json

Ring = np.ndarray
Geometry = list[list[Ring]]


@dataclass(frozen=True)
class BoundarySpec:
    """The boundary file of one registry unit, as declared in units.yaml and sources.yaml."""

    unit: str
    source: str
    file: str
    code_field: str
    path: str  # relative to the raw folder
    url: str = ""
    sha256: str | None = None
    provider: str = ""
    licence: str = ""
    outside: dict[str, str] = field(default_factory=dict)

    def record(self) -> dict:
        """The spec as a plain mapping (rule params, run record)."""
        return asdict(self)


def load_features(path: str | Path) -> list[dict]:
    """The features of a GeoJSON FeatureCollection (error naming the file otherwise)."""
    path = Path(path)
    data = read_json(path)
    feats = data.get("features") if isinstance(data, dict) else None
    if not isinstance(feats, list):
        raise RawFileError(path, "features", "a GeoJSON FeatureCollection")
    return feats


def polygons(geom: dict | None, path: str | Path, code: str) -> Geometry:
    """A feature's geometry as a list of polygons, each a list of ``(n, 2)`` lon/lat rings."""
    path = Path(path)
    kind = (geom or {}).get("type")
    coords = (geom or {}).get("coordinates")
    if kind == "Polygon":
        coords = [coords]
    elif kind != "MultiPolygon":
        raise RawFileError(path, "geometry.type", "Polygon or MultiPolygon", f"{kind} for {code}")
    try:
        polys = [[np.asarray(r, dtype=float)[:, :2] for r in poly] for poly in coords]
    except (TypeError, ValueError, IndexError) as exc:
        raise RawFileError(path, "geometry.coordinates", "rings of [lon, lat]", code) from exc
    for poly in polys:
        for r in poly:
            if r.ndim != 2 or len(r) < 4:
                raise RawFileError(path, "geometry.coordinates", "rings of at least 4 points", code)
            if (np.abs(r[:, 1]) > 90).any() or (np.abs(r[:, 0]) > 180).any():
                raise RawFileError(path, "geometry.coordinates", "lon/lat in degrees", code)
    return polys


def feature_code(feature: dict, code_field: str, path: str | Path, index: int) -> str:
    """The code of one feature (``properties[code_field]``, stripped)."""
    props = feature.get("properties") or {}
    if code_field not in props or props[code_field] is None or not str(props[code_field]).strip():
        raise RawFileError(Path(path), code_field, f"a property '{code_field}' on every feature",
                           f"feature {index}")
    return str(props[code_field]).strip()


def read_features(path: str | Path, code_field: str, *, prefix: str = "") -> dict[str, Geometry]:
    """Polygons per feature code (``prefix + properties[code_field]``) of one boundary file.

    A feature without the code field, a code used twice or a malformed geometry raises
    :class:`~dlddrivers.errors.RawFileError` naming the file, the field and the value.
    """
    path = Path(path)
    out: dict[str, Geometry] = {}
    for i, f in enumerate(load_features(path)):
        code = feature_code(f, code_field, path, i)
        key = f"{prefix}{code}"
        if key in out:
            raise RawFileError(path, code_field, "one feature per code", code)
        out[key] = polygons(f.get("geometry"), path, code)
    return out


def boundary_specs(registry, sources: Mapping, units: Iterable[str] | None = None
                   ) -> tuple[dict[str, BoundarySpec], list[dict]]:
    """The declared boundary file of each unit (all registry units with a ``boundary``, or only
    ``units``), and the declarations that could not be honoured.

    ``registry`` is a :class:`~dlddrivers.units.UnitRegistry`; ``sources`` the parsed
    ``sources.yaml`` (whole document or its ``sources`` mapping). A declaration whose source
    or file key is not in ``sources`` is not an error (a sources.yaml may leave a boundary out):
    it is returned in the second list as ``{unit, source, file, reason}`` so the caller counts
    and logs it. A declaration whose file key is templated or has no path raises
    :class:`~dlddrivers.errors.ConfigError`.
    """
    srcs = sources.get("sources", sources) if isinstance(sources, Mapping) else {}
    wanted = None if units is None else set(units)
    specs: dict[str, BoundarySpec] = {}
    skipped: list[dict] = []
    for u in registry.units.values():
        if u.boundary is None or (wanted is not None and u.id not in wanted):
            continue
        b = u.boundary
        entry = srcs.get(b["source"])
        if not isinstance(entry, Mapping):
            skipped.append({"unit": u.id, "source": b["source"], "file": b["file"],
                            "reason": f"no source '{b['source']}' in sources.yaml"})
            continue
        f = (entry.get("files") or {}).get(b["file"])
        if not isinstance(f, Mapping):
            skipped.append({"unit": u.id, "source": b["source"], "file": b["file"],
                            "reason": f"no file '{b['file']}' in sources.{b['source']}.files"})
            continue
        path = f.get("path")
        if not isinstance(path, str) or not path or "{" in path:
            raise ConfigError(f"sources.{b['source']}.files.{b['file']}.path", path,
                              "the path of one boundary file (not templated)")
        specs[u.id] = BoundarySpec(
            unit=u.id, source=b["source"], file=b["file"], code_field=b["code_field"], path=path,
            url=str(f.get("url") or ""), sha256=f.get("sha256"),
            provider=str(entry.get("provider") or ""), licence=str(entry.get("licence") or ""),
            outside=dict(b["outside"]))
    return specs, skipped


def map_units(registry, level: str, units: Iterable[str]) -> list[str]:
    """The registry units whose boundary files a study's maps draw: the study's countries
    (level ``country``), the countries of its aimags (level ``aimag``), none otherwise."""
    units = [str(u) for u in units]
    if level == "country":
        return units
    if level == "aimag":
        return sorted({registry.units[u].country for u in units
                       if u in registry.units and registry.units[u].country})
    return []


def available_boundaries(registry, sources: Mapping, units: Iterable[str], raw_dir: str | Path,
                         offline: bool) -> tuple[dict[str, BoundarySpec], list[dict]]:
    """:func:`boundary_specs` of ``units``, with one more reason to skip a declaration: offline
    (reading the snapshot folder in place) a boundary file that is not in the folder is
    skipped and reported, as a map drawn without that outline; online every declared file is
    needed (the workflow downloads it like every other raw file)."""
    specs, skipped = boundary_specs(registry, sources, units)
    if offline:
        for unit in list(specs):
            sp = specs[unit]
            if not (Path(raw_dir) / sp.path).is_file():
                skipped.append({"unit": unit, "source": sp.source, "file": sp.file,
                                "reason": f"{sp.path} is not in the snapshot folder"})
                del specs[unit]
    return specs, skipped


def read_boundaries(files: Mapping[str, str | Path], specs: Mapping[str, BoundarySpec]
                    ) -> dict[str, dict[str, Geometry]]:
    """Sub-national polygons per unit: ``{unit: {feature code: geometry}}`` for each
    ``files[unit]`` read with the code field of ``specs[unit]``. A unit in ``files`` without a
    spec raises :class:`~dlddrivers.errors.ConfigError`."""
    out: dict[str, dict[str, Geometry]] = {}
    for unit, path in files.items():
        if unit not in specs:
            raise ConfigError(f"countries.{unit}.boundary", None, "a boundary declaration for a boundary file")
        out[unit] = read_features(path, specs[unit].code_field)
    return out


def aimag_geometries(path: str | Path, registry=None) -> dict[str, Geometry]:
    """Aimag polygons keyed by registry unit id (``MN<ADM1_PCODE>``), via
    :func:`dlddrivers.sources.boundaries_mng.read_geometries` (codes checked with a registry)."""
    from .boundaries_mng import read_geometries

    return read_geometries(path, registry)


def label_point(geom: Geometry) -> tuple[float, float]:
    """Where to write a unit's name: the vertex mean of its largest outer ring (a placement,
    computed with the geometry rather than in the drawing code)."""
    ring = max((poly[0] for poly in geom), key=len)
    return float(ring[:, 0].mean()), float(ring[:, 1].mean())


__all__ = ["BoundarySpec", "load_features", "polygons", "feature_code", "read_features",
           "boundary_specs", "map_units", "available_boundaries", "read_boundaries", "aimag_geometries", "label_point"]
