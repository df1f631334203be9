"""Reproducibility check: build the default workflow twice in fresh clones and compare results.

``python -m dlddrivers.repro --snapshot DIR`` clones the current ``HEAD`` into two temporary
folders, runs ``snakemake --cores N --config snapshot_dir=DIR`` in each (with different
``PYTHONHASHSEED`` values, so that nothing may depend on hash order), and compares every CSV
under ``results/`` byte for byte. Timings are never in CSVs (they live in ``run.json`` and
``results/benchmarks/``), so every CSV must be identical. Exit code 0 when they all are; the
differing files are listed otherwise. Used by ``make check-repro``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def csv_digests(results: Path) -> dict[str, str]:
    """sha256 of every CSV under ``results`` (relative path -> digest), excluding benchmarks."""
    out = {}
    for f in sorted(results.rglob("*.csv")):
        rel = f.relative_to(results).as_posix()
        if rel.startswith("benchmarks/"):
            continue
        out[rel] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def compare(a: dict[str, str], b: dict[str, str]) -> list[str]:
    """Relative paths that differ, or exist in only one of the two runs."""
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


def run_clone(repo: Path, snapshot: Path, workdir: Path, hashseed: str, cores: str,
              extra: list[str]) -> Path:
    subprocess.run(["git", "clone", "-q", str(repo), str(workdir)], check=True)
    env = dict(os.environ, PYTHONHASHSEED=hashseed)
    exe = Path(sys.executable).parent / "snakemake"
    subprocess.run([str(exe), "--cores", cores, "--quiet", "rules", "host", "--config",
                    f"snapshot_dir={snapshot}", *extra], cwd=workdir, env=env, check=True)
    return workdir / "results"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--snapshot", required=True, type=Path)
    ap.add_argument("--repo", default=".", type=Path)
    ap.add_argument("--cores", default="all")
    ap.add_argument("--keep", action="store_true", help="keep the two clones")
    ap.add_argument("extra", nargs="*", help="more --config items, e.g. validation=False")
    args = ap.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="dld-repro-"))
    extra = list(args.extra)
    r1 = run_clone(args.repo.resolve(), args.snapshot.resolve(), base / "run1", "1", args.cores, extra)
    r2 = run_clone(args.repo.resolve(), args.snapshot.resolve(), base / "run2", "2", args.cores, extra)
    d1, d2 = csv_digests(r1), csv_digests(r2)
    diff = compare(d1, d2)
    print(f"{len(d1)} CSVs in run 1, {len(d2)} in run 2; {len(diff)} differ")
    for f in diff:
        print(f"  differs: {f}")
    if not args.keep:
        import shutil

        shutil.rmtree(base, ignore_errors=True)
    else:
        print(f"clones kept in {base}")
    return 1 if diff else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
