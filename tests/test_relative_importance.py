"""Tests for LMG / Shapley R2 decomposition (dlddrivers.methods.relative_importance)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from dlddrivers.methods import relative_importance as ri
from dlddrivers.methods.paneltools import within


def _r2(X, y):
    if X.shape[1] == 0:
        return 0.0
    Xc = np.column_stack([np.ones(len(y)), X])
    b = np.linalg.lstsq(Xc, y, rcond=None)[0]
    e = y - Xc @ b
    return 1 - e @ e / np.sum((y - y.mean()) ** 2)


def brute_force_lmg(X, y):
    """Average over all p! orderings of refit-OLS R2 increments."""
    p = X.shape[1]
    acc = np.zeros(p)
    perms = list(itertools.permutations(range(p)))
    for order in perms:
        prev = 0.0
        for k, j in enumerate(order):
            cur = _r2(X[:, list(order[: k + 1])], y)
            acc[j] += cur - prev
            prev = cur
    return acc / len(perms)


@pytest.mark.parametrize("p", [3, 4])
def test_lmg_equals_brute_force(p):
    rng = np.random.default_rng(p)
    M = rng.normal(size=(p, p))
    X = rng.normal(size=(80, p)) @ M  # correlated predictors
    y = X @ rng.normal(size=p) + rng.normal(size=80) * 2
    phi, total = ri.lmg(X, y)
    np.testing.assert_allclose(phi, brute_force_lmg(X, y), atol=1e-10)
    assert phi.sum() == pytest.approx(total, abs=1e-12)
    assert total == pytest.approx(_r2(X, y), abs=1e-12)


def test_refuses_too_many_predictors():
    p = ri.MAX_PREDICTORS + 1
    with pytest.raises(ri.TooManyPredictorsError, match=rf"at most MAX_PREDICTORS={ri.MAX_PREDICTORS}.*got p={p}"):
        ri.lmg(np.random.default_rng(0).normal(size=(50, p)), np.zeros(50) + np.arange(50))
    df, dic, study = make_panel(n_units=5, n_years=6, p=p)
    out = ri.compute(df, dic, study, {"bootstrap_draws": 5})["shares"]
    assert len(out) == 2 and out["status"].str.startswith("refused:").all()  # one per estimand
    assert f"got p={p}" in out["status"].iloc[0] and np.isnan(out["share"].iloc[0])


def make_panel(n_units=40, n_years=15, p=4, betas=None, seed=0, unit_sd=5.0):
    rng = np.random.default_rng(seed)
    betas = np.asarray(betas if betas is not None else [0.0] * p, float)
    units = [f"U{i:02d}" for i in range(n_units)]
    years = np.arange(2000, 2000 + n_years)
    df = pd.MultiIndex.from_product([units, years], names=["unit", "year"]).to_frame(index=False)
    X = rng.normal(size=(len(df), p))
    a = rng.normal(0, unit_sd, n_units)[pd.factorize(df["unit"])[0]]
    lt = rng.normal(0, unit_sd, n_years)[pd.factorize(df["year"])[0]]
    X[:, 0] += a / 2  # unit effects correlated with a driver: must not enter the within R2
    df["y"] = X @ betas + a + lt + rng.normal(size=len(df))
    names = [f"x{j}" for j in range(p)]
    df[names] = X
    doms = (["climate", "climate", "grazing", "mining"] + ["population"] * p)[:p]
    dic = pd.DataFrame({"indicator": ["y", *names], "role": ["outcome"] + ["driver"] * p,
                        "domain": ["outcome", *doms]})
    return df, dic, {"name": "syn", "outcomes": ["y"], "drivers": names, "seed": 11}


def test_within_shares_contain_truth_and_sum():
    betas = np.array([1.0, 0.5, 0.8, 0.0])
    df, dic, study = make_panel(betas=betas)
    df.loc[[3, 50], "x2"] = np.nan
    out = ri.compute(df, dic, study, {"bootstrap_draws": 200})["shares"]
    assert set(out["variation"]) == {"levels", "year_to_year"}
    out = out[out["variation"] == "levels"]
    pred = out[out["level"] == "predictor"].set_index("predictor")
    grp = out[out["level"] == "group"].set_index("predictor")
    # independent unit-variance predictors (within): true contribution b_j^2 / (sum b^2 + 1)
    truth = betas**2 / (np.sum(betas**2) + 1.0)
    # (LMG of a null predictor is positively biased in samples, so 0 sits outside the interval
    # by construction: only the planted non-zero contributions are checked for coverage)
    assert pred.loc["x3", "r2_contribution"] < 0.01
    for j, t in enumerate(truth[:3]):
        row = pred.loc[f"x{j}"]
        assert row["r2_ci_low"] <= t <= row["r2_ci_high"], (j, t, row["r2_ci_low"], row["r2_ci_high"])
    assert pred["r2_contribution"].sum() == pytest.approx(pred["total_r2"].iloc[0], abs=1e-12)
    assert pred["share"].sum() == pytest.approx(1.0, abs=1e-12)
    assert grp.loc["biophysical", "share"] == pytest.approx(pred.loc[["x0", "x1"], "share"].sum(), abs=1e-12)
    assert grp.loc["anthropogenic", "share"] == pytest.approx(pred.loc[["x2", "x3"], "share"].sum(), abs=1e-12)
    assert grp.loc["grazing", "r2_contribution"] == pytest.approx(pred.loc["x2", "r2_contribution"])
    assert (out["n_dropped"] == 2).all() and (out["estimand"] == "share_of_explained_variance").all()
    assert (out["status"] == "ok").all()
    assert (out["share_ci_low"] <= out["share"] + 1e-12).all()


def test_few_units_status_and_reproducible():
    df, dic, study = make_panel(n_units=6, n_years=29, betas=[1, 0, 1, 0], seed=2)
    a = ri.compute(df, dic, study, {"bootstrap_draws": 50})["shares"]
    b = ri.compute(df, dic, study, {"bootstrap_draws": 50})["shares"]
    pd.testing.assert_frame_equal(a, b)
    assert a["status"].str.contains("only 6 units").all()
    df2, dic2, study2 = make_panel(n_units=2, n_years=10, betas=[1, 0, 1, 0])
    c = ri.compute(df2, dic2, study2, {"bootstrap_draws": 10})["shares"]
    assert c["status"].str.startswith("insufficient_data").all() and c["share"].isna().all()


def test_subset_r2_matches_refit():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(60, 5)) @ rng.normal(size=(5, 5))
    y = X[:, 0] - X[:, 3] + rng.normal(size=60)
    Z = np.column_stack([y, X])
    R2 = ri.subset_r2(np.corrcoef(Z, rowvar=False))
    for m in [1, 6, 13, 31]:
        cols = [j for j in range(5) if m >> j & 1]
        assert R2[m] == pytest.approx(_r2(X[:, cols], y), abs=1e-10)


def test_plot_writes_png(tmp_path):
    from dlddrivers.plots import relative_importance as plot_mod

    df, dic, study = make_panel(n_units=8, betas=[1, 0.5, 1, 0.2])
    tables = ri.compute(df, dic, study, {"bootstrap_draws": 30})
    paths = plot_mod.plot(tables, df, dic, study, tmp_path)
    assert paths and all(p.exists() for p in paths)


def _trend_panel(n_units=21, n_years=25, human_effect=0.0, seed=3, trend=1.0):
    """Outcome with unit-specific trends driven by climate only (``human_effect=0``); the
    anthropogenic drivers trend with the outcome's trend in every unit (the issue-13 trap)."""
    rng = np.random.default_rng(seed)
    units = [f"U{i:02d}" for i in range(n_units)]
    years = np.arange(1990, 1990 + n_years)
    df = pd.MultiIndex.from_product([units, years], names=["unit", "year"]).to_frame(index=False)
    u = pd.factorize(df["unit"])[0]
    tt = (df["year"] - years.mean()).to_numpy(float)
    slope = rng.normal(0, trend, n_units)
    c1, c2 = rng.normal(size=(2, len(df)))
    h = np.empty((len(df), 3))
    for j in range(3):
        e = np.zeros(len(df))
        z = rng.normal(size=len(df))
        for i in range(len(df)):
            e[i] = (0.5 * e[i - 1] if i and u[i] == u[i - 1] else 0.0) + z[i]
        h[:, j] = (1 + j) * slope[u] * tt / 4 + 0.3 * e
    y = 0.6 * c1 + 0.3 * c2 + slope[u] * tt / 4 + human_effect * h[:, 0] + rng.normal(0, 0.5, len(df))
    df["y"], df["c1"], df["c2"] = y, c1, c2
    names = ["h1", "h2", "h3"]
    df[names] = h
    dic = pd.DataFrame({"indicator": ["y", "c1", "c2", *names], "role": ["outcome"] + ["driver"] * 5,
                        "domain": ["outcome", "climate", "climate", "grazing", "land_use", "population"]})
    return df, dic, {"name": "syn", "outcomes": ["y"], "drivers": ["c1", "c2", *names], "seed": 5}


