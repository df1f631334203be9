"""Tests for RESTREND (dlddrivers.methods.restrend)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dlddrivers.methods import restrend as rt

DICT = pd.DataFrame({
    "indicator": ["ndvi", "precip", "temp", "sheep"],
    "role": ["outcome", "driver", "driver", "driver"],
    "domain": ["outcome", "climate", "climate", "grazing"],
    "measure": ["NDVI", "mm", "degC", "SFU per km2"],
})
STUDY = {"name": "syn", "outcomes": ["ndvi"], "drivers": ["precip", "temp", "sheep"], "seed": 3}


def make(n_units=6, n_years=30, a=0.02, b=-0.05, c=0.0, noise=0.3, seed=0, break_year=None):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_units):
        yrs = np.arange(1991, 1991 + n_years)
        precip = rng.normal(300, 60, n_years)
        temp = rng.normal(0, 1, n_years)
        sheep = np.cumsum(rng.normal(0, 1, n_years))
        slope = np.where(yrs >= break_year, 3 * a, a) if break_year else a
        y = 5 + slope * precip + b * (yrs - yrs[0]) + c * sheep + rng.normal(0, noise, n_years)
        rows.append(pd.DataFrame({"unit": f"U{i}", "year": yrs, "ndvi": y, "precip": precip,
                                  "temp": temp, "sheep": sheep}))
    return pd.concat(rows, ignore_index=True)


def test_recovers_planted_nonclimatic_trend():
    df = make(b=-0.05)
    df.loc[5, "precip"] = np.nan
    out = rt.compute(df, DICT, STUDY, {"bootstrap_draws": 49})
    r = out["restrend"].set_index("unit")
    assert (r["status"].str.startswith("ok")).all()
    # slope SE is ~0.006-0.008 per unit (noise 0.3, 30 years, precip absorbs some trend)
    assert r["residual_slope"].to_numpy() == pytest.approx(-0.05, abs=0.025)
    assert r["residual_slope"].mean() == pytest.approx(-0.05, abs=0.008)
    assert ((r["ci_low"] < -0.05) & (-0.05 < r["ci_high"])).sum() >= 5
    assert (r["mk_p"] < 0.01).all()
    assert r.loc["U0", "n_dropped"] == 1 and r.loc["U0", "n_obs"] == 29
    assert r["note"].str.contains("not automatically human").all()
    assert (r["estimand"] == "trend").all()
    res = out["residuals"]
    np.testing.assert_allclose(res["observed"] - res["fitted"], res["residual"], atol=1e-12)


def test_refuses_when_outcome_unrelated_to_climate():
    df = make(a=0.0, b=0.0, seed=4)
    r = rt.compute(df, DICT, STUDY, {"bootstrap_draws": 49})["restrend"]
    refused = r["status"].str.startswith("refused: VPR not significant (p=")
    assert refused.sum() >= 5  # p > 0.10 expected in ~90 % of null units
    assert r.loc[refused, "residual_slope"].isna().all()
    assert r.loc[refused, "vpr_p"].gt(0.10).all()
    short = rt.compute(make(n_years=6), DICT, STUDY, {"bootstrap_draws": 49})["restrend"]
    assert short["status"].str.startswith("insufficient_data").all()


def test_chow_finds_planted_break():
    df = make(n_units=3, n_years=30, a=0.02, b=0.0, noise=0.2, seed=7, break_year=2006)
    r = rt.compute(df, DICT, STUDY, {"bootstrap_draws": 49})["restrend"]
    assert (r["break_year"] == 2006).all()
    assert r["break_detected"].all()
    assert r["status"].str.contains("break in the climate-outcome relation at 2006").all()
    # the level shift from the break can sink the linear VPR: refused, but the break is named
    assert r["status"].str.startswith("refused: VPR not significant").any()
    assert (r["chow_p_bonferroni"] >= r["chow_p"]).all()
    nob = rt.compute(make(n_units=3, seed=8, b=0.0), DICT, STUDY, {"bootstrap_draws": 49})["restrend"]
    assert (~nob["break_detected"]).sum() >= 2


def test_residual_drivers_recover_anthropogenic_effect():
    df = make(n_units=10, n_years=25, b=0.0, c=-0.2, seed=11)
    out = rt.compute(df, DICT, STUDY, {"bootstrap_draws": 199})
    rd = out["residual_drivers"].set_index("driver")
    assert rd.loc["sheep", "coef"] == pytest.approx(-0.2, abs=0.04)
    assert rd.loc["sheep", "p_wild"] < 0.05
    assert rd.loc["sheep", "estimand"] == "association"
    assert "generated regressors" in rd.loc["sheep", "note"]


def test_plot_writes_png(tmp_path):
    from dlddrivers.plots import restrend as plot_mod

    df = make(n_units=5)
    tables = rt.compute(df, DICT, STUDY, {"bootstrap_draws": 29})
    paths = plot_mod.plot(tables, df, DICT, STUDY, tmp_path)
    assert paths and all(p.exists() for p in paths)
