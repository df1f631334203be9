"""Tests for the inference helpers (dlddrivers.methods.inference)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dlddrivers.methods import inference as inf
from dlddrivers.methods import paneltools as P


def test_rademacher_enumeration_and_webb():
    w, lab = inf.bootstrap_weights(4, 999, np.random.default_rng(0), "rademacher")
    assert w.shape == (16, 4) and lab.startswith("rademacher (all")
    # every sign vector exactly once
    assert len({tuple(r) for r in w}) == 16 and set(np.unique(w)) == {-1.0, 1.0}
    w, lab = inf.bootstrap_weights(6, 50, np.random.default_rng(0), "auto")
    assert lab == "webb" and w.shape == (50, 6)
    assert set(np.round(np.unique(w) ** 2, 12)) <= {0.5, 1.0, 1.5}
    w, lab = inf.bootstrap_weights(20, 99, np.random.default_rng(0), "auto")
    assert lab == "rademacher" and w.shape == (99, 20)
    with pytest.raises(ValueError, match="'auto', 'rademacher' or 'webb'; got 'normal'"):
        inf.bootstrap_weights(4, 10, np.random.default_rng(0), "normal")


def test_cluster_se_draws_by_hand():
    """sqrt(sum_g (sum_{i in g} c_i e_i)^2): clusters {0,1}, {2}: (1*1 + 2*(-1))^2 + (3*2)^2 = 37."""
    E = np.array([[1.0, -1.0, 2.0], [0.0, 0.0, 0.0]])
    c = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(inf.cluster_se_draws(E, c, np.array([0, 0, 1]), 2), [np.sqrt(37.0), 0.0])


def test_cluster_se_matches_statsmodels():
    import statsmodels.api as sm

    rng = np.random.default_rng(4)
    g = np.repeat(np.arange(15), 6)
    X = rng.normal(size=(len(g), 2)) + rng.normal(size=15)[g][:, None]
    y = X @ [0.5, -0.2] + rng.normal(size=len(g)) + rng.normal(size=15)[g]
    V = np.linalg.inv(X.T @ X)
    e = y - X @ (V @ X.T @ y)
    ref = sm.OLS(y, X).fit(cov_type="cluster", cov_kwds={"groups": g})
    np.testing.assert_allclose(inf.cluster_se(X, e, V, g, 0), ref.bse, rtol=1e-8)


def test_wild_bootstrap_enumerated_reference():
    """All 2^6 Rademacher draws of a small two-way panel: the WCR p-value is a count of 64
    draws, and a point estimate equal to the dummy-regression coefficient (the planted 2.0
    plus noise); the same call gives the same numbers (enumeration ignores the rng)."""
    rng = np.random.default_rng(11)
    unit = np.repeat(np.arange(6), 7)
    year = np.tile(np.arange(7), 6)
    x = rng.normal(size=len(unit)) + 0.5 * unit
    y = 2.0 * x + rng.normal(size=len(unit)) + unit + 0.3 * year
    Z = P.within(np.column_stack([y, x]), unit, year)
    a = inf.wild_cluster_bootstrap(Z[:, 0], Z[:, 1], unit, absorb=(unit, year), draws=999,
                                   rng=np.random.default_rng(0), weights="rademacher")
    b = inf.wild_cluster_bootstrap(Z[:, 0], Z[:, 1], unit, absorb=(unit, year), draws=999,
                                   rng=np.random.default_rng(1), weights="rademacher")
    pd.testing.assert_frame_equal(a, b)
    r = a.iloc[0]
    assert r["draws"] == 64 and r["weights"] == "rademacher (all 2^G enumerated)"
    D = np.column_stack([x, np.eye(6)[unit], np.eye(7)[year][:, 1:]])
    assert r["coef"] == pytest.approx(np.linalg.lstsq(D, y, rcond=None)[0][0], abs=1e-10)
    assert (r["p_wild"] * 64) == pytest.approx(round(r["p_wild"] * 64), abs=1e-9)
    assert r["p_wild"] < 0.05 and r["ci_low"] < 2.0 < r["ci_high"]


def test_percentile_ci_and_seeds():
    d = np.arange(101, dtype=float)
    lo, hi = inf.percentile_ci(d, 0.9)
    assert lo == pytest.approx(5.0, abs=1e-12) and hi == pytest.approx(95.0, abs=1e-12)
    lo, hi = inf.percentile_ci(np.array([[1.0, np.nan], [3.0, np.nan]]), 0.5)
    assert lo[0] == 1.5 and np.isnan(lo[1])
    assert inf.stable_offset("a", 1) == inf.stable_offset("a", 1) != inf.stable_offset("a", 2)
    import zlib

    assert inf.stable_offset("x", "y") == zlib.crc32(b"x|y") & 0x7FFFFFFF
    a = inf.rng_from({"seed": 3}, 5).normal(size=3)
    np.testing.assert_array_equal(a, np.random.default_rng([3, 5]).normal(size=3))


def test_position_p_counts_rounding_ties_on_both_sides():
    """A resample reproducing the sample gives the estimate up to its last bits: counted as
    equal on both sides (exact-arithmetic answer), not split by rounding."""
    e = 2.0
    v = np.array([1.0, e * (1 + 4e-16), 3.0, 4.0, 5.0, 6.0])
    # by hand: <= e: {1, e'} = 2/6; >= e: 5/6 -> p = 2 * 2/6
    assert inf.position_p(v, e) == pytest.approx(4 / 6, abs=1e-15)
    assert inf.position_p(v, e * (1 - 4e-16)) == pytest.approx(4 / 6, abs=1e-15)
    # without the tie the strict answer: <= e: 1/6 -> p = 2/6
    assert inf.position_p(np.array([1.0, 2.5, 3.0, 4.0, 5.0, 6.0]), e) == pytest.approx(2 / 6, abs=1e-15)
    assert inf.position_p(np.array([1.0, 2.0, 3.0]), 2.0) == 1.0
    assert np.isnan(inf.position_p(np.array([np.nan]), 1.0))


def _wild_bootstrap_one_coef_at_a_time(y, X, cluster, absorb, draws, rng, weights, ci):
    """The wild cluster bootstrap as written before the WCU samples were shared between
    coefficients: WCR and WCU samples transformed and refitted inside the loop over
    coefficients, cluster sums by boolean masks (reference for the equality test)."""
    cl = P.codes(cluster)
    G = int(cl.max()) + 1
    V, wlabel = inf.bootstrap_weights(G, int(draws), rng, weights)
    Vobs = V[:, cl]
    A = np.linalg.inv(X.T @ X) @ X.T
    beta = A @ y
    u = y - X @ beta
    rows, a = [], (1 - ci) / 2
    for j in range(X.shape[1]):
        c = A[j]
        se = float(inf.cluster_se_draws(u[None, :], c, cl, G)[0])
        t = beta[j] / se if se > 0 else np.nan
        Xr = np.delete(X, j, axis=1)
        fr = Xr @ np.linalg.lstsq(Xr, y, rcond=None)[0] if Xr.shape[1] else np.zeros_like(y)
        Ys = fr[None, :] + inf.absorb_effects((y - fr)[None, :] * Vobs, absorb)
        Bs = Ys @ A.T
        ts = Bs[:, j] / inf.cluster_se_draws(Ys - Bs @ X.T, c, cl, G)
        p = float(np.mean(np.abs(ts[np.isfinite(ts)]) >= abs(t) - 1e-12))
        Ys = (X @ beta)[None, :] + inf.absorb_effects(u[None, :] * Vobs, absorb)
        Bs = Ys @ A.T
        tu = (Bs[:, j] - beta[j]) / inf.cluster_se_draws(Ys - Bs @ X.T, c, cl, G)
        qlo, qhi = np.quantile(tu[np.isfinite(tu)], [a, 1 - a])
        rows.append({"coef": beta[j], "se": se, "t": t, "p_wild": p, "ci_low": beta[j] - qhi * se,
                     "ci_high": beta[j] - qlo * se, "draws": int(V.shape[0]), "weights": wlabel})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("effects", ["none", "unit", "two_way"])
@pytest.mark.parametrize("weights", ["webb", "rademacher"])
def test_wild_bootstrap_equals_the_one_coefficient_at_a_time_version(effects, weights):
    """Sharing the WCU samples between coefficients and indexing clusters by position changes
    no number: equal bit for bit to the per-coefficient loop on an unbalanced panel (gaps)."""
    rng = np.random.default_rng(21)
    unit = np.repeat(np.arange(14), 12)
    year = np.tile(np.arange(12), 14)
    keep = rng.random(len(unit)) > 0.15
    unit, year = unit[keep], year[keep]
    X = rng.normal(size=(len(unit), 3)) + 0.4 * unit[:, None]
    y = X @ [0.6, 0.0, -0.3] + rng.normal(size=len(unit)) + 0.2 * unit + 0.1 * year
    absorb = {"none": (), "unit": (unit,), "two_way": (unit, year)}[effects]
    Z = inf.absorb_effects(np.column_stack([y, X]).T, absorb).T
    y, X = Z[:, 0], Z[:, 1:]
    new = inf.wild_cluster_bootstrap(y, X, unit, absorb=absorb, draws=199,
                                     rng=np.random.default_rng(5), weights=weights, ci=0.9)
    old = _wild_bootstrap_one_coef_at_a_time(y, X, unit, absorb, 199, np.random.default_rng(5),
                                             weights, 0.9)
    pd.testing.assert_frame_equal(new, old, check_exact=True)
