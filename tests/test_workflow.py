"""End to end: the Snakemake workflow on the snapshot, into a temporary results folder."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slow


def _snakemake(repo: Path, *args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("snakemake") or str(Path(sys.executable).parent / "snakemake")
    return subprocess.run([exe, *args], cwd=repo, capture_output=True, text=True, timeout=900)


def test_default_studies_end_to_end(repo, snapshot, default_results):
    out = default_results
    for study in ("neasia", "mongolia_aimag", "mongolia_dzud"):
        d = out / study
        for name in ("panel.csv", "panel.parquet", "coverage.csv", "coverage.png", "data_dictionary.csv",
                     "provenance.json", "drops.csv"):
            assert (d / name).stat().st_size > 0, name
        panel = pd.read_csv(d / "panel.csv")
        assert panel.equals(pd.read_parquet(d / "panel.parquet"))
        for stage in ("trends", "panel_regression", "relative_importance", "restrend", "geodetector",
                      "sdg", "attribution", "impacts", "causal"):
            tables = list((d / stage).glob("*.csv"))
            assert tables and (d / stage / "run.json").is_file(), (study, stage)
            # every figure rendered with no two texts overlapping (checked on the rendered boxes)
            run = json.loads((d / stage / "run.json").read_text())
            assert run["text_overlaps"] == {}, (study, stage, run["text_overlaps"])
            for t in tables:
                df = pd.read_csv(t)
                if len(df) and "estimand" in df.columns:
                    assert df["estimand"].notna().all(), t  # every number names its estimand
    assert (out / "summary.md").stat().st_size > 0 and (out / "summary.html").stat().st_size > 0
    # the new figures exist for each study they apply to, and every map has its GeoPackage
    for study in ("neasia", "mongolia_aimag", "mongolia_dzud"):
        d = out / study
        assert (d / "maps" / f"{study}.gpkg").stat().st_size > 0, study
        assert list((d / "trends").glob("unit_drivers_*.png")), study
        assert list((d / "geodetector").glob("geodetector_risk_*.png")), study
        assert list((d / "attribution").glob("attribution_*.png")) or study == "mongolia_dzud", study
    assert list((out / "mongolia_aimag" / "maps").glob("map_restrend_*.png"))
    for name in ("heads_lost.png", "impact_vs_climate_mort_sfu.png", "heads_lost.csv"):
        assert (out / "mongolia_dzud" / "impacts" / name).stat().st_size > 0, name
    # a second dry run on the finished tree has nothing to do
    r2 = _snakemake(repo, "-n", "--cores", "2", "--config", f"snapshot_dir={snapshot}", f"results_dir={out}",
                    "validation=False")
    assert r2.returncode == 0 and "Nothing to be done" in r2.stdout + r2.stderr


def test_drylands_config_end_to_end(repo, snapshot, tmp_path):
    out = tmp_path / "results"
    r = _snakemake(repo, "--cores", "2", "--configfile", "config/drylands.yaml", "--config",
                   f"snapshot_dir={snapshot}", f"results_dir={out}", "validation=False")
    assert r.returncode == 0, r.stderr[-3000:]
    panel = pd.read_csv(out / "drylands" / "panel.csv")
    assert panel["unit"].nunique() == 13


def test_bad_config_stops_before_any_job(repo, snapshot, tmp_path):
    out = tmp_path / "results"
    r = _snakemake(repo, "--cores", "1", "--config", f"snapshot_dir={snapshot}", f"results_dir={out}",
                   "run=[neasia,atlantis]")
    assert r.returncode != 0
    assert "atlantis" in r.stderr + r.stdout
    assert not out.exists()


def test_grid_study_in_default_target(default_results):
    d = default_results / "inner_mongolia_grid"
    status = pd.read_csv(d / "stages_not_applicable.csv")
    assert set(status["stage"]) >= {"trends", "panel_regression", "causal"}
    assert status["status"].str.startswith("not_applicable").all()
    assert not (d / "trends").exists() and not (d / "panel.csv").exists()
    for km in (5, 10, 20, 30, 40, 50):
        g = d / f"grid_{km}km"
        f = pd.read_csv(g / "geodetector" / "factor.csv")
        assert len(f) == 6 and f["q"].notna().all() and (f["estimand"] == "association").all()
        cont = f[f["type"] == "continuous"]
        assert cont["method"].isin(["equal", "natural", "quantile", "geometric", "sd"]).all()
        for t in ("interaction", "risk", "risk_means", "ecological", "discretisation"):
            assert len(pd.read_csv(g / "geodetector" / f"{t}.csv")), (km, t)
        sh = pd.read_csv(g / "ml" / "shares.csv")
        assert set(sh["group"]) == {"biophysical", "anthropogenic"}
        assert (sh["estimand"] == "share_of_mean_abs_shap").all()
        assert sh["share"].sum() == pytest.approx(1)
        for fig in ("geodetector/geodetector_q.png", "geodetector/geodetector_interaction.png",
                    "geodetector/geodetector_risk.png", "ml/shap_beeswarm.png",
                    "ml/shap_group_shares.png"):
            assert (g / fig).stat().st_size > 0, (km, fig)
        for sub in ("geodetector", "ml"):  # every grid figure reads cleanly (no text on text)
            run = json.loads((g / sub / "run.json").read_text())
            assert run["text_overlaps"] == {}, (km, sub, run["text_overlaps"])
    scale = pd.read_csv(d / "scale" / "scale.csv")
    assert set(scale[scale["measure"] == "q"]["grid_km"]) == {5, 10, 20, 30, 40, 50}
    assert "Study `inner_mongolia_grid`" in (default_results / "summary.md").read_text()


def test_grid_study_one_grid_size(repo, snapshot, tmp_path):
    cfg = tmp_path / "one_grid.yaml"
    cfg.write_text("run: [inner_mongolia_grid]\nstudies:\n  inner_mongolia_grid:\n"
                   "    grid_sizes_km: [50]\n")
    out = tmp_path / "results"
    r = _snakemake(repo, "--cores", "2", "--configfile", "config/config.yaml", str(cfg), "--config",
                   f"snapshot_dir={snapshot}", f"results_dir={out}", "validation=False")
    assert r.returncode == 0, r.stderr[-3000:]
    d = out / "inner_mongolia_grid"
    assert sorted(p.name for p in d.glob("grid_*km")) == ["grid_50km"]
    assert set(pd.read_parquet(d / "data" / "cells.parquet")["grid_km"]) == {50}
    # only the 50 km file is read (the config slice lists every grid file of the source)
    read = [Path(r["path"]).name for r in json.loads((d / "data" / "provenance.json").read_text())["raw_files"]]
    assert read == ["ndvi_50.rda"], read
