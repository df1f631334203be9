"""Provenance: checksums of every raw file used, package versions, the effective config hash."""

from __future__ import annotations

import hashlib
import platform
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path

PACKAGES = ("dlddrivers", "pandas", "numpy", "scipy", "statsmodels", "scikit-learn", "linearmodels",
            "dowhy", "econml", "causal-learn", "pandera", "pyarrow", "snakemake", "matplotlib",
            "seaborn", "pymannkendall", "wildboottest", "networkx", "PyYAML", "jsonschema")


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """sha256 hex digest of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Python, platform and the installed version of each package in ``names`` (a copy of
    the answer found once per process: the installed versions do not change while a run
    runs, and each look-up reads the package's metadata from disk)."""
    return dict(_package_versions(tuple(names)))


@lru_cache(maxsize=8)
def _package_versions(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = "not installed"
    return tuple(out.items())


def file_records(files) -> list[dict]:
    """One record per raw file: source, key, path, provider URL, sha256, bytes, recorded sha256 match."""
    recs = []
    for f in files:
        p = Path(f.path)
        digest = sha256_file(p)
        recs.append({
            "source": f.source, "key": f.key, "path": str(p), "url": f.url, "sha256": digest,
            "bytes": p.stat().st_size,
            "recorded_sha256_matches": None if not f.sha256 else (f.sha256 == digest),
        })
    return recs
