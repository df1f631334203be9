"""Retrieve the raw provider files listed in ``config/sources.yaml``.

The command line of :mod:`dlddrivers.retrieve` (``python -m dlddrivers.retrieve``): fetch every
raw file into the cache (or check them in a snapshot folder), write the provenance manifest, or
record new checksums deliberately::

    python -m dlddrivers.retrieve --sources config/sources.yaml --cache data/raw \\
        [--snapshot DIR] [--wdi CODE ...] [--manifest FILE] [--deadline S] [--record-checksums]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import DLDError
from .cache import fetch
from .integrity import manifest, record_checksums
from .specs import default_wdi_codes, resolve
from .transfer import DEADLINE, remove_stale_parts, say

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Fetch every raw file of ``--sources`` into ``--cache`` (or check them in ``--snapshot``)."""
    import yaml

    ap = argparse.ArgumentParser(prog="python -m dlddrivers.retrieve", description=__doc__.split("\n")[0])
    ap.add_argument("--sources", default="config/sources.yaml", type=Path)
    ap.add_argument("--cache", default="data/raw", type=Path)
    ap.add_argument("--snapshot", type=Path, default=None, help="read-only raw folder (no download)")
    ap.add_argument("--wdi", nargs="*", default=None, metavar="CODE",
                    help="WDI codes (default: the codes with sha256_by_code in sources.yaml)")
    ap.add_argument("--only", nargs="*", default=None, metavar="SOURCE", help="only these sources")
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--retries", type=int, default=4)
    ap.add_argument("--backoff", type=float, default=1.0)
    ap.add_argument("--deadline", type=float, default=DEADLINE,
                    help="overall seconds per download, retries included")
    ap.add_argument("--on-checksum-mismatch", choices=["warn", "error"], default="error")
    ap.add_argument("--manifest", type=Path, default=None, help="write the provenance CSV here")
    ap.add_argument("--record-checksums", action="store_true",
                    help="deliberately replace the recorded sha256 of every file whose copy in "
                         "--snapshot (or --cache) differs, in the --sources file itself")
    args = ap.parse_args(argv)

    cfg = yaml.safe_load(args.sources.read_text(encoding="utf-8"))
    codes = args.wdi if args.wdi is not None else default_wdi_codes(cfg)
    specs = resolve(cfg, codes)
    if args.only:
        specs = [s for s in specs if s.source in set(args.only)]
    if args.record_checksums:
        raw = args.snapshot if args.snapshot is not None else args.cache
        changed = record_checksums(args.sources, specs, raw)
        for key, old, new in changed:
            say(sys.stderr, f"recorded {key}: {old} -> {new}")
        say(sys.stderr, f"{len(changed)} checksum(s) changed in {args.sources}")
        return 0
    if args.snapshot is None:
        for stale in remove_stale_parts(args.cache):
            say(sys.stderr, f"removed stale temporary file {stale} (left by an interrupted download)")
    failures: list[str] = []
    for s in specs:
        try:
            p = fetch(s, args.cache, snapshot_dir=args.snapshot, timeout=args.timeout,
                      retries=args.retries, backoff=args.backoff, deadline=args.deadline,
                      on_checksum_mismatch=args.on_checksum_mismatch)
            say(sys.stderr, f"ok {p}")
        except (DLDError, OSError) as exc:
            failures.append(f"{s.path}: {exc}")
            say(sys.stderr, f"FAILED {exc}")
    if args.manifest is not None and not failures:
        raw = args.snapshot if args.snapshot is not None else args.cache
        args.manifest.parent.mkdir(parents=True, exist_ok=True)
        manifest(specs, raw).to_csv(args.manifest, index=False)
    if failures:
        print(f"retrieve: {len(failures)} of {len(specs)} files failed:", file=sys.stderr)
        for f in failures:
            print(f"  {f}", file=sys.stderr)
        return 1
    return 0
