"""Speed work leaves every number where it was (issue 16): the stage tables of two real studies
and a few validation runs, on a reduced config (fewer draws), equal the tables written by the
code before the speed work (main at efa5aad), stored in tests/data/tables_unchanged/.

The comparison is byte for byte (tables are written at full precision, so one changed bit
shows). Byte identity assumes the same numerical libraries and CPU kernels as the machine that
wrote the reference (``environment.json``); elsewhere the tables are compared to 1e-9 relative
instead, and the test says so. Rewrite the reference only on purpose, when numbers are meant to
change: ``python tests/test_tables_unchanged.py --write`` (run it from the repository root).
"""

from __future__ import annotations

import gzip
import io
import json
import platform
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REF = HERE / "data" / "tables_unchanged"

#: Studies and the reduced draw counts (every other option as in config/config.yaml).
STUDIES = ("mongolia_dzud", "mongolia_aimag")
REDUCED = {"n_sim": 200, "bootstrap_draws": 49, "placebo_draws": 19, "n_boot": 49,
           "refuter_simulations": 5}
#: Validation scenarios (name in config/validation.yaml) and seeds.
SCENARIOS = ("s0.5_conf1_nlow_u6_y15", "s0.2_conf0_nhigh_u21_y30")
SEEDS = (20261125, 20261126)


def environment() -> dict:
    """What decides the last bits of the numbers: library versions, BLAS build, CPU."""
    cfg = np.show_config(mode="dicts") if hasattr(np, "show_config") else {}
    blas = (cfg.get("Build Dependencies", {}) or {}).get("blas", {})
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"numpy": np.__version__, "pandas": pd.__version__,
            "blas": f"{blas.get('name', '')} {blas.get('version', '')}".strip(),
            "machine": platform.machine(), "cpu": cpu}


def reduced_tables(repo: Path, snapshot: Path, workdir: Path) -> dict[str, str]:
    """Every table of every stage of :data:`STUDIES` (panels built from the raw snapshot) and
    the recovery rows of :data:`SCENARIOS`, as CSV text keyed ``study/stage/table``."""
    from dlddrivers.causal.graph import load_graph
    from dlddrivers.config import load_config
    from dlddrivers.pipeline import panel_job, panel_slice, read_panel, setup, stage_slice
    from dlddrivers.stages import STAGES
    from dlddrivers.validation import load_config as load_validation
    from dlddrivers.validation import run_scenario_seeds, scenario_by_name

    cfg = load_config(str(repo / "config" / "config.yaml"))
    cfg["snapshot_dir"] = str(snapshot)
    registry, catalogue, sources = setup(cfg, config_files=[str(repo / "config" / "config.yaml")],
                                         root=repo, check_data=False)
    out: dict[str, str] = {}
    for study in STUDIES:
        sdir = workdir / study
        panel_job(panel_slice(cfg, study, registry, catalogue, sources), snapshot, sdir)
        panel, dic = read_panel(sdir)
        out[f"{study}/panel"] = panel.to_csv(index=False)
        for stage, spec in STAGES.items():
            sl = stage_slice(cfg, study, stage)
            opts = {k: (REDUCED[k] if k in REDUCED and isinstance(v, int) else v)
                    for k, v in sl["options"].items()}
            graph = (load_graph(repo / sl["study"]["graph"], panel_columns=list(panel.columns))
                     if "graph" in spec.needs else None)
            for name, t in spec.run(panel, dic, sl["study"], opts, graph).items():
                out[f"{study}/{stage}/{name}"] = t.to_csv(index=False)
    vcfg = load_validation(str(repo / "config" / "validation.yaml"))
    for name in SCENARIOS:
        for seed, t in zip(SEEDS, run_scenario_seeds(scenario_by_name(vcfg, name), list(SEEDS),
                                                     vcfg.get("methods")), strict=True):
            out[f"validation/{name}/{seed}"] = t.to_csv(index=False)
    return out


def _key_file(key: str) -> Path:
    return REF / (key.replace("/", "__") + ".csv.gz")


def write_reference(tables: dict[str, str]) -> None:
    REF.mkdir(parents=True, exist_ok=True)
    for f in REF.glob("*.csv.gz"):
        f.unlink()
    for key, text in tables.items():
        with open(_key_file(key), "wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", mtime=0) as gz:
            gz.write(text.encode())
    (REF / "environment.json").write_text(json.dumps(
        {"environment": environment(), "tables": sorted(tables)}, indent=1) + "\n")


def _numeric_diff(a: str, b: str) -> str:
    """Largest relative difference of two CSV texts of the same shape ('' if not comparable)."""
    x, y = pd.read_csv(io.StringIO(a)), pd.read_csv(io.StringIO(b))
    if list(x.columns) != list(y.columns) or len(x) != len(y):
        return f"shape {x.shape} vs {y.shape}"
    worst = 0.0
    for c in x.columns:
        if pd.api.types.is_numeric_dtype(x[c]) and pd.api.types.is_numeric_dtype(y[c]):
            u, v = x[c].to_numpy(float), y[c].to_numpy(float)
            if not np.array_equal(np.isnan(u), np.isnan(v)):
                return f"missing values differ in {c}"
            ok = ~np.isnan(u)
            d = np.abs(u[ok] - v[ok]) / np.maximum(np.abs(v[ok]), 1e-300)
            worst = max(worst, float(d.max()) if d.size else 0.0)
        elif not x[c].astype(str).equals(y[c].astype(str)):
            return f"text column {c} differs"
    return f"max relative difference {worst:.3g}"


def test_tables_equal_the_reference_of_the_code_before_the_speed_work(repo, snapshot, tmp_path):
    assert REF.is_dir(), f"{REF}: reference tables missing (see the module docstring)"
    meta = json.loads((REF / "environment.json").read_text())
    tables = reduced_tables(repo, snapshot, tmp_path)
    assert sorted(tables) == meta["tables"], "the set of tables changed"
    exact = meta["environment"] == environment()
    bad = []
    for key, text in tables.items():
        want = gzip.decompress(_key_file(key).read_bytes()).decode()
        if text == want:
            continue
        diff = _numeric_diff(text, want)
        if exact or not diff.startswith("max relative") or float(diff.split()[-1]) > 1e-9:
            bad.append(f"{key}: {diff}")
    assert not bad, ("tables differ from the code before the speed work"
                     + ("" if exact else " (other machine: compared to 1e-9)") + ":\n"
                     + "\n".join(bad))


if __name__ == "__main__":  # python tests/test_tables_unchanged.py --write
    import tempfile

    if "--write" not in sys.argv:
        sys.exit("usage: python tests/test_tables_unchanged.py --write [SNAPSHOT_DIR]")
    args = [a for a in sys.argv[1:] if a != "--write"]
    root = Path.cwd()
    snap = Path(args[0]) if args else (root.parent / "shared" / "data" / "raw")
    with tempfile.TemporaryDirectory() as d:
        write_reference(reduced_tables(root, snap.resolve(), Path(d)))
    print(f"wrote {len(list(REF.glob('*.csv.gz')))} tables to {REF}")
