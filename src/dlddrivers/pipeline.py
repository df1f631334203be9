"""File-level jobs: what each workflow rule does, as plain functions (testable without Snakemake).

Workflow scripts are thin adapters that pass Snakemake's inputs, outputs and params to these.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .catalogue import Catalogue
from .config import (
    config_hash,
    load_config,
    panel_run,
    study_config,
    study_indicators,
    validate_schema,
    validate_semantics,
)
from .units import UnitRegistry


def load_sources(path: str | Path) -> dict:
    from .yamlio import load_yaml

    raw = load_yaml(path) or {}
    if not isinstance(raw, dict) or not isinstance(raw.get("sources"), dict):
        from .errors import ConfigError

        raise ConfigError("sources", None, "a mapping of source ids to specs", str(path))
    return raw["sources"]


def setup(cfg: dict, *, config_files: list[str] | None = None, root: str | Path | None = None,
          check_data: bool = False, cache_dir: str | Path | None = None) -> tuple[UnitRegistry, Catalogue, dict]:
    """Validate a (merged) config and load the registry, catalogue and source list it names.

    Runs every check that can be made before a job starts: duplicate keys in ``config_files``
    (Snakemake's own YAML loader keeps the last one silently), the JSON schema, each stage's
    options against its ``DEFAULTS``, units, indicators and years, formula bounds, the causal
    graphs (climate drivers are exogenous: no edge into them from an anthropogenic driver), the
    snapshot files, and with ``check_data`` the data support of each study (see
    :func:`check_data_support`; cached in ``cache_dir`` by raw-file fingerprint).
    """
    from .config import resolve_paths
    from .yamlio import load_yaml

    # `--config validation=false` arrives as the string 'false' (Snakemake only parses True/False)
    if isinstance(cfg.get("validation"), str) and cfg["validation"].lower() in ("true", "false"):
        cfg["validation"] = cfg["validation"].lower() == "true"
    for f in config_files or []:
        load_yaml(f)  # raises on a duplicate key, naming file, key and both lines
    validate_schema(cfg, cache_dir=cache_dir)  # a config that passed before is remembered
    resolve_paths(cfg, root)
    check_stage_options(cfg)
    sources = load_sources(cfg["sources"])
    registry = UnitRegistry.from_yaml(cfg["registry"])
    catalogue = Catalogue.from_yaml(cfg["catalogue"], sources)
    validate_semantics(cfg, registry, catalogue)
    check_snapshot(cfg, registry, catalogue, sources)
    check_graphs(cfg, catalogue)
    if check_data:
        for name in panel_run(cfg):
            if cfg["studies"][name]["level"] == "grid":
                continue  # cross-sectional cells: no unit-year panel to check (grid_data reads them)
            check_data_support(cfg, name, registry, catalogue, sources, cache_dir=cache_dir)
    return registry, catalogue, sources


def check_stage_options(cfg: dict) -> None:
    """``methods.<stage>`` options checked against each registered stage's ``defaults`` (types,
    ranges, unknown keys); see :mod:`dlddrivers.options` and :mod:`dlddrivers.stages`."""
    from .errors import ConfigError
    from .options import check_options
    from .stages import GRID_STAGES, STAGES, option_sections

    for name, given in (cfg.get("methods") or {}).items():
        if name == "pixel":  # options of pixel studies (dlddrivers.gridded.pipeline.DEFAULTS)
            from .gridded.pipeline import options as pixel_options

            pixel_options(given)
            continue
        if name not in STAGES and name not in GRID_STAGES:
            raise ConfigError(f"methods.{name}", "{...}", f"one of the stages {option_sections()}")
        st = STAGES.get(name) or GRID_STAGES[name]
        check_options(name, given, st.defaults, st.bounds)


def check_graphs(cfg: dict, catalogue: Catalogue | None = None) -> None:
    """Each study's causal graph is valid (acyclic, reasons given) and uses only its indicators;
    with the catalogue, no edge runs from an anthropogenic driver into a climate driver
    (climate is exogenous in every study here)."""
    from .catalogue import ANTHROPOGENIC, BIOPHYSICAL
    from .causal.graph import GraphError, read_graph_spec
    from .config import study_indicators

    for name in panel_run(cfg):
        st = cfg["studies"][name]
        if not st.get("graph"):
            continue
        g = read_graph_spec(st["graph"], panel_columns=["unit", "year", *study_indicators(st)])
        if catalogue is None:
            continue
        for u, v in sorted(g.edges):
            du = catalogue.entries[u].domain if u in catalogue.entries else None
            dv = catalogue.entries[v].domain if v in catalogue.entries else None
            if dv in BIOPHYSICAL and du in ANTHROPOGENIC:
                raise GraphError(st["graph"], f"edge {u} -> {v}",
                                 f"no edge into the climate driver '{v}' from the {du} driver '{u}' "
                                 "(climate is exogenous here: people do not change this year's "
                                 "precipitation or temperature of a country or aimag)")


def check_data_support(cfg: dict, study_name: str, registry: UnitRegistry, catalogue: Catalogue,
                       sources: dict, *, cache_dir: str | Path | None = None) -> list[str]:
    """The study's period and units hold data: build the panel from the raw files (cached by
    their fingerprint) and check it with :func:`dlddrivers.panel.check_support`.

    Raises :class:`~dlddrivers.errors.ConfigError` naming the study key; returns the warnings
    (partial coverage), which are also logged. Skipped (returns []) when raw files are not yet
    downloaded: the panel job then runs the same check before writing anything.
    """
    import hashlib
    import logging

    from .panel import build_panel, check_support, required_files

    study = study_config(cfg, study_name)
    files = required_files(study, catalogue, sources, raw_dir(cfg))
    if not all(f.path.exists() for f in files):
        return []
    slice_ = panel_slice(cfg, study_name, registry, catalogue, sources)
    h = hashlib.sha256(json.dumps(slice_, sort_keys=True, default=str).encode())
    for f in sorted(files, key=lambda f: str(f.path)):
        st = f.path.stat()
        h.update(f"{f.path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    marker = Path(cache_dir) / f"support-{study_name}-{h.hexdigest()[:20]}.json" if cache_dir else None
    if marker is not None and marker.exists():
        warnings = json.loads(marker.read_text())["warnings"]
    else:
        verify_raw_files(study, catalogue, sources, raw_dir(cfg), cfg.get("on_checksum_mismatch") or "error")
        res = build_panel(study, catalogue, sources, registry, raw_dir(cfg))
        warnings = check_support(study, res.panel)
        if marker is not None:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(json.dumps({"study": study_name, "warnings": warnings}))
    for w in warnings:
        logging.getLogger("dlddrivers").warning(w)
    return warnings


def raw_dir(cfg: dict) -> Path:
    """Where raw files are read: the snapshot folder offline, else the download cache."""
    return Path(cfg["snapshot_dir"] or cfg["raw_dir"])


def wdi_codes(cfg: dict) -> list[str]:
    """Every WDI code that the catalogue names (so online retrieval can fetch any of them)."""
    from .yamlio import load_yaml

    entries = load_yaml(cfg["catalogue"])["indicators"]
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
    for name in panel_run(cfg):
        for f in required_files(study_config(cfg, name), catalogue, sources, folder):
            if f.source != "csv" and not f.path.exists():
                raise RawFileError(
                    f.path, None,
                    f"a raw file of source '{f.source}' in snapshot folder {folder} "
                    f"(provider URL {f.url}); unset snapshot_dir to download it",
                )


def verify_raw_files(study: dict, catalogue, sources, raw_root: str | Path,
                     policy: str = "error") -> dict[str, str]:
    """Check every raw file a study reads against its sha256 recorded in ``sources.yaml``
    before anything is read, in snapshot and online mode alike.

    Policy ``on_checksum_mismatch``: ``error`` (default) raises
    :class:`~dlddrivers.retrieve.ChecksumMismatchError` naming the file, both hashes, the
    ``sources.yaml`` key and the command that records a new checksum deliberately; ``warn``
    warns and goes on. Files without a recorded checksum (user CSVs) are not checked.
    Returns each checked path's sha256.
    """
    from .panel import required_files
    from .retrieve import verify_file

    out: dict[str, str] = {}
    for f in required_files(study, catalogue, sources, Path(raw_root)):
        if f.sha256 and f.path.is_file():
            out[str(f.path)] = verify_file(f.path, f.sha256, policy=policy, url=f.url, key=f.record_key)
    return out


# --------------------------------------------------------------------------- config slices
def canonical(obj):
    """A JSON-equal copy with mapping keys sorted (stable Snakemake params: key order in a YAML
    file does not trigger a rerun)."""
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def panel_slice(cfg: dict, study_name: str, registry: UnitRegistry, catalogue: Catalogue,
                sources: dict) -> dict:
    """Exactly the config a study's panel depends on (the panel rule's ``params``).

    The study definition (with seed), the catalogue entries it uses including every formula
    dependency, the units of the registry at its level (the readers recognise every unit of a
    file and count the others as outside the study) with the aggregate codes, and the specs of
    the sources it reads. Not the folder raw files are read from: that is the rule's input, so
    an equivalent spelling of the path triggers nothing.
    """
    study = study_config(cfg, study_name)
    ids = catalogue.closure(list(study_indicators(study)))
    indicators = {i: catalogue.entries[i].spec for i in ids}
    used_sources = sorted({catalogue.entries[i].source for i in ids
                           if catalogue.entries[i].source and catalogue.entries[i].source != "csv"})
    level = study["level"]
    units_raw = registry_slice(registry, level)
    return canonical({
        "study": study,
        "indicators": indicators,
        "registry": units_raw,
        "sources": {s: sources[s] for s in used_sources},
        "on_checksum_mismatch": cfg.get("on_checksum_mismatch") or "error",
    })


def registry_slice(registry: UnitRegistry, level: str) -> dict:
    """The registry entries of one level (plus the countries its units belong to) and the
    aggregate codes, as a mapping :meth:`UnitRegistry.from_dict` reads."""
    out: dict = {"countries": {}, "aimags": {}, "aggregates": {k: sorted(v) for k, v in registry.aggregates.items()}}
    countries = {u.country for u in registry.of_level(level) if u.country}
    for u in registry.units.values():
        if u.level == "country" and (level == "country" or u.id in countries):
            names = [n for n in u.names if n not in (u.name, u.id)]
            out["countries"][u.id] = {"name": u.name, "fao": u.fao, "m49": u.m49, "names": names}
        elif u.level == "aimag" and level == "aimag":
            names = [n for n in u.names if n != u.name]
            out["aimags"][u.id] = {"name": u.name, "nso_code": u.nso_code, "country": u.country,
                                   "names": names}
    if level == "grid":
        out["grids"] = {k: dict(v) for k, v in registry.grids.items()}
    return out


def stage_slice(cfg: dict, study_name: str, stage: str) -> dict:
    """Exactly the config one stage of one study depends on (the stage rule's ``params``): the
    study definition with its seed, and the stage's options merged over its ``DEFAULTS``."""
    return canonical({"study": study_config(cfg, study_name), "options": stage_options(cfg, stage)})


def panel_job(slice_: dict, raw_root: str | Path, outdir: str | Path) -> dict[str, Path]:
    """Build a study's panel from its config slice (:func:`panel_slice`) and write panel.csv/
    .parquet, coverage, dictionary, drops and provenance. Checks the data support first."""
    from .panel import build_panel, check_support, coverage_summary
    from .provenance import file_records, package_versions

    study = slice_["study"]
    registry = UnitRegistry.from_dict(slice_["registry"], "config slice of the unit registry")
    catalogue = Catalogue.from_dict({"indicators": slice_["indicators"]}, slice_["sources"],
                                    "config slice of the catalogue")
    verify_raw_files(study, catalogue, slice_["sources"], raw_root,
                     slice_.get("on_checksum_mismatch") or "error")
    res = build_panel(study, catalogue, slice_["sources"], registry, Path(raw_root))
    warnings = check_support(study, res.panel)
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
        "study": study["name"],
        "config_slice_sha256": config_hash(slice_),
        "config_slice": slice_,
        "seed": study["seed"],
        "raw_files": file_records(res.files),
        "rows_not_passed_on": res.drops.to_dict(orient="records"),
        "coverage_warnings": warnings,
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


def stage_options(cfg: dict, stage: str) -> dict:
    """A stage's options: its registered ``defaults`` overridden by ``config['methods'][stage]``."""
    from .config import deep_merge
    from .stages import stage as get_stage

    return deep_merge(dict(get_stage(stage).defaults), (cfg.get("methods") or {}).get(stage) or {})


def unit_names(study_dir: str | Path) -> dict[str, str]:
    """Unit code -> registry name, from the study's ``coverage.csv`` (written with the panel);
    empty when the file is absent."""
    p = Path(study_dir) / "coverage.csv"
    if not p.is_file():
        return {}
    cov = pd.read_csv(p, usecols=["unit", "unit_name"], dtype=str).drop_duplicates("unit")
    return dict(zip(cov["unit"], cov["unit_name"], strict=False))


def stage_job(study: dict, stage: str, options: dict, study_dir: str | Path, outdir: str | Path,
              graph: str | Path | None = None) -> list[Path]:
    """Run one registered analysis stage (:data:`dlddrivers.stages.STAGES`) on a built panel
    with its config slice (:func:`stage_slice`): compute its tables, check each against its
    contract, write them (CSV), draw its figures and write a run record. ``graph`` is the causal
    graph file (stages that need one)."""
    import time

    from .provenance import package_versions, sha256_file
    from .stages import STAGES

    if stage not in STAGES:
        from .errors import ConfigError

        raise ConfigError("stage", stage, f"one of {list(STAGES)}")
    st = STAGES[stage]
    t0, c0 = time.perf_counter(), time.process_time()
    panel, dictionary = read_panel(study_dir)
    graph_obj = None
    if "graph" in st.needs:
        from .causal.graph import load_graph

        graph_obj = load_graph(graph or study["graph"], panel_columns=list(panel.columns))
    tables = st.run(panel, dictionary, study, options, graph_obj)
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, table in tables.items():
        p = out / f"{name}.csv"
        table.to_csv(p, index=False)
        written.append(p)
    t1, c1 = time.perf_counter(), time.process_time()
    # figures name units as the registry does (codes stay in the tables)
    plot_study = {**study, "unit_names": unit_names(study_dir)}
    from .plots import style

    style.OVERLAPS.clear()
    figures = st.draw(tables, panel, dictionary, plot_study, out, graph_obj)
    record = {
        "study": study["name"], "stage": stage, "seed": study["seed"], "options": options,
        "function": st.function,
        "panel_sha256": sha256_file(Path(study_dir) / "panel.parquet"),
        "tables": {p.name: len(tables[p.stem]) for p in written},
        "figures": [Path(f).name for f in figures],
        # texts whose rendered boxes overlap, per figure (empty when every figure reads cleanly)
        "text_overlaps": {k: [list(p) for p in v] for k, v in style.OVERLAPS.items()},
        "seconds_compute": round(t1 - t0, 3), "seconds_plot": round(time.perf_counter() - t1, 3),
        # CPU seconds of this process (wall seconds grow with the machine's load, these do not)
        "cpu_seconds_compute": round(c1 - c0, 3), "cpu_seconds_plot": round(time.process_time() - c1, 3),
        "packages": package_versions(),
    }
    (out / "run.json").write_text(json.dumps(record, indent=2, default=str))
    return written + [Path(f) for f in figures]
