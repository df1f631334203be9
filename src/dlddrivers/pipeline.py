"""File-level jobs: what each workflow rule does, as plain functions (testable without Snakemake).

Workflow scripts are thin adapters that pass Snakemake's inputs, outputs and params to these.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml

from .catalogue import Catalogue
from .config import config_hash, load_config, study_config, validate_schema, validate_semantics
from .units import UnitRegistry


def load_sources(path: str | Path) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)["sources"]


def setup(cfg: dict) -> tuple[UnitRegistry, Catalogue, dict]:
    """Validate a (merged) config and load the registry, catalogue and source list it names."""
    # `--config validation=false` arrives as the string 'false' (Snakemake only parses True/False)
    if isinstance(cfg.get("validation"), str) and cfg["validation"].lower() in ("true", "false"):
        cfg["validation"] = cfg["validation"].lower() == "true"
    validate_schema(cfg)
    sources = load_sources(cfg["sources"])
    registry = UnitRegistry.from_yaml(cfg["registry"])
    catalogue = Catalogue.from_yaml(cfg["catalogue"], sources)
    validate_semantics(cfg, registry, catalogue)
    check_snapshot(cfg, registry, catalogue, sources)
    check_graphs(cfg)
    return registry, catalogue, sources


def check_graphs(cfg: dict) -> None:
    """Each study's causal graph is valid (acyclic, reasons given) and uses only its indicators."""
    from .causal.graph import load_graph
    from .config import study_indicators

    for name in cfg["run"]:
        st = cfg["studies"][name]
        if st.get("graph"):
            load_graph(st["graph"], panel_columns=["unit", "year", *study_indicators(st)])


def raw_dir(cfg: dict) -> Path:
    """Where raw files are read: the snapshot folder offline, else the download cache."""
    return Path(cfg["snapshot_dir"] or cfg["raw_dir"])


def wdi_codes(cfg: dict) -> list[str]:
    """Every WDI code that the catalogue names (so online retrieval can fetch any of them)."""
    with open(cfg["catalogue"], encoding="utf-8") as fh:
        entries = yaml.safe_load(fh)["indicators"]
    return sorted({str(e["code"]) for e in entries.values() if e.get("source") == "wdi"})


def check_snapshot(cfg: dict, registry, catalogue, sources) -> None:
    """Offline: every raw file each study needs is in the snapshot folder (clear error if not)."""
    from .errors import RawFileError
    from .panel import required_files

    if not cfg.get("snapshot_dir"):
        return
    folder = Path(cfg["snapshot_dir"])
    if not folder.is_dir():
        raise RawFileError(folder, "snapshot_dir", "an existing folder of raw provider files")
    for name in cfg["run"]:
        for f in required_files(study_config(cfg, name), catalogue, sources, folder):
            if f.source != "csv" and not f.path.exists():
                raise RawFileError(
                    f.path, None,
                    f"a raw file of source '{f.source}' in snapshot folder {folder} "
                    f"(provider URL {f.url}); unset snapshot_dir to download it",
                )


def verify_raw_files(cfg: dict, study: dict, catalogue, sources) -> dict[str, str]:
    """Check every raw file a study reads against its sha256 recorded in ``sources.yaml``
    before anything is read, in snapshot and online mode alike.

    Policy ``cfg['on_checksum_mismatch']``: ``error`` (default) raises
    :class:`~dlddrivers.retrieve.ChecksumMismatchError` naming the file, both hashes, the
    ``sources.yaml`` key and the command that records a new checksum deliberately; ``warn``
    warns and goes on. Files without a recorded checksum (user CSVs) are not checked.
    Returns each checked path's sha256.
    """
    from .panel import required_files
    from .retrieve import verify_file

    policy = cfg.get("on_checksum_mismatch") or "error"
    out: dict[str, str] = {}
    for f in required_files(study, catalogue, sources, raw_dir(cfg)):
        if f.sha256 and f.path.is_file():
            out[str(f.path)] = verify_file(f.path, f.sha256, policy=policy, url=f.url, key=f.record_key)
    return out