def test_placebo_calibration_trending_drivers_are_indistinguishable():
    """Anthropogenic drivers with no effect that only share the outcome's unit trends take most
    of the levels R2; the placebo calibration must say the split cannot be told apart."""
    df, dic, study = _trend_panel(human_effect=0.0)
    out = ri.compute(df, dic, study, {"bootstrap_draws": 50, "placebo_draws": 100})["shares"]
    g = out[(out["level"] == "group") & (out["variation"] == "levels")].set_index("predictor")
    assert g.loc["anthropogenic", "share"] > 0.5  # the trap: a large share with no effect
    assert g.loc["anthropogenic", "calibration"] == "indistinguishable_from_placebo"
    assert g.loc["anthropogenic", "placebo_exceedance"] > 0.05
    assert g.loc["anthropogenic", "placebo_draws"] == 100
    # the year-to-year estimand sees no anthropogenic share at all
    yy = out[(out["level"] == "group") & (out["variation"] == "year_to_year")].set_index("predictor")
    assert (yy["estimand"] == "share_of_year_to_year_variance").all()
    assert yy.loc["anthropogenic", "share"] < 0.1
    assert yy.loc["anthropogenic", "flag"] == "near_zero" and yy.loc["anthropogenic", "share_ci_low"] == 0.0
    assert yy.loc["biophysical", "calibration"] == "exceeds_placebo"


