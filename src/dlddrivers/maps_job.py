"""The maps job of one study: read the declared boundary files, draw, write the run record.

The workflow's ``maps`` rule hands over the study's boundary declarations
(:meth:`dlddrivers.sources.boundaries.BoundarySpec.record`, one per file, in the order of its
``boundaries`` input), the declarations it skipped (source not in ``sources.yaml``, file not in
the snapshot) and the tile grid. This module reads the geometries through
:mod:`dlddrivers.sources.boundaries`, hands them to :func:`dlddrivers.plots.maps.study_maps`
(which only draws) and writes ``maps/run.json``: every boundary file with its provider URL,
licence, recorded and found sha256 (the provenance record of the panels' raw files), every
skipped declaration with its reason, and the files written.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace

from .sources.boundaries import BoundarySpec, aimag_geometries, read_boundaries

LOG = logging.getLogger(__name__)


def boundary_provenance(specs: Sequence[BoundarySpec], paths: Sequence[str | Path]) -> list[dict]:
    """One provenance record per boundary file (as ``provenance.json`` lists raw files: source,
    key, path, url, sha256, bytes, recorded_sha256_matches) plus the unit, provider, licence and
    code field."""
    from .provenance import file_records

    recs = file_records([SimpleNamespace(source=s.source, key=s.file, path=p, url=s.url, sha256=s.sha256)
                         for s, p in zip(specs, paths, strict=True)])
    return [{"unit": s.unit, **r, "recorded_sha256": s.sha256, "provider": s.provider,
             "licence": s.licence, "code_field": s.code_field}
            for s, r in zip(specs, recs, strict=True)]


def maps_job(study_dir: str | Path, level: str, outdir: str | Path, *,
             boundaries: Sequence[Mapping], boundary_files: Sequence[str | Path],
             skipped: Sequence[Mapping] = (), tiles: Mapping[str, Sequence[float]] | None = None,
             study: str | None = None) -> dict:
    """Draw the maps of one study and write ``<outdir>/run.json``; returns the run record.

    ``boundaries``: boundary declarations (records of :class:`BoundarySpec`), ``boundary_files``
    the file of each, in the same order; ``skipped``: declarations not honoured (logged and
    listed in the record, not an error); ``tiles``: the national tile grid per country.
    """
    from .plots.maps import study_maps

    specs = [BoundarySpec(**dict(r)) for r in boundaries]
    if len(specs) != len(boundary_files):
        raise ValueError(f"maps job of {study_dir}: {len(specs)} boundary declarations but "
                         f"{len(boundary_files)} boundary files (expected one file per declaration)")
    files = {s.unit: Path(p) for s, p in zip(specs, boundary_files, strict=True)}
    by_unit = {s.unit: s for s in specs}
    for sk in skipped:
        LOG.warning("boundary of %s skipped (source %s, file %s): %s", sk.get("unit"), sk.get("source"),
                    sk.get("file"), sk.get("reason"))
    providers = {s.unit: s.provider for s in specs}
    aimags, countries = {}, {}
    if level == "aimag":
        for unit in sorted(files):
            aimags.update(aimag_geometries(files[unit]))
    elif level == "country":
        countries = read_boundaries(files, by_unit)
    written = study_maps(study_dir, level, outdir, aimags=aimags, countries=countries, providers=providers,
                         outside={s.unit: s.outside for s in specs},
                         tiles={u: tuple(t) for u, t in (tiles or {}).items()})
    record = {
        "study": study or Path(study_dir).name,
        "level": level,
        "boundaries": boundary_provenance(specs, list(boundary_files)),
        "boundaries_skipped": [dict(sk) for sk in skipped],
        "n_boundaries_skipped": len(skipped),
        "tiles": {u: list(t) for u, t in (tiles or {}).items()},
        "files": sorted(Path(p).name for p in written),
    }
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "run.json").write_text(json.dumps(record, indent=1, default=str), encoding="utf-8")
    LOG.info("maps written: %s", ", ".join(record["files"]))
    return record


__all__ = ["boundary_provenance", "maps_job"]