def panel_job(cfg: dict, study_name: str, outdir: str | Path) -> dict[str, Path]:
    """Build a study's panel and write panel.csv/.parquet, coverage, dictionary, drops, provenance."""
    from .panel import build_panel, coverage_summary
    from .provenance import file_records, package_versions

    registry, catalogue, sources = setup(cfg)
    study = study_config(cfg, study_name)
    verify_raw_files(cfg, study, catalogue, sources)
    res = build_panel(study, catalogue, sources, registry, raw_dir(cfg))
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "panel_csv": out / "panel.csv",
        "panel_parquet": out / "panel.parquet",
        "coverage": out / "coverage.csv",
        "coverage_summary": out / "coverage_summary.csv",
        "dictionary": out / "data_dictionary.csv",
        "drops": out / "drops.csv",
        "provenance": out / "provenance.json",
    }
    res.panel.to_csv(paths["panel_csv"], index=False)
    res.panel.to_parquet(paths["panel_parquet"], index=False)
    res.coverage.to_csv(paths["coverage"], index=False)
    coverage_summary(res.coverage).to_csv(paths["coverage_summary"], index=False)
    res.dictionary.to_csv(paths["dictionary"], index=False)
    res.drops.to_csv(paths["drops"], index=False)
    prov = {
        "study": study_name,
        "config_sha256": config_hash(cfg),
        "study_config": study,
        "seed": study["seed"],
        "raw_files": file_records(res.files),
        "rows_not_passed_on": res.drops.to_dict(orient="records"),
        "packages": package_versions(),
        "n_units": int(res.panel["unit"].nunique()),
        "n_years": int(res.panel["year"].nunique()),
    }
    paths["provenance"].write_text(json.dumps(prov, indent=2, default=str))
    return paths


def read_panel(study_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The panel (parquet) and data dictionary of a built study."""
    d = Path(study_dir)
    return pd.read_parquet(d / "panel.parquet"), pd.read_csv(d / "data_dictionary.csv", keep_default_na=False)


__all__ = ["load_config", "setup", "panel_job", "read_panel", "raw_dir"]


#: Analysis stages: name -> (module with DEFAULTS and compute, module with plot).
STAGES: dict[str, tuple[str, str]] = {
    "trends": ("dlddrivers.methods.trends", "dlddrivers.plots.trends"),
    "panel_regression": ("dlddrivers.methods.panel_regression", "dlddrivers.plots.panel_regression"),
    "relative_importance": ("dlddrivers.methods.relative_importance", "dlddrivers.plots.relative_importance"),
    "restrend": ("dlddrivers.methods.restrend", "dlddrivers.plots.restrend"),
    "geodetector": ("dlddrivers.methods.geodetector", "dlddrivers.plots.geodetector"),
    "sdg": ("dlddrivers.methods.sdg", "dlddrivers.plots.sdg"),
    "attribution": ("dlddrivers.methods.attribution", "dlddrivers.plots.attribution"),
    "impacts": ("dlddrivers.methods.impacts", "dlddrivers.plots.impacts"),
    "causal": ("dlddrivers.causal.stage", "dlddrivers.plots.causal"),
}


def stage_options(cfg: dict, stage: str) -> dict:
    """A stage's options: its module DEFAULTS overridden by ``config['methods'][stage]``."""
    from importlib import import_module

    from .config import deep_merge

    mod = import_module(STAGES[stage][0])
    return deep_merge(dict(getattr(mod, "DEFAULTS", {})), (cfg.get("methods") or {}).get(stage) or {})


def stage_job(cfg: dict, study_name: str, stage: str, study_dir: str | Path, outdir: str | Path) -> list[Path]:
    """Run one analysis stage on a built panel: write its tables (CSV), figures and a run record."""
    import time
    from importlib import import_module

    from .provenance import package_versions, sha256_file

    if stage not in STAGES:
        from .errors import ConfigError

        raise ConfigError("stage", stage, f"one of {sorted(STAGES)}")
    t0 = time.perf_counter()
    panel, dictionary = read_panel(study_dir)
    study = study_config(cfg, study_name)
    options = stage_options(cfg, stage)
    compute_mod, plot_mod = (import_module(m) for m in STAGES[stage])
    if stage == "causal":
        from .causal.graph import load_graph

        graph = load_graph(study["graph"], panel_columns=list(panel.columns))
        tables = compute_mod.compute(panel, dictionary, study, options, graph)
    else:
        graph = None
        tables = compute_mod.compute(panel, dictionary, study, options)
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, table in tables.items():
        p = out / f"{name}.csv"
        table.to_csv(p, index=False)
        written.append(p)
    t1 = time.perf_counter()
    if stage == "causal":
        figures = plot_mod.plot(tables, graph, dictionary, study, out)
    else:
        figures = plot_mod.plot(tables, panel, dictionary, study, out)
    record = {
        "study": study_name, "stage": stage, "seed": study["seed"], "options": options,
        "panel_sha256": sha256_file(Path(study_dir) / "panel.parquet"),
        "tables": {p.name: len(tables[p.stem]) for p in written},
        "figures": [Path(f).name for f in figures],
        "seconds_compute": round(t1 - t0, 3), "seconds_plot": round(time.perf_counter() - t1, 3),
        "packages": package_versions(),
    }
    (out / "run.json").write_text(json.dumps(record, indent=2, default=str))
    return written + [Path(f) for f in figures]