def test_placebo_calibration_real_effect_exceeds_placebo():
    """A driver acting on the outcome's year-to-year variation exceeds its placebos; when the
    shared trends dominate the levels, the levels split stays indistinguishable (saturated)."""
    df, dic, study = _trend_panel(human_effect=1.5, seed=4)
    out = ri.compute(df, dic, study, {"bootstrap_draws": 50, "placebo_draws": 100})["shares"]
    g = out[(out["level"] == "group")].set_index(["variation", "predictor"])
    assert g.loc[("levels", "anthropogenic"), "calibration"] == "indistinguishable_from_placebo"
    df, dic, study = _trend_panel(human_effect=1.5, seed=4, trend=0.1)
    out = ri.compute(df, dic, study, {"bootstrap_draws": 50, "placebo_draws": 100})["shares"]
    g2 = out[(out["level"] == "group")].set_index(["variation", "predictor"])
    for v, gg in (("year_to_year", g), ("levels", g2), ("year_to_year", g2)):
        r = gg.loc[(v, "anthropogenic")]
        assert r["calibration"] == "exceeds_placebo", (v, r["share"], r["placebo_p95"])
        assert r["share"] > r["placebo_p95"] and r["share_above_placebo"] > 0
        assert r["placebo_exceedance"] == pytest.approx(1 / 101)


