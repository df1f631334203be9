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


def _chow_scan_one_candidate_at_a_time(years, y, X, min_segment):
    """The Chow scan as written before: a scalar F survival call per candidate, a table of all
    candidates and the row of its largest F (reference for the equality test)."""
    from scipy import stats

    n, k = X.shape
    seg = max(int(min_segment), k + 1)
    _, s_pool = rt._ols(y, X)
    rows = []
    for i in range(seg, n - seg + 1):
        _, s1 = rt._ols(y[:i], X[:i])
        _, s2 = rt._ols(y[i:], X[i:])
        den = (s1 + s2) / (n - 2 * k)
        f = ((s_pool - s1 - s2) / k) / den if den > 0 else np.inf
        rows.append({"year": int(years[i]), "F": f, "p": float(stats.f.sf(f, k, n - 2 * k))})
    scan = pd.DataFrame(rows, columns=["year", "F", "p"])
    best = scan.loc[scan["F"].idxmax()]
    return {"break_year": int(best["year"]), "chow_f": float(best["F"]), "chow_p": float(best["p"]),
            "chow_p_bonferroni": float(min(1.0, len(scan) * best["p"])),
            "n_break_candidates": len(scan), "scan": scan}


@pytest.mark.parametrize("seed", range(6))
def test_chow_scan_equals_the_scalar_version(seed):
    """One vectorised F survival call per scan gives the numbers of one scalar call per
    candidate, bit for bit (scan table and the chosen break), with and without the table;
    series with a planted break, without one, and with an exact fit in the first segment."""
    rng = np.random.default_rng(seed)
    n = 14 + 4 * seed
    years = np.arange(1990, 1990 + n)
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 1 + seed % 2))])
    y = X @ rng.normal(size=X.shape[1]) + rng.normal(0, 0.3, n)
    if seed % 3 == 1:
        y[n // 2:] += 2 * X[n // 2:, 1]
    if seed == 5:
        y[:7] = X[:7] @ [1.0, 2.0, -1.0]  # exact fit before the first candidate: S_1 = 0
    ref = _chow_scan_one_candidate_at_a_time(years, y, X, 5)
    got = rt.chow_scan(years, y, X, 5)
    pd.testing.assert_frame_equal(got.pop("scan"), ref.pop("scan"), check_exact=True)
    assert got == ref
    assert rt.chow_scan(years, y, X, 5, with_scan=False) == ref
    short = rt.chow_scan(years[:9], y[:9], X[:9], 5, with_scan=False)
    assert short["n_break_candidates"] == 0 and "scan" not in short


def test_restrend_uses_pymannkendall_numbers():
    """The residual trend's MK p-value (original test through mk_original_test, Hamed-Rao
    through pymannkendall) equals pymannkendall on the written residuals."""
    import pymannkendall as pmk

    df = make(n_units=4, n_years=20, seed=3)
    for mk_test, ref in (("original", pmk.original_test), ("hamed_rao", pmk.hamed_rao_modification_test)):
        out = rt.compute(df, DICT, STUDY, {"bootstrap_draws": 49, "mk_test": mk_test})
        res = out["residuals"]
        for _, r in out["restrend"].iterrows():
            if str(r["status"]).startswith("ok"):
                e = res.loc[res["unit"] == r["unit"], "residual"].to_numpy()
                assert r["mk_p"] == ref(e).p


def _per_unit_reference(df, options):
    """The former assembly of compute(): restrend_unit on each unit's frame and the per-unit
    residual frames concatenated (empty frames for units without residuals)."""
    from dlddrivers.methods import paneltools as P

    opts = {**rt.DEFAULTS, **options}
    climate = ["precip", "temp"]
    sub, _ = P.complete_cases(df, ["ndvi", *climate])
    rows, resids = [], []
    n_rows = df["unit"].astype(str).value_counts(dropna=False)
    for unit in sorted(n_rows.index):
        g = sub[sub["unit"] == unit]
        r, res = rt.restrend_unit(g, "ndvi", climate, opts)
        rows.append({"outcome": "ndvi", "unit": unit, "climate_drivers": ",".join(climate),
                     "ci_level": float(opts["ci"]), "slope_unit": "NDVI per year", "n_units": 1,
                     "n_dropped": int(n_rows[unit]) - len(g), "note": rt.NOTE,
                     "estimand": "trend", **r})
        resids.append(res)
    rest = pd.DataFrame(rows).reindex(columns=rt.RESTREND_COLUMNS)
    residuals = pd.concat(resids, ignore_index=True).reindex(columns=rt.RESIDUAL_COLUMNS)
    return rest, residuals


@pytest.mark.parametrize("case", ["all_ok", "refused_and_short", "unit_without_rows"])
def test_compute_on_arrays_equals_the_per_unit_frames(case):
    """compute() takes each unit's series from arrays of the complete-case frame and builds
    the residual table once: the restrend and residual tables equal, values and dtypes, those
    of restrend_unit on each unit's frame with the per-unit residual frames concatenated (with
    refused and too-short units, the residual table's dtypes change: they must change alike)."""
    df = make(n_units=7, n_years=25, seed=11)
    if case != "all_ok":
        null = make(n_units=2, n_years=25, a=0.0, seed=12).assign(unit=lambda d: d["unit"] + "n")
        df = pd.concat([df, null], ignore_index=True)
        df = df[~((df["unit"] == "U3") & (df["year"] > 1996))]  # 6 years: too short
        df.loc[df.index[::7], "temp"] = np.nan  # gaps: unsorted by nothing, fewer rows
    if case == "unit_without_rows":
        df.loc[df["unit"] == "U5", "precip"] = np.nan
    df = df.sample(frac=1.0, random_state=3)  # rows in any order
    out = rt.compute(df, DICT, STUDY, {"bootstrap_draws": 19})
    rest, residuals = _per_unit_reference(df, {"bootstrap_draws": 19})
    pd.testing.assert_frame_equal(out["restrend"], rest, check_exact=True)
    pd.testing.assert_frame_equal(out["residuals"], residuals, check_exact=True)
    statuses = out["restrend"]["status"].astype(str)
    if case == "all_ok":
        assert statuses.str.startswith("ok").all()
        assert out["residuals"]["year"].dtype == np.int64
    else:
        assert statuses.str.startswith("insufficient_data").any()
        assert out["residuals"]["year"].dtype == object
