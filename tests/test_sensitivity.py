"""Cinelli-Hazlett robustness values, benchmark bounds, cluster SE and unit refuters (issue 13)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dlddrivers.causal import sensitivity as SV


def test_darfur_published_numbers():
    """sensemakr's Darfur example (Cinelli and Hazlett 2020): directlyharmed, t 4.18, dof 783."""
    t, dof = 0.0973 / 0.0233, 783
    assert t == pytest.approx(4.18, abs=0.01)
    assert SV.partial_r2(t, dof) == pytest.approx(0.022, abs=0.0005)
    assert SV.robustness_value(t, dof) == pytest.approx(0.139, abs=0.001)
    assert SV.robustness_value(t, dof, alpha=0.05) == pytest.approx(0.076, abs=0.001)
    # an effect that is not significant has RV_alpha 0
    assert SV.robustness_value(1.5, dof, alpha=0.05) == 0.0


def test_bias_formula_is_exact_for_an_observed_confounder():
    """Omitting an observed Z changes the estimate by exactly se*sqrt(dof)*sqrt(R2yz R2dz/(1-R2dz))."""
    rng = np.random.default_rng(0)
    n = 500
    x = rng.normal(size=n)
    z = rng.normal(size=n) + 0.5 * x
    d = 0.6 * z + 0.3 * x + rng.normal(size=n)
    y = 0.5 * d + 0.8 * z + 0.4 * x + rng.normal(size=n)
    X_long = np.column_stack([np.ones(n), d, x, z])
    X_short = X_long[:, :3]
    b_long, e_long, V_long = SV.ols(y, X_long)
    b_short = SV.ols(y, X_short)[0]
    dof = n - 4  # the bound uses the short (observed) regression's se and dof
    dof_s = n - 3
    e_s = y - X_short @ b_short
    se_s = np.sqrt(e_s @ e_s / dof_s * SV.ols(y, X_short)[2][1, 1])
    # partial R2 of Z with D given X, and with Y given D and X
    bz = SV.ols(d, np.column_stack([np.ones(n), x, z]))
    r2dz = SV.partial_r2(bz[0][2] / np.sqrt(bz[1] @ bz[1] / (n - 3) * bz[2][2, 2]), n - 3)
    r2yz = SV.partial_r2(b_long[3] / np.sqrt(e_long @ e_long / dof * V_long[3, 3]), dof)
    assert abs(b_short[1] - b_long[1]) == pytest.approx(SV.bias_bound(se_s, dof_s, r2yz, r2dz), rel=1e-9)


def test_benchmark_bounds_and_k_to_erase():
    # k = 1: R2_{D~Z|X} = r_d / (1 - r_d)
    r2d, r2y = SV.benchmark_bounds(1.0, 0.01, 0.12)
    assert r2d == pytest.approx(0.01 / 0.99)
    assert r2y > 0.12 / 0.88  # the term in r2zxj_xd makes it larger than k r_y/(1-r_y)
    k = SV.k_to_erase(0.0973, 0.0233, 783, 0.01, 0.12)
    r2d, r2y = SV.benchmark_bounds(k, 0.01, 0.12)
    assert SV.bias_bound(0.0233, 783, r2y, r2d) == pytest.approx(0.0973, rel=1e-6)
    assert SV.k_to_erase(0.0973, 0.0233, 783, 0.0, 0.12) == np.inf


def _panel(n_units=20, n_years=12, effect=0.5, seed=1):
    rng = np.random.default_rng(seed)
    units = np.repeat([f"U{i:02d}" for i in range(n_units)], n_years)
    years = np.tile(np.arange(2000, 2000 + n_years), n_units)
    u = pd.factorize(units)[0]
    shock = rng.normal(size=n_units)[u]  # a unit-level shock in every year: clustered errors
    c = rng.normal(size=len(u)) + shock
    d = 0.5 * c + rng.normal(size=len(u)) + shock
    y = effect * d + 0.7 * c + rng.normal(size=len(u)) + 2 * shock * rng.normal(size=n_units)[u]
    return pd.DataFrame({"unit": units, "year": years, "d": d, "c": c, "y": y})


def test_cluster_se_matches_statsmodels():
    import statsmodels.api as sm

    df = _panel()
    X = df[["d", "c"]].to_numpy()
    b, e, V = SV.ols(df["y"].to_numpy(), X)
    se = SV.cluster_se(X, e, V, df["unit"].to_numpy(), 0)
    ref = sm.OLS(df["y"], X).fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(df["unit"])[0]})
    np.testing.assert_allclose(se, ref.bse.to_numpy(), rtol=1e-8)


def test_robustness_table_and_unit_refuters():
    from dlddrivers.methods.paneltools import within_frame

    df = _panel()
    dm = within_frame(df, ["d", "c", "y"], two_way=True)
    dof = len(df) - 20 - 12 + 1 - 2
    r = SV.robustness_table(dm, "d", "y", ["c"], dof, 0.95)
    assert r["benchmark"] == "c" and r["n_clusters"] == 20
    assert 0 < r["rv_q1_alpha"] < r["rv_q1"] < 1 and 0 < r["partial_r2_yd"] < r["rv_q1"]
    assert np.isfinite(r["k_erase"]) and r["k_erase"] > 0
    assert r["ci_low_cluster"] < 0.5 < r["ci_high_cluster"]
    full = SV._refit(df, "d", "y", ["c"])
    est = {"effect": full, "ci_low": full - 0.1, "ci_high": full + 0.1}
    rows = SV.unit_resampling_refuters(df, "d", "y", ["c"], est, n_sim=30, subset_fraction=0.8, seed=3)
    assert [x["refuter"] for x in rows] == ["unit_subset", "unit_bootstrap"]
    for x in rows:
        assert x["new_effect"] == pytest.approx(full, abs=0.05) and x["n_simulations"] == 30
        assert x["passed"]
    # resampling units, not rows: a unit drawn twice keeps all its years together
    rows2 = SV.unit_resampling_refuters(df, "d", "y", ["c"], est, n_sim=30, subset_fraction=0.8, seed=3)
    assert rows == rows2