def test_surrogates_keep_trend_and_persistence():
    rng = np.random.default_rng(0)
    n = 400
    t = np.arange(n, dtype=float)
    e = np.zeros(n)
    for i in range(1, n):
        e[i] = 0.7 * e[i - 1] + rng.normal()
    df = pd.DataFrame({"unit": "A", "year": t.astype(int), "x": 2.0 + 0.05 * t + e})
    a, b, phi, sd = ri.ar1_trend_params(t, df["x"].to_numpy())
    assert b == pytest.approx(0.05, abs=0.01) and phi == pytest.approx(0.7, abs=0.08)
    S = ri.surrogate_drivers(df, ["x"], 200, np.random.default_rng(1))[:, :, 0]
    slopes = np.polyfit(t, S.T, 1)[0]
    assert np.median(slopes) == pytest.approx(b, abs=0.005)
    res = S - (a + b * t)
    ac = np.mean([np.corrcoef(r[1:], r[:-1])[0, 1] for r in res])
    assert ac == pytest.approx(phi, abs=0.05)
    assert np.std(res) == pytest.approx(sd, rel=0.1)
    # not the real series: correlation of the surrogate's residual with the real residual ~ 0
    real = df["x"].to_numpy() - (a + b * t)
    assert abs(np.mean([np.corrcoef(r, real)[0, 1] for r in res])) < 0.05


def test_null_predictor_interval_reaches_zero():
    betas = np.array([1.0, 0.5, 0.8, 0.0])
    df, dic, study = make_panel(betas=betas, seed=7)
    out = ri.compute(df, dic, study, {"bootstrap_draws": 200, "placebo_draws": 0,
                                      "variations": ["levels"]})["shares"]
    pred = out[out["level"] == "predictor"].set_index("predictor")
    assert pred.loc["x3", "share_ci_low"] == 0.0 and pred.loc["x3", "flag"] == "near_zero"
    assert (pred.loc[["x0", "x1", "x2"], "share_ci_low"] > 0).all()
    assert (pred.loc[["x0", "x1", "x2"], "flag"] == "").all()


def test_within_with_unit_trends_equals_dummy_regression():
    """The year-to-year transform is the residual on unit dummies, unit trends and year dummies
    (checked against lstsq on an unbalanced panel)."""
    rng = np.random.default_rng(2)
    df, _, _ = make_panel(n_units=5, n_years=8, seed=2)
    df = df.drop(index=[3, 17, 30]).reset_index(drop=True)
    u = pd.factorize(df["unit"], sort=True)[0]
    yr = pd.factorize(df["year"], sort=True)[0]
    t = df["year"].to_numpy(float)
    x = rng.normal(size=len(df))
    D = np.column_stack([np.eye(5)[u], np.eye(5)[u] * (t - t.mean())[:, None], np.eye(8)[yr][:, 1:]])
    resid = x - D @ np.linalg.lstsq(D, x, rcond=None)[0]
    np.testing.assert_allclose(within(x[:, None], u, yr, trend=t)[:, 0], resid, atol=1e-8)
    # one-way: unit intercepts and trends only
    D1 = D[:, :10]
    resid1 = x - D1 @ np.linalg.lstsq(D1, x, rcond=None)[0]
    np.testing.assert_allclose(within(x, u, trend=t), resid1, atol=1e-10)


