"""The stage registry: adding a stage is one module and one registry entry.

A toy stage (a module written by the test: ``DEFAULTS``, ``compute``, ``plot``) is registered
and then runs through everything that iterates the registry: the job function, the table
contracts, the option checks and the config schema, the report names, the summary's stage
table and the workflow's rules.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dlddrivers import reporting
from dlddrivers.errors import ConfigError
from dlddrivers.stages import STAGES, Stage, TableContractError, TableSpec

ROOT = Path(__file__).resolve().parents[1]

TOY_MODULE = '''
"""A toy stage: the mean of each outcome per unit (a test of the stage registry)."""
import pandas as pd

DEFAULTS = {"scale": 1.0}
OPTION_BOUNDS = {"scale": (0.0, 10.0)}


def compute(panel, dictionary, study, options):
    rows = []
    for y in study["outcomes"]:
        for unit, g in panel.groupby("unit", sort=True):
            rows.append({"unit": unit, "outcome": y, "mean": float(g[y].mean()) * options["scale"],
                         "n_obs": int(g[y].notna().sum()), "status": "ok"})
    return {"unit_means": pd.DataFrame(rows, columns=["unit", "outcome", "mean", "n_obs", "status"])}


def plot(tables, panel, dictionary, study, outdir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    t = tables["unit_means"]
    fig, ax = plt.subplots()
    ax.bar(t["unit"], t["mean"])
    p = outdir / "toy_means.png"
    fig.savefig(p)
    plt.close(fig)
    return [p]
'''


def _toy_stage(tmp_path: Path, monkeypatch) -> Stage:
    """Write the toy module and build its registry entry (not yet registered)."""
    (tmp_path / "toy_stage_mod.py").write_text(TOY_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module("toy_stage_mod")
    return Stage(name="toy", title="Toy stage", compute=mod.compute, plot=mod.plot,
                 defaults=mod.DEFAULTS, bounds=mod.OPTION_BOUNDS, needs=frozenset({"outcomes"}),
                 tables=(TableSpec("unit_means", "Table: toy unit means",
                                   ("unit", "outcome", "mean", "n_obs", "status"),
                                   numeric=("mean", "n_obs"), key=("unit", "outcome")),),
                 figures={"toy_means": "Toy: outcome mean per unit"})


@pytest.fixture
def toy(tmp_path, monkeypatch):
    st = _toy_stage(tmp_path, monkeypatch)
    STAGES.register(st)
    try:
        yield st
    finally:
        STAGES.unregister("toy")


def _study_dir(tmp_path: Path) -> Path:
    d = tmp_path / "results" / "toystudy"
    d.mkdir(parents=True)
    panel = pd.DataFrame({"unit": ["A"] * 3 + ["B"] * 3, "year": [2000, 2001, 2002] * 2,
                          "y": [1.0, 2.0, 3.0, 10.0, np.nan, 20.0]})
    panel.to_parquet(d / "panel.parquet", index=False)
    pd.DataFrame({"indicator": ["y"], "role": ["outcome"], "domain": ["outcome"], "label": ["Y"],
                  "measure": ["m"], "better": ["higher"]}).to_csv(d / "data_dictionary.csv", index=False)
    pd.DataFrame({"unit": ["A", "B"], "unit_name": ["Aland", "Bland"], "indicator": ["y", "y"],
                  "role": ["outcome"] * 2, "year": [2000, 2000], "status": ["observed"] * 2,
                  "note": ["", ""]}).to_csv(d / "coverage.csv", index=False)
    return d


def test_builtin_registry_order_and_contracts():
    assert list(STAGES) == ["trends", "panel_regression", "relative_importance", "restrend", "geodetector",
                            "sdg", "attribution", "impacts", "causal"]
    for st in STAGES.values():
        assert st.tables, st.name
        assert st.function.startswith("dlddrivers."), st.function
        for t in st.tables:
            assert len(set(t.columns)) == len(t.columns), (st.name, t.name)
            assert set(t.numeric) <= set(t.columns) and set(t.key) <= set(t.columns)
    assert "graph" in STAGES["causal"].needs and "graph" not in STAGES["trends"].needs
    from dlddrivers.stages import GRID_STAGES

    assert {t.name for t in GRID_STAGES["grid_geodetector"].tables} >= {"factor", "interaction", "risk"}
    assert {t.name for t in GRID_STAGES["grid_ml"].tables} >= {"shares", "cv", "shap_values"}


def test_variable_columns_contract():
    spec = TableSpec("shap", "t", ("study", "y"), variable_columns=True)
    ok = pd.DataFrame({"shap_a": [0.1], "a": [2.0], "study": ["s"], "y": ["ndvi"]})
    spec.check(ok, "grid_ml")
    with pytest.raises(TableContractError, match=r"columns \['b'\] are not numbers"):
        spec.check(ok.assign(b=["x"]), "grid_ml")
    with pytest.raises(TableContractError, match="missing columns"):
        spec.check(ok.drop(columns="y"), "grid_ml")


def test_toy_stage_runs_through_the_job(toy, tmp_path):
    from dlddrivers.pipeline import stage_job

    d = _study_dir(tmp_path)
    study = {"name": "toystudy", "seed": 1, "outcomes": ["y"]}
    written = stage_job(study, "toy", {"scale": 2.0}, d, d / "toy")
    t = pd.read_csv(d / "toy" / "unit_means.csv")
    # hand computation: A mean 2, B mean 15 (NaN skipped), times scale 2
    assert t["mean"].tolist() == [4.0, 30.0] and t["n_obs"].tolist() == [3, 2]
    assert (d / "toy" / "toy_means.png") in written
    run = json.loads((d / "toy" / "run.json").read_text())
    assert run["function"] == "toy_stage_mod.compute" and run["tables"] == {"unit_means.csv": 2}


def test_contract_breaks_are_named(toy, tmp_path):
    bad = pd.DataFrame({"unit": ["A"], "outcome": ["y"], "mean": ["high"], "n_obs": [1], "status": ["ok"]})
    with pytest.raises(TableContractError, match=r"stage 'toy', table 'unit_means.csv'.*mean"):
        toy.check_tables({"unit_means": bad})
    with pytest.raises(TableContractError, match="missing columns \\['status'\\]"):
        toy.check_tables({"unit_means": bad.drop(columns="status").assign(mean=1.0)})
    with pytest.raises(TableContractError, match="not declared"):
        toy.check_tables({"unit_means": bad.assign(mean=1.0), "other": bad})
    dup = pd.concat([bad.assign(mean=1.0)] * 2)
    with pytest.raises(TableContractError, match="unit_means"):
        toy.check_tables({"unit_means": dup})
    with pytest.raises(TableContractError, match="declared but not returned"):
        toy.check_tables({})
    toy.check_tables({"unit_means": bad.assign(mean=1.0)})  # passes


def test_toy_stage_options_schema_report_and_summary(toy, tmp_path):
    from dlddrivers.config import validate_schema
    from dlddrivers.pipeline import check_stage_options, stage_options
    from dlddrivers.summary import read_study, stage_status_section

    cfg = {"methods": {"toy": {"scale": 3.0}}}
    check_stage_options(cfg)
    assert stage_options(cfg, "toy") == {"scale": 3.0}
    with pytest.raises(ConfigError, match="toy"):
        check_stage_options({"methods": {"toy": {"scale": 11.0}}})
    with pytest.raises(ConfigError, match="toy"):
        check_stage_options({"methods": {"toy": {"unknown": 1}}})
    # the schema's methods keys come from the registry
    base = json.loads(json.dumps(pytest.importorskip("dlddrivers.config").load_config(ROOT / "config" / "config.yaml")))
    base["methods"] = {"toy": {"scale": 1.0}}
    validate_schema(base)
    base["methods"] = {"toy_missing": {}}
    with pytest.raises(ConfigError, match="methods"):
        validate_schema(base)
    # report: numbered after the last built-in stage, items titled from the entry
    assert reporting.stage_subcategory("toy") == f"{len(STAGES) + 1:02d} Toy stage"
    assert reporting.maps_subcategory().startswith(f"{len(STAGES) + 2:02d}")
    assert reporting.item_title("toy_means") == "Toy: outcome mean per unit"
    assert reporting.item_title("unit_means", stage="toy") == "Table: toy unit means"
    # summary: the stage table lists it (ran) once it has run
    from dlddrivers.pipeline import stage_job

    d = _study_dir(tmp_path)
    stage_job({"name": "toystudy", "seed": 1, "outcomes": ["y"]}, "toy", {"scale": 1.0}, d, d / "toy")
    md = stage_status_section(read_study(d))
    assert "| toy | ran | `unit_means.csv` (2) | 0 |" in md


def _with_toy_stage(tmp_path: Path, body: str, priority: int = 0):
    """Run ``body`` (Python) in a fresh interpreter after registering the toy stage with
    ``priority`` in the registry there (Snakemake then runs in that process); return it."""
    (tmp_path / "toy_stage_mod.py").write_text(TOY_MODULE)
    script = textwrap.dedent(f"""
        import dataclasses, sys
        from pathlib import Path
        sys.path.insert(0, {str(tmp_path)!r})
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import test_stages
        from dlddrivers.stages import STAGES
        class _MP:
            def syspath_prepend(self, p): sys.path.insert(0, p)
        toy = test_stages._toy_stage(Path({str(tmp_path)!r}), _MP())
        STAGES.register(dataclasses.replace(toy, priority={priority}))
    """) + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=600, cwd=tmp_path)


def test_toy_stage_becomes_a_workflow_rule(tmp_path, monkeypatch):
    """The workflow's rules come from the registry: with the toy stage registered (in the same
    process as Snakemake), a dry run schedules one `toy` job per panel study."""
    r = _with_toy_stage(tmp_path, f"""
        from snakemake.cli import main
        main(["-n", "--quiet", "rules", "--cores", "1", "--directory", {str(ROOT)!r},
              "--snakefile", {str(ROOT / "Snakefile")!r}, "--forceall",
              "results/neasia/toy", "results/mongolia_aimag/toy",
              "--config", "validation=False", "snapshot_dir={_snapshot()}"])
    """)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    counts = {line.split()[0]: line.split()[1] for line in out.splitlines()
              if len(line.split()) == 2 and line.split()[1].isdigit()}
    assert counts.get("toy") == "2", out[-3000:]


def test_stage_rules_carry_the_registry_priority(tmp_path):
    """Each stage rule's Snakemake priority is its registry entry's (a registered toy stage's
    too): the long stages and those the maps read start first when cores are free."""
    r = _with_toy_stage(tmp_path, f"""
        import json
        from snakemake.api import SnakemakeApi
        from snakemake.settings.types import (ConfigSettings, OutputSettings, ResourceSettings,
                                              StorageSettings)
        with SnakemakeApi(OutputSettings()) as api:
            wf = api.workflow(
                resource_settings=ResourceSettings(cores=1),
                config_settings=ConfigSettings(config={{"validation": False,
                                                        "snapshot_dir": {_snapshot()!r}}}),
                storage_settings=StorageSettings(),
                snakefile=Path({str(ROOT / "Snakefile")!r}), workdir=Path({str(ROOT)!r}))
            print(json.dumps({{r.name: r.priority for r in wf._workflow.rules}}))
    """, priority=5)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    rules = json.loads(r.stdout.strip().splitlines()[-1])
    assert rules["toy"] == 5
    for name, stage in STAGES.items():
        assert rules[name] == stage.priority, name
    # the stages the maps read start before the others; so do the maps
    assert min(STAGES[s].priority for s in ("trends", "attribution", "restrend")) > 0
    assert STAGES["geodetector"].priority == 0 and rules["maps"] > 0


def _snapshot() -> str:
    from conftest import SNAPSHOT_DIR

    if not SNAPSHOT_DIR.is_dir():
        pytest.skip("no raw-data snapshot beside the checkout")
    return str(SNAPSHOT_DIR)


def test_contract_reads_values_only_when_the_dtype_does_not_decide():
    """Number-typed columns pass on their dtype (pandera is not even imported); an object
    column is read value by value by the pandera schema: numbers pass, a string or a bool
    fails naming the column."""
    import subprocess
    import sys

    spec = TableSpec("t", "t", ("unit", "mean", "n"), numeric=("mean", "n"))
    ok_object = pd.DataFrame({"unit": ["A", "B"], "mean": pd.Series([1.5, None], dtype=object),
                              "n": pd.Series([1, 2], dtype=object)})
    spec.check(ok_object, "s")
    for bad in (["x", 1.0], [True, 1.0]):
        t = ok_object.assign(mean=pd.Series(bad, dtype=object))
        with pytest.raises(TableContractError, match="mean"):
            spec.check(t, "s")
    with pytest.raises(TableContractError, match="mean"):
        spec.check(ok_object.assign(mean=[True, False]), "s")  # bool dtype is not a number
    code = ("import sys, pandas as pd\n"
            "from dlddrivers.stages import TableSpec\n"
            "TableSpec('t', 't', ('unit', 'mean'), numeric=('mean',))"
            ".check(pd.DataFrame({'unit': ['A'], 'mean': [1.0]}), 's')\n"
            "print('pandera' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "False"
