"""Command line: ``dlddrivers check-config`` and ``dlddrivers indicators``.

``check-config`` runs every check the workflow runs before its first job (the same
:func:`dlddrivers.pipeline.setup`), without Snakemake, and prints one line per problem.
``indicators`` lists the catalogue: id, level, domain, measure, source or formula, and where a
built study holds it, the years it is observed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_CONFIG = "config/config.yaml"


def _parse_overrides(items: list[str]) -> dict:
    """``key=value`` pairs (YAML values, dotted keys for nesting) as a nested mapping."""
    from .config import deep_merge
    from .yamlio import loads_yaml

    out: dict = {}
    for item in items:
        if "=" not in item:
            raise SystemExit(f"dlddrivers: --config expects key=value, got {item!r}")
        key, value = item.split("=", 1)
        node: dict = {}
        cur = node
        parts = key.split(".")
        for p in parts[:-1]:
            cur[p] = {}
            cur = cur[p]
        cur[parts[-1]] = loads_yaml(value, "--config") if value else None
        out = deep_merge(out, node)
    return out


def _load(files: list[str], overrides: list[str]) -> tuple[dict, list[str]]:
    from .config import WORKFLOW_ROOT, load_config

    paths = files or [DEFAULT_CONFIG if Path(DEFAULT_CONFIG).exists() else str(WORKFLOW_ROOT / DEFAULT_CONFIG)]
    return load_config(*paths, overrides=_parse_overrides(overrides)), paths


def cmd_check_config(args: argparse.Namespace) -> int:
    """Validate config files (merged in order, as ``--configfile`` does) and the data they need."""
    import logging

    from .pipeline import setup

    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")
    cfg, paths = _load(args.files, args.config)
    setup(cfg, config_files=paths, check_data=not args.no_data)
    studies = ", ".join(cfg["run"])
    print(f"config OK: {' + '.join(paths)} (studies: {studies})")
    return 0


def indicator_table(catalogue_path: str, results_dir: str | None = None):
    """The catalogue as a table; with ``results_dir``, the observed years per built study."""
    import pandas as pd

    from .catalogue import Catalogue

    cat = Catalogue.from_yaml(catalogue_path)
    rows = []
    for iid, e in cat.entries.items():
        rows.append({
            "indicator": iid, "level": e.level, "domain": e.domain, "measure": e.measure,
            "source": e.formula and f"formula: {e.formula}" or f"{e.source}:{e.code or e.path}",
            "label": e.label,
        })
    table = pd.DataFrame(rows)
    cov: dict[str, list[str]] = {}
    if results_dir and Path(results_dir).is_dir():
        for f in sorted(Path(results_dir).glob("*/coverage_summary.csv")):
            cs = pd.read_csv(f)
            for iid, g in cs.groupby("indicator"):
                obs = g[g["observed"] > 0]
                if obs.empty:
                    cov.setdefault(str(iid), []).append(f"{f.parent.name}: none")
                else:
                    cov.setdefault(str(iid), []).append(
                        f"{f.parent.name}: {int(obs['first_year'].min())}-{int(obs['last_year'].max())}"
                        f" ({len(obs)}/{len(g)} units)")
    table["coverage"] = table["indicator"].map(lambda i: "; ".join(cov.get(i, [])))
    return table


def cmd_indicators(args: argparse.Namespace) -> int:
    cfg, _ = _load(args.files, args.config)
    table = indicator_table(cfg["catalogue"], cfg.get("results_dir"))
    if args.domain:
        table = table[table["domain"] == args.domain]
    if args.format == "csv":
        table.to_csv(sys.stdout, index=False)
    else:
        with __import__("pandas").option_context("display.max_rows", None, "display.width", 200,
                                                 "display.max_colwidth", 60):
            shown = table.drop(columns=["label"]).copy()
            shown["source"] = shown["source"].str.slice(0, 48)
            print(shown.to_string(index=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``dlddrivers`` console script."""
    from .errors import DLDError

    parser = argparse.ArgumentParser(prog="dlddrivers", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check-config", help="check config files and the data they need, as the workflow does before any job")
    p.add_argument("files", nargs="*", help=f"config files merged in order (default {DEFAULT_CONFIG})")
    p.add_argument("--config", nargs="*", default=[], metavar="KEY=VALUE", help="overrides, as snakemake --config")
    p.add_argument("--no-data", action="store_true", help="skip the data-support checks (no raw files read)")
    p.set_defaults(func=cmd_check_config)
    p = sub.add_parser("indicators", help="list the catalogue (domain, measure, source, observed years)")
    p.add_argument("files", nargs="*", help=f"config files (default {DEFAULT_CONFIG})")
    p.add_argument("--config", nargs="*", default=[], metavar="KEY=VALUE")
    p.add_argument("--domain", help="only this domain (climate, grazing, ...)")
    p.add_argument("--format", choices=["text", "csv"], default="text")
    p.set_defaults(func=cmd_indicators)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except DLDError as exc:
        print(f"dlddrivers: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