def _surrogates_per_unit(df, columns, draws, rng):
    """The surrogate series drawn unit by unit and driver by driver (the reference)."""
    from dlddrivers.methods.relative_importance import ar1_trend_params

    out = np.empty((draws, len(df), len(columns)))
    t_all = df["year"].to_numpy(float)
    for _, idx in df.groupby("unit", sort=True).indices.items():
        t = t_all[idx]
        m = len(idx)
        for j, c in enumerate(columns):
            a, b, phi, sd = ar1_trend_params(t, df[c].to_numpy(float)[idx])
            u = rng.standard_normal((draws, m))
            e = np.empty((draws, m))
            e[:, 0] = sd * u[:, 0]
            s_innov = sd * np.sqrt(1.0 - phi**2)
            for i in range(1, m):
                e[:, i] = phi * e[:, i - 1] + s_innov * u[:, i]
            out[:, idx, j] = a + b * t[None, :] + e
    return out


@pytest.mark.parametrize("seed", range(5))
def test_surrogate_drivers_equal_the_per_unit_draws_bit_for_bit(seed):
    """All innovations drawn at once give the per-unit, per-driver surrogates exactly (units of
    different lengths, a constant driver), and leave the generator where they would."""
    from dlddrivers.methods.relative_importance import surrogate_drivers

    rng = np.random.default_rng(seed)
    rows = [{"unit": f"U{u}", "year": t} for u in range(5)
            for t in range(2000, 2000 + 6 + (3 * u if seed % 2 else 0))]
    df = pd.DataFrame(rows)
    for c in ("a", "b", "c"):
        df[c] = rng.normal(size=len(df)).cumsum()
    df.loc[df["unit"] == "U2", "b"] = 1.5
    cols = ["a", "b", "c"][: 1 + seed % 3]
    r1, r2 = np.random.default_rng(100 + seed), np.random.default_rng(100 + seed)
    got = surrogate_drivers(df, cols, 9, r1)
    want = _surrogates_per_unit(df, cols, 9, r2)
    np.testing.assert_array_equal(got, want)
    assert r1.random() == r2.random()


def test_surrogate_drivers_units_of_one_length_with_different_years_bit_for_bit():
    """Units simulated together share a series length, not their years: units of 8 years with
    gaps at different places (and a group of 5-year units, one driver constant in a unit)
    give exactly the per-unit, per-driver surrogates."""
    from dlddrivers.methods.relative_importance import surrogate_drivers

    rng = np.random.default_rng(42)
    rows = []
    for u in range(7):
        years = np.sort(rng.choice(np.arange(1990, 2005), size=8 if u < 4 else 5, replace=False))
        rows += [{"unit": f"U{u}", "year": int(t)} for t in years]
    df = pd.DataFrame(rows)
    for c in ("a", "b"):
        df[c] = rng.normal(size=len(df)).cumsum() + 0.3 * (df["year"] - 1990)
    df.loc[df["unit"] == "U5", "a"] = -2.0
    r1, r2 = np.random.default_rng(7), np.random.default_rng(7)
    got = surrogate_drivers(df, ["a", "b"], 11, r1)
    want = _surrogates_per_unit(df, ["a", "b"], 11, r2)
    assert got.tobytes() == want.tobytes()
    assert r1.random() == r2.random()


def _corr_former(Z):
    """The former _corr (np.clip, np.outer, np.diag_indices_from): the reference."""
    S = Z.T @ Z
    d = np.sqrt(np.clip(np.diag(S), 0, None))
    tiny = d <= 1e-12 * max(float(d.max()) if d.size else 0.0, 1e-300)
    dd = np.where(tiny, 1.0, d)
    R = S / np.outer(dd, dd)
    R[tiny, :] = 0.0
    R[:, tiny] = 0.0
    R[np.diag_indices_from(R)] = 1.0
    if tiny[0]:
        R[:] = np.nan
    return R, bool(tiny.any())


