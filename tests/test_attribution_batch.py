"""The attribution stage's component matrix (units with the same years done together) equals
a per-unit computation of the components (the stage's former code, kept here) bit for bit."""

import numpy as np
import pandas as pd
import pytest

from dlddrivers.methods import attribution as AT
from dlddrivers.methods.attribution import (
    COMPONENTS,
    _component_matrix,
    _unit_arrays,
    ts_change,
    unit_components,
)


def _panel(rng, n_units, n_years, nc, nh, gaps):
    rows = []
    for u in range(n_units):
        years = np.arange(2000, 2000 + n_years)
        if gaps and u % 3 == 1:  # some units miss years: groups of different year sets
            years = np.sort(rng.choice(years, size=n_years - 1 - u % 2, replace=False))
        for t in years:
            rows.append({"unit": f"U{u:02d}", "year": int(t)})
    df = pd.DataFrame(rows)
    clim = [f"c{k}" for k in range(nc)]
    anth = [f"h{k}" for k in range(nh)]
    for c in [*clim, *anth]:
        df[c] = rng.normal(size=len(df)).cumsum() * 0.1 + rng.normal(size=len(df))
    df["y"] = rng.normal(size=len(df)) + 0.05 * (df["year"] - 2000)
    return df, clim, anth


def _one_unit(t, y, Xc, Xh, bc, bh, climate_change, rolling_window, baseline_years, common):
    """The components of one unit, computed unit by unit (the reference)."""
    Fc = Xc @ bc if len(bc) else np.zeros_like(y)
    Fh = Xh @ bh if len(bh) else np.zeros_like(y)
    lam_change = float(ts_change(np.asarray(common, float)[None], t)[0]) if common is not None else 0.0
    if climate_change == "rolling":
        roll = pd.DataFrame(Xc).rolling(int(rolling_window), min_periods=1).mean()
        ccser = roll.to_numpy() @ bc if len(bc) else np.zeros_like(y)
        obs, fc, fh, cc = ts_change(np.vstack([y, Fc, Fh, ccser]), t)
    else:
        ch = ts_change(np.vstack([y, Fc, Fh, *(Xc.T if len(bc) else [])]), t)
        obs, fc, fh = ch[:3]
        cc = float(ch[3:] @ bc) if len(bc) else 0.0
    cv = fc - cc
    rem = obs - cc - cv - fh - lam_change
    k = max(1, min(int(baseline_years), len(y) // 2))
    base_c = Xc[:k].mean(axis=0) if len(bc) else np.zeros(0)
    d_pred = float((Fc[-k:].mean() + Fh[-k:].mean()) - (Fc[:k].mean() + Fh[:k].mean()))
    d_cf = float(Fh[-k:].mean() - Fh[:k].mean())
    clim = float(bc @ (Xc[-k:].mean(axis=0) - base_c)) if len(bc) else 0.0
    return [float(obs), float(cc), float(cv), float(fh), lam_change, float(rem), d_pred, d_cf, clim,
            clim / d_pred if d_pred != 0 else np.nan]


def _per_unit(arrays, yv, b, nc, units, opts, lam):
    out = np.empty((len(units), len(COMPONENTS)))
    for k, u in enumerate(units):
        idx, t, Xc, Xh, yc = arrays[u]
        out[k] = _one_unit(t, yv[idx], Xc, Xh, b[:nc], b[nc:], opts["climate_change"],
                           int(opts["rolling_window"]), int(opts["baseline_years"]),
                           None if lam is None else lam[yc])
    return out


@pytest.mark.parametrize("seed", range(12))
def test_component_matrix_equals_per_unit_components_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    nc, nh = int(rng.integers(0, 3)), int(rng.integers(0, 3))
    if nc + nh == 0:
        nh = 1
    df, clim, anth = _panel(rng, int(rng.integers(2, 9)), int(rng.integers(6, 31)), nc, nh,
                            gaps=bool(seed % 2))
    arrays = _unit_arrays(df, clim, anth)
    units = sorted(arrays)
    if seed % 3 == 0:  # a bootstrap-like subset of units, in another order
        units = [units[k] for k in rng.permutation(len(units))[: max(1, len(units) - 1)]]
    yv = df["y"].to_numpy(float)
    b = rng.normal(size=nc + nh)
    n_years = df["year"].nunique()
    lam = None if seed % 4 == 1 else rng.normal(size=n_years)
    opts = {**AT.DEFAULTS, "baseline_years": [5, 3, 10][seed % 3],
            "climate_change": "rolling" if seed % 5 == 2 else "trend", "rolling_window": 4}
    got = _component_matrix(arrays, yv, b, nc, units, opts, lam)
    want = _per_unit(arrays, yv, b, nc, units, opts, lam)
    np.testing.assert_array_equal(got[:, : len(COMPONENTS)], want)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(got[:, len(COMPONENTS):], want[:, 1:6] / want[:, [0]])
    # one unit through the public function: the same row
    u = units[0]
    idx, t, Xc, Xh, yc = arrays[u]
    one = unit_components(t, yv[idx], Xc, Xh, b[:nc], b[nc:], climate_change=opts["climate_change"],
                          rolling_window=4, baseline_years=opts["baseline_years"],
                          common=None if lam is None else lam[yc])
    np.testing.assert_array_equal([one[q] for q in COMPONENTS], want[0])


def test_a_wrong_component_fails_the_comparison():
    """The comparison can fail: perturbing one unit's coefficient product changes a row."""
    rng = np.random.default_rng(3)
    df, clim, anth = _panel(rng, 4, 12, 2, 1, gaps=False)
    arrays = _unit_arrays(df, clim, anth)
    units = sorted(arrays)
    yv = df["y"].to_numpy(float)
    b = np.array([0.3, -0.2, 0.5])
    got = _component_matrix(arrays, yv, b, 2, units, AT.DEFAULTS, None)
    want = _per_unit(arrays, yv, b * (1 + 1e-15), 2, units, AT.DEFAULTS, None)
    assert not np.array_equal(got[:, : len(COMPONENTS)], want)


def test_driver_swap_equals_regrouping():
    """The placebo draws swap the driver values without regrouping the frame: same arrays."""
    rng = np.random.default_rng(5)
    df, clim, anth = _panel(rng, 5, 14, 2, 2, gaps=True)
    X = rng.normal(size=(len(df), 4))
    a = AT._with_drivers(_unit_arrays(df, clim, anth), X, 2)
    b = _unit_arrays(df, clim, anth, X)
    assert list(a) == list(b)
    for u in a:
        for x, y in zip(a[u], b[u], strict=True):
            assert x.dtype == y.dtype and x.flags.c_contiguous == y.flags.c_contiguous
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("cols", [(["c0", "c1"], ["h0"]), (["c0"], []), ([], ["h0", "h1"])])
def test_unit_arrays_equal_the_per_unit_frame_values(cols):
    """Per-unit driver matrices: same values and memory order as taking each unit's rows of the
    frame (the memory order decides which BLAS kernel multiplies them by the coefficients)."""
    rng = np.random.default_rng(11)
    df, _, _ = _panel(rng, 6, 10, 2, 2, gaps=True)
    df["h1"] = df["h1"].round().astype(int)  # an integer driver column: another pandas block
    clim, anth = cols
    arrays = _unit_arrays(df, clim, anth)
    for u, (idx, t, Xc, Xh, _) in arrays.items():
        g = df.iloc[idx]
        assert (g["unit"] == u).all()
        np.testing.assert_array_equal(t, g["year"].to_numpy(float))
        for got, want in ((Xc, g[clim].to_numpy(float)), (Xh, g[anth].to_numpy(float))):
            assert got.shape == want.shape and got.dtype == want.dtype
            assert got.flags.f_contiguous == want.flags.f_contiguous
            assert got.flags.c_contiguous == want.flags.c_contiguous
            np.testing.assert_array_equal(got, want)


def test_pooled_ratios_are_the_ratios_of_the_pooled_components():
    """Every pooled share is its component over its denominator, computed by hand; a zero or
    missing denominator gives NaN; the one-row Series version gives the same numbers."""
    rng = np.random.default_rng(2)
    cols = [*COMPONENTS, *AT.SHARES]
    M = rng.normal(size=(40, len(cols)))
    M[3, cols.index("observed_change")] = 0.0
    M[5, cols.index("predicted_change")] = 0.0
    M[7, cols.index("observed_change")] = np.nan
    M[9, cols.index("anthropogenic")] = np.nan
    got = AT._pooled_ratios_rows(M, cols)
    want = M.copy()
    for r in range(len(M)):
        obs, pred = M[r, cols.index("observed_change")], M[r, cols.index("predicted_change")]
        for q in AT.TREND_Q[1:]:
            want[r, cols.index(f"{q}_share_of_observed")] = (
                M[r, cols.index(q)] / obs if obs != 0 else np.nan)
        want[r, cols.index("climate_share_of_predicted_change")] = (
            M[r, cols.index("climate_attributable_change")] / pred if pred != 0 else np.nan)
    np.testing.assert_array_equal(got, want)
    assert np.isnan(got[3, cols.index("anthropogenic_share_of_observed")])
    assert np.isnan(got[5, cols.index("climate_share_of_predicted_change")])
    one = AT._pooled_ratios(pd.Series(M[11], index=cols))
    np.testing.assert_array_equal(one.to_numpy(float), want[11])
    assert list(one.index) == cols


@pytest.mark.parametrize("seed", range(8))
def test_component_matrix_with_a_kept_cache_equals_per_unit_components_bit_for_bit(seed):
    """The per-unit climate terms kept in a cache across calls (as the bootstrap draws of one
    outcome do): every call, with other coefficients, year effects and unit subsets, equals the
    per-unit computation bit for bit; units with gaps (other year sets), rolling and trend."""
    rng = np.random.default_rng(100 + seed)
    nc, nh = [(2, 1), (1, 2), (0, 1), (3, 0)][seed % 4]
    df, clim, anth = _panel(rng, int(rng.integers(3, 9)), int(rng.integers(6, 31)), nc, nh,
                            gaps=bool(seed % 2))
    arrays = _unit_arrays(df, clim, anth)
    yv = df["y"].to_numpy(float)
    n_years = df["year"].nunique()
    opts = {**AT.DEFAULTS, "baseline_years": [5, 3][seed % 2],
            "climate_change": "rolling" if seed == 5 else "trend", "rolling_window": 4}
    cache: dict = {}
    for _ in range(4):
        units = sorted(arrays)
        units = [units[k] for k in rng.permutation(len(units))[: int(rng.integers(1, len(units) + 1))]]
        b = rng.normal(size=nc + nh)
        lam = None if seed % 3 == 1 else rng.normal(size=n_years)
        got = _component_matrix(arrays, yv, b, nc, units, opts, lam, cache)
        want = _per_unit(arrays, yv, b, nc, units, opts, lam)
        np.testing.assert_array_equal(got[:, : len(COMPONENTS)], want)
        assert got.tobytes() == _component_matrix(arrays, yv, b, nc, units, opts, lam).tobytes()
    assert bool(cache) == (nc > 0)  # the climate terms are kept (no climate driver: none)
    assert any(k[0] == "ts_climate" for k in cache) == (nc > 0 and opts["climate_change"] == "trend")


def test_unit_arrays_positions_are_the_unit_row_positions():
    """The bootstrap takes each unit's rows from _unit_arrays: the same positions (values and
    dtype) as selecting the unit's rows of the frame, units with gaps included."""
    rng = np.random.default_rng(21)
    df, clim, anth = _panel(rng, 7, 15, 2, 1, gaps=True)
    arrays = _unit_arrays(df, clim, anth)
    assert sorted(arrays) == sorted(df["unit"].unique())
    for u, (idx, *_rest) in arrays.items():
        ref = df.index[df["unit"] == u].to_numpy()
        assert idx.dtype == ref.dtype and idx.tobytes() == ref.tobytes()
