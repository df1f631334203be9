"""Tests for the attribution table (dlddrivers.methods.attribution)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dlddrivers.methods import attribution as at

DICT = pd.DataFrame({
    "indicator": ["bare", "temp", "spei", "sheep", "crop"],
    "role": ["outcome", "driver", "driver", "driver", "driver"],
    "domain": ["outcome", "climate", "climate", "grazing", "agriculture"],
    "measure": ["% of land", "degC", "SPEI", "SFU per km2", "% of land"],
})
STUDY = {"name": "syn", "outcomes": ["bare"], "drivers": ["temp", "spei", "sheep", "crop"], "seed": 5}
BETA = {"temp": 2.0, "spei": -1.0, "sheep": 0.5, "crop": 0.0}


def make(n_units=8, n_years=25, seed=0, noise=0.3):
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n_units):
        yrs = np.arange(1996, 1996 + n_years)
        tt = yrs - yrs[0]
        temp = 0.04 * tt + rng.normal(0, 0.4, n_years)
        spei = rng.normal(0, 1, n_years)
        sheep = (0.1 + 0.05 * i) * tt + rng.normal(0, 0.5, n_years)
        crop = rng.normal(0, 1, n_years) + 0.02 * tt
        y = 10 + i + BETA["temp"] * temp + BETA["spei"] * spei + BETA["sheep"] * sheep + rng.normal(0, noise, n_years)
        frames.append(pd.DataFrame({"unit": f"U{i}", "year": yrs, "bare": y, "temp": temp,
                                    "spei": spei, "sheep": sheep, "crop": crop}))
    return pd.concat(frames, ignore_index=True)


def _wide(t):
    return t.pivot_table(index="unit", columns="quantity", values="value", aggfunc="first")


def test_components_sum_and_recover_planted_trends():
    df = make()
    df.loc[7, "sheep"] = np.nan
    # no common year shock in this world: the unit-effects-only model is the efficient one here
    tab = at.compute(df, DICT, STUDY, {"bootstrap_draws": 60, "year_effects": False,
                                       "placebo_draws": 0})["attribution"]
    assert tab["estimand"].notna().all()
    w = _wide(tab[tab["method"] == "trend_decomposition"])
    total = w[["climate_change", "climate_variability", "anthropogenic", "common_year_effects", "remainder"]].sum(axis=1)
    np.testing.assert_allclose(total, w["observed_change"], rtol=0, atol=1e-10)
    # planted: climate change = 2 * TS change of temp (+ -1 * spei's ~0 trend); anthro = 0.5 * TS(sheep)
    for u, g in df.dropna().groupby("unit"):
        t = g["year"].to_numpy(float)
        true_cc = BETA["temp"] * at.ts_change(g["temp"].to_numpy()[None], t)[0] + \
            BETA["spei"] * at.ts_change(g["spei"].to_numpy()[None], t)[0]
        true_h = BETA["sheep"] * at.ts_change(g["sheep"].to_numpy()[None], t)[0]
        # tolerance: coefficient error (~0.05-0.1) times driver changes of ~1-3 units
        assert w.loc[u, "climate_change"] == pytest.approx(true_cc, abs=0.1 * abs(true_cc) + 0.25)
        assert w.loc[u, "anthropogenic"] == pytest.approx(true_h, rel=0.1)
    # anthropogenic trend dominates by construction in the pooled row and the interval covers it
    pooled = tab[(tab["unit"] == "pooled") & (tab["quantity"] == "anthropogenic")].iloc[0]
    true_pooled = np.mean([BETA["sheep"] * at.ts_change(g["sheep"].to_numpy()[None], g["year"].to_numpy(float))[0]
                           for _, g in df.dropna().groupby("unit")])
    assert pooled["ci_low"] <= true_pooled <= pooled["ci_high"]
    assert (tab.loc[tab["unit"] == "pooled", "n_units"] == 8).all()
    assert (tab.loc[tab["unit"] == "U0", "n_dropped"] == 1).all()
    # counterfactual: climate-attributable change = beta' (late mean - baseline mean) of climate
    cf = _wide(tab[tab["method"] == "counterfactual"])
    g = df[df.unit == "U3"]
    true_clim = sum(BETA[c] * (g[c].iloc[-5:].mean() - g[c].iloc[:5].mean()) for c in ("temp", "spei"))
    assert cf.loc["U3", "climate_attributable_change"] == pytest.approx(true_clim, abs=0.15 * abs(true_clim) + 0.1)
    assert set(tab["ranking_agreement"].dropna()) <= {"agree", "disagree", "undetermined"}
    assert tab.loc[tab["unit"] == "pooled", "larger_group_trend"].iloc[0] == "anthropogenic"


def test_climate_only_world_and_rolling_mode():
    df = make(seed=3)
    df["bare"] = df["bare"] - BETA["sheep"] * df["sheep"]  # no human effect
    tab = at.compute(df, DICT, STUDY, {"bootstrap_draws": 30, "climate_change": "rolling"})["attribution"]
    w = _wide(tab[tab["method"] == "trend_decomposition"])
    np.testing.assert_allclose(w[["climate_change", "climate_variability", "anthropogenic", "common_year_effects", "remainder"]].sum(axis=1),
                               w["observed_change"], atol=1e-10)
    assert (w["anthropogenic"].abs() < 0.2 * w["observed_change"].abs() + 0.1).all()
    lmg = tab[(tab["method"] == "lmg") & (tab["unit"] == "pooled")].set_index("quantity")
    assert lmg.loc["biophysical_share", "value"] > lmg.loc["anthropogenic_share", "value"]
    assert lmg.loc["biophysical_share", "estimand"] == "share_of_explained_variance"


def test_short_units_reported_and_reproducible():
    df = make(n_units=4, seed=1)
    df.loc[(df.unit == "U0") & (df.year > 2000), "bare"] = np.nan
    a = at.compute(df, DICT, STUDY, {"bootstrap_draws": 20})["attribution"]
    b = at.compute(df, DICT, STUDY, {"bootstrap_draws": 20})["attribution"]
    pd.testing.assert_frame_equal(a, b)
    u0 = a[a["unit"] == "U0"]
    assert len(u0) == 1 and u0["status"].iloc[0].startswith("insufficient_data: 5 complete years")


def test_plot_writes_png(tmp_path):
    from dlddrivers.plots import attribution as plot_mod

    df = make(n_units=4)
    tables = at.compute(df, DICT, STUDY, {"bootstrap_draws": 20})
    paths = plot_mod.plot(tables, df, DICT, STUDY, tmp_path)
    assert paths and all(p.exists() for p in paths)


def test_pooled_shares_are_ratios_of_pooled_components():
    # one unit with no observed change (Theil-Sen change exactly 0): its own share is undefined,
    # but the pooled share must still be the ratio of the pooled components shown beside it
    df = make(n_units=5, seed=2)
    df.loc[df.unit == "U0", "bare"] = 10.0
    tab = at.compute(df, DICT, STUDY, {"bootstrap_draws": 30})["attribution"]
    p = tab[tab["unit"] == "pooled"].set_index("quantity")["value"]
    assert p["observed_change"] != 0
    for q in ("climate_change", "climate_variability", "anthropogenic", "remainder"):
        assert np.isfinite(p[f"{q}_share_of_observed"])
        assert p[f"{q}_share_of_observed"] == pytest.approx(p[q] / p["observed_change"])
    assert p["climate_share_of_predicted_change"] == pytest.approx(
        p["climate_attributable_change"] / p["predicted_change"])
    ci = tab[(tab["unit"] == "pooled") & (tab["quantity"] == "anthropogenic_share_of_observed")].iloc[0]
    assert np.isfinite(ci["ci_low"]) and np.isfinite(ci["ci_high"])


def _true_pooled_anthro(df):
    return np.mean([BETA["sheep"] * at.ts_change(g["sheep"].to_numpy()[None], g["year"].to_numpy(float))[0]
                    for _, g in df.groupby("unit")])


def test_common_trend_not_attributed_to_drivers():
    """A trend shared by every unit (trending year effects) must go to the common component,
    not to the trending anthropogenic driver (issue 13: the unit-FE-only decomposition missed)."""
    df = make(n_units=12, seed=4)
    df["bare"] += 0.3 * (df["year"] - 1996)  # common trend of the outcome, no driver behind it
    truth = _true_pooled_anthro(df)
    new = at.compute(df, DICT, STUDY, {"bootstrap_draws": 100, "placebo_draws": 0})["attribution"]
    old = at.compute(df, DICT, STUDY, {"bootstrap_draws": 100, "placebo_draws": 0,
                                       "year_effects": False})["attribution"]
    pn = new[new["unit"] == "pooled"].set_index("quantity")
    po = old[old["unit"] == "pooled"].set_index("quantity")
    assert pn.loc["anthropogenic", "ci_low"] <= truth <= pn.loc["anthropogenic", "ci_high"]
    assert not po.loc["anthropogenic", "ci_low"] <= truth <= po.loc["anthropogenic", "ci_high"]
    assert pn.loc["common_year_effects", "value"] == pytest.approx(0.3 * 24, rel=0.15)
    w = _wide(new[new["method"] == "trend_decomposition"])
    parts = ["climate_change", "climate_variability", "anthropogenic", "common_year_effects", "remainder"]
    np.testing.assert_allclose(w[parts].sum(axis=1), w["observed_change"], atol=1e-9)


def test_ratio_with_denominator_spanning_zero_is_left_empty():
    """No observed change in any unit (pure noise outcome): the shares of the observed change are
    ratios over a denominator whose interval spans zero; they must be empty with a reason,
    while the components stay."""
    df = make(n_units=8, seed=6)
    rng = np.random.default_rng(1)
    df["bare"] = rng.normal(size=len(df))
    tab = at.compute(df, DICT, STUDY, {"bootstrap_draws": 60, "placebo_draws": 0})["attribution"]
    p = tab[tab["unit"] == "pooled"].set_index("quantity")
    assert p.loc["observed_change", "ci_low"] <= 0 <= p.loc["observed_change", "ci_high"]
    r = p.loc["anthropogenic_share_of_observed"]
    assert np.isnan(r["value"]) and np.isnan(r["ci_low"]) and np.isnan(r["ci_high"])
    assert r["status"].startswith("not_defined: the denominator's interval")
    assert np.isfinite(p.loc["anthropogenic", "value"]) and np.isfinite(p.loc["observed_change", "value"])
    assert p.loc["anthropogenic", "status"].startswith("ok")


def test_ratio_status_outside_own_interval():
    assert at.ratio_status(21.0, -13.2, 17.7, 0.1, 0.5).startswith("not_defined: the estimate 21")
    assert at.ratio_status(0.4, 0.1, 0.7, 0.1, 0.5) is None
    assert "spans zero" in at.ratio_status(0.4, 0.1, 0.7, -0.1, 0.5)


def test_insufficient_pooled_block_carries_no_numbers():
    df = make(n_units=2, seed=1)
    tab = at.compute(df, DICT, STUDY, {"bootstrap_draws": 10, "placebo_draws": 0})["attribution"]
    p = tab[tab["unit"] == "pooled"]
    assert p["status"].str.startswith("insufficient_data").all()
    assert p[["value", "ci_low", "ci_high"]].isna().all().all()


def test_pooled_shares_placebo_calibrated():
    df = make(n_units=10, seed=8)
    tab = at.compute(df, DICT, STUDY, {"bootstrap_draws": 30, "placebo_draws": 60})["attribution"]
    p = tab[tab["unit"] == "pooled"].set_index("quantity")
    for q in ("anthropogenic_share", "biophysical_share", "anthropogenic_share_of_observed"):
        assert p.loc[q, "calibration"] in ("exceeds_placebo", "indistinguishable_from_placebo")
        assert p.loc[q, "placebo_draws"] == 60 and np.isfinite(p.loc[q, "placebo_p95"])
    # climate (temp: coefficient 2, strong noise beyond its trend) beats surrogates with its trend
    assert p.loc["biophysical_share", "calibration"] == "exceeds_placebo"


def test_fit_fe_equals_dummy_regression_unbalanced():
    from dlddrivers.methods import paneltools as P

    df = make(n_units=5, n_years=12, seed=9).drop(index=[3, 20, 40]).reset_index(drop=True)
    u, t = P.codes(df["unit"]), P.codes(df["year"])
    X = df[["temp", "spei", "sheep"]].to_numpy()
    y = df["bare"].to_numpy() + 0.2 * t  # a common trend
    b, fitted, lam = at.fit_fe(y, X, u, t, 12)
    D = np.column_stack([X, np.eye(5)[u], np.eye(12)[t][:, 1:]])
    coef = np.linalg.lstsq(D, y, rcond=None)[0]
    np.testing.assert_allclose(b, coef[:3], atol=1e-8)
    np.testing.assert_allclose(fitted, D @ coef, atol=1e-7)
    ref = np.r_[0.0, coef[8:]]
    np.testing.assert_allclose(lam, ref - ref.mean(), atol=1e-7)


def test_array_sums_equal_pandas_to_the_last_bit():
    """The bootstrap's pooled sums and means on arrays equal DataFrame.sum/mean bit for bit
    (pairwise summation order, missing values skipped), for few and many units."""
    from dlddrivers.methods.attribution import _column_sums, _unit_mean

    rng = np.random.default_rng(7)
    cols = [f"c{j}" for j in range(12)]
    for n in (3, 9, 21, 130):
        M = rng.normal(size=(n, 12)) * 10 ** rng.uniform(-6, 6, size=(n, 12))
        M[rng.random(M.shape) < 0.05] = np.nan
        df = pd.DataFrame.from_dict({f"u{i:03d}": dict(zip(cols, M[i], strict=True)) for i in range(n)},
                                    orient="index")
        w = rng.integers(0, 4, size=n)
        assert np.array_equal(df.mean().to_numpy(), _unit_mean(M, cols).to_numpy(), equal_nan=True)
        ref = df.mul(pd.Series(w, index=df.index), axis=0).sum().to_numpy()
        assert np.array_equal(ref, _column_sums(M, w), equal_nan=True)


def test_pooled_rows_only_give_the_same_pooled_numbers():
    """unit_rows=False (what the validation scores) writes the pooled rows only, equal to the
    pooled rows of the full table (the pooled bootstraps draw from their own streams)."""
    df = make(n_units=6, n_years=20)
    opts = {"bootstrap_draws": 30, "placebo_draws": 20}
    full = at.compute(df, DICT, STUDY, opts)["attribution"]
    pooled = at.compute(df, DICT, STUDY, {**opts, "unit_rows": False})["attribution"]
    assert set(pooled["unit"]) == {"pooled"} and set(full["unit"]) > {"pooled"}
    ref = full[full["unit"] == "pooled"].reset_index(drop=True)
    pd.testing.assert_frame_equal(pooled.reset_index(drop=True), ref)