@pytest.mark.parametrize("case", ["plain", "constant_predictor", "constant_outcome", "nan", "one"])
def test_corr_equals_the_former_operations_bit_for_bit(case):
    """The correlation matrix with fewer calls: the same numbers and degenerate flag, bit for
    bit, also with a predictor or the outcome without variance and with missing values."""
    from dlddrivers.methods.relative_importance import _corr

    rng = np.random.default_rng(3)
    Z = rng.normal(size=(40, 1 if case == "one" else 6)) * rng.uniform(1e-3, 1e3, size=1 if case == "one" else 6)
    if case == "constant_predictor":
        Z[:, 3] = 0.0
    if case == "constant_outcome":
        Z[:, 0] = 0.0
    if case == "nan":
        Z[5, 2] = np.nan
    Z = Z - Z.mean(axis=0)
    got, got_deg = _corr(Z)
    ref, ref_deg = _corr_former(Z)
    assert got.tobytes() == ref.tobytes() and got_deg == ref_deg
    assert got_deg == (case in ("constant_predictor", "constant_outcome"))


def _ar1_former(t, x):
    """The former ar1_trend_params (np.ptp, np.clip, means taken twice): the reference."""
    t = np.asarray(t, float)
    x = np.asarray(x, float)
    if len(x) < 3 or np.ptp(t) == 0:
        return float(x.mean()), 0.0, 0.0, float(x.std())
    tc = t - t.mean()
    b = float(tc @ (x - x.mean()) / (tc @ tc))
    a = float(x.mean() - b * t.mean())
    e = x - a - b * t
    den = float(e @ e)
    phi = float(np.clip(e[1:] @ e[:-1] / den, -0.95, 0.95)) if den > 0 else 0.0
    return a, b, phi, float(np.sqrt(den / len(e)))


def test_ar1_trend_params_equal_the_former_arithmetic():
    """The same four numbers, bit for bit: random series, strongly persistent ones (phi
    clipped at 0.95), alternating ones (clipped at -0.95), an exact line (no residual), a
    constant year, and series of 1 and 2 values."""
    from dlddrivers.methods.relative_importance import ar1_trend_params

    rng = np.random.default_rng(17)
    t30 = np.arange(1991, 2021, dtype=float)
    cases = [(t30, rng.normal(size=30)) for _ in range(20)]
    cases += [(t30, np.cumsum(np.cumsum(rng.normal(size=30)))),      # phi clipped at 0.95
              (t30, np.tile([1.0, -1.0], 15) + 1e-3 * rng.normal(size=30)),  # at -0.95
              (t30, 2.0 + 0.5 * t30), (np.full(5, 2000.0), rng.normal(size=5)),
              (t30[:1], rng.normal(size=1)), (t30[:2], rng.normal(size=2)),
              (np.sort(rng.choice(t30, 12, replace=False)), rng.normal(size=12) * 1e6)]
    clipped = set()
    for t, x in cases:
        got, ref = ar1_trend_params(t, x), _ar1_former(t, x)
        assert np.array(got).tobytes() == np.array(ref).tobytes()
        clipped.add(abs(got[2]) == 0.95)
    assert clipped == {True, False}


def test_surrogate_drivers_with_kept_params_equal_without():
    """Parameters kept across calls (as the groups of one placebo calibration share drivers)
    give the same surrogates and generator state as computing them in every call."""
    from dlddrivers.methods.relative_importance import surrogate_drivers

    rng = np.random.default_rng(4)
    rows = [{"unit": f"U{u}", "year": t} for u in range(6) for t in range(2000, 2010 + u % 3)]
    df = pd.DataFrame(rows)
    for c in ("a", "b", "c"):
        df[c] = rng.normal(size=len(df)).cumsum()
    kept: dict = {}
    r1, r2 = np.random.default_rng(9), np.random.default_rng(9)
    for cols in (["a", "b"], ["b"], ["c", "a"], ["b", "c"]):
        got = surrogate_drivers(df, cols, 7, r1, kept)
        want = surrogate_drivers(df, cols, 7, r2)
        assert got.tobytes() == want.tobytes()
    assert r1.random() == r2.random()
    assert len(kept) == 3 * 6  # every (driver, unit) once
