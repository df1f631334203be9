"""Trends stage: MK against pymannkendall and a hand count, Theil-Sen against scipy, power."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymannkendall as pmk
import pytest
from scipy.stats import theilslopes

from dlddrivers.methods import trends


def _panel(seed=1, n_units=3, years=range(2000, 2014)):
    rng = np.random.default_rng(seed)
    rows = []
    for k, u in enumerate([f"U{i}" for i in range(n_units)]):
        for t, yr in enumerate(years):
            prec = rng.normal(300, 40)
            rows.append({"unit": u, "year": yr, "prec": prec,
                         "herd": 10 + 0.5 * t + rng.normal(0, 1),
                         "bio": 50 + 0.1 * prec + k * 5 + rng.normal(0, 2)})
    return pd.DataFrame(rows)


DICT = pd.DataFrame({"indicator": ["bio", "prec", "herd"], "role": ["outcome", "driver", "driver"],
                     "domain": ["outcome", "climate", "grazing"],
                     "measure": ["g/m2", "mm", "head/km2"]})
STUDY = {"name": "t", "units": ["U0", "U1", "U2"], "years": [2000, 2013], "outcomes": ["bio"],
         "drivers": ["prec", "herd"], "impacts": [], "seed": 7}


def test_mk_s_by_hand_5_points():
    y = np.array([1.0, 3.0, 2.0, 5.0, 4.0])
    # pairs (i<j): 1<3,1<2,1<5,1<4 (+4); 3>2 (-1), 3<5, 3<4 (+2); 2<5, 2<4 (+2); 5>4 (-1) -> 6
    assert trends.mk_s(y) == 6
    res = trends.mann_kendall(y, "original")
    assert res["s"] == 6
    var_s = 5 * 4 * 15 / 18  # n(n-1)(2n+5)/18
    assert res["var_s"] == pytest.approx(var_s)
    z = (6 - 1) / np.sqrt(var_s)
    assert res["z"] == pytest.approx(z)
    from scipy.stats import norm
    assert res["p"] == pytest.approx(2 * norm.sf(z))


@pytest.mark.parametrize("variant", ["original", "hamed_rao"])
def test_trend_row_matches_pymannkendall_and_scipy(variant):
    rng = np.random.default_rng(3)
    years = np.arange(1992, 2021)
    y = 0.3 * (years - 1992) + rng.normal(0, 2, len(years))
    y[[4, 17]] = np.nan
    row = trends.trend_row(years, y, mk_variant=variant, alpha=0.9, n_sim=500)
    ok = np.isfinite(y)
    ref = (pmk.hamed_rao_modification_test if variant == "hamed_rao" else pmk.original_test)(y[ok])
    assert row["mk_p"] == pytest.approx(ref.p)
    assert row["mk_s"] == pytest.approx(ref.s)
    ts = theilslopes(y[ok], years[ok], alpha=0.9)
    assert row["slope"] == pytest.approx(ts.slope)
    assert row["intercept"] == pytest.approx(ts.intercept)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((ts.low_slope, ts.high_slope))
    assert row["slope_per_decade"] == pytest.approx(10 * ts.slope)
    assert row["slope_pct_of_mean"] == pytest.approx(100 * ts.slope / np.mean(y[ok]))
    assert row["n_years"] == 27 and row["n_missing"] == 2
    assert row["first_year"] == 1992 and row["last_year"] == 2020
    assert "not consecutive" in row["note"]


def test_insufficient_years_status():
    row = trends.trend_row(np.arange(2000, 2005), np.arange(5.0))
    assert row["status"] == "insufficient_data: 5 years < 8"
    assert np.isnan(row["slope"]) and np.isnan(row["mk_p"])


def test_detectable_slope_decreases_with_years():
    f = [trends.detectable_slope_factor(n, n_sim=1000, seed=1) for n in (8, 12, 20, 30)]
    assert all(a > b for a, b in zip(f, f[1:], strict=False))
    # power check at the returned slope, on fresh noise: close to 80 %
    from scipy.stats import norm
    n, c = 14, trends.detectable_slope_factor(14, n_sim=2000, seed=2)
    e = np.random.default_rng(99).standard_normal((4000, n))
    rate = trends._mk_reject(e + c * np.arange(n), norm.ppf(0.975)).mean()
    assert 0.75 < rate < 0.85


def test_planted_strong_trend_detected_and_flat_read_correctly():
    rng = np.random.default_rng(5)
    years = np.arange(2000, 2020)
    strong = 1.0 * (years - 2000) + rng.normal(0, 1, 20)
    row = trends.trend_row(years, strong, n_sim=500)
    assert row["significant"] and row["reading"] == "increase"
    assert row["slope"] > row["detectable_slope"]
    flat = rng.normal(0, 1, 20)
    row = trends.trend_row(years, flat, mk_variant="original", n_sim=500)
    assert not row["significant"]
    assert row["reading"] in ("inconclusive", "no_trend_larger_than_detectable")
    assert 0 < row["detectable_slope"] < 0.3  # about 0.12 sigma/yr for 20 years


def test_compute_tables_and_correlations_against_numpy():
    panel = _panel()
    out = trends.compute(panel, DICT, STUDY, {"n_sim": 300})
    t = out["trends"]
    assert len(t) == 3 * 3
    assert set(t["estimand"]) == {"trend"} and (t["status"] == "ok").all()
    herd = t[t["indicator"] == "herd"]
    assert (herd["slope"].between(0.3, 0.7)).all()
    c = out["correlations"]
    assert set(c["kind"]) == {"pooled", "within"}
    r = c[(c.var1 == "bio") & (c.var2 == "prec") & (c.kind == "pooled")].iloc[0]
    assert r["r"] == pytest.approx(np.corrcoef(panel["bio"], panel["prec"])[0, 1])
    assert r["ci_low"] < r["r"] < r["ci_high"] and r["n_obs"] == 42
    w = panel.copy()
    for v in ("bio", "prec"):
        w[v] = w[v] - w.groupby("unit")[v].transform("mean")
    rw = c[(c.var1 == "bio") & (c.var2 == "prec") & (c.kind == "within")].iloc[0]
    assert rw["r"] == pytest.approx(np.corrcoef(w["bio"], w["prec"])[0, 1])
    # unit effects (k * 5) inflate nothing within: within r is the prec effect only, > 0.5
    assert rw["r"] > 0.5


def test_missing_values_reported_and_missing_indicator():
    panel = _panel()
    panel.loc[panel.index[:5], "bio"] = np.nan
    study = {**STUDY, "impacts": ["absent"]}
    out = trends.compute(panel, DICT, study, {"n_sim": 300})
    t = out["trends"]
    u0 = t[(t.unit == "U0") & (t.indicator == "bio")].iloc[0]
    assert u0["n_missing"] == 5 and u0["n_years"] == 9
    assert (t[t.indicator == "absent"]["status"] == "missing: indicator not in panel").all()
    c = out["correlations"]
    assert (c[(c.var1 == "bio")]["n_dropped"] == 5).all()


def test_plots(tmp_path):
    from dlddrivers.plots import trends as ptrends

    panel = _panel()
    out = trends.compute(panel, DICT, STUDY, {"n_sim": 300})
    from dlddrivers.plots import style

    style.OVERLAPS.clear()
    d = DICT.assign(better=["higher", "", ""])
    out = trends.compute(panel, d, STUDY, {"n_sim": 300})
    paths = ptrends.plot(out, panel, d, STUDY, tmp_path)
    assert {p.name for p in paths} == {"trends_bio.png", "trends_prec.png", "trends_herd.png",
                                       "land_condition_bio.png", "unit_drivers_bio.png",
                                       "trends_correlations_within.png"}
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)
    assert style.OVERLAPS == {}


def test_standardised_series_by_hand():
    panel = _panel()
    out = trends.compute(panel, DICT, STUDY, {"n_sim": 200})
    z = out["standardised"]
    g = z[(z["unit"] == "U1") & (z["indicator"] == "bio")]
    v = panel.loc[panel["unit"] == "U1", "bio"].to_numpy()
    assert g["z"].to_numpy() == pytest.approx((v - v.mean()) / v.std(ddof=1))
    t = out["trends"].set_index(["unit", "indicator"]).loc[("U1", "bio")]
    line = t["intercept"] + t["slope"] * g["year"].to_numpy(float)
    assert g["trend_z"].to_numpy() == pytest.approx((line - v.mean()) / v.std(ddof=1))
    assert set(z["indicator"]) == {"bio", "prec", "herd"}


def test_land_condition_classes_counts_and_area_by_direction():
    """Planted trends: U0 rises strongly, U1 falls strongly, U2 alternates around a constant. With ``better:
    higher`` U0 improves and U1 degrades; with ``better: lower`` they swap. Areas 100/300/600 km2
    give the area shares by hand."""
    rng = np.random.default_rng(3)
    rows = []
    for k, (u, slope) in enumerate([("U0", 2.0), ("U1", -2.0), ("U2", 0.0)]):
        for t, yr in enumerate(range(2000, 2020)):
            rows.append({"unit": u, "year": yr, "bio": 50 + slope * t + (rng.normal(0, 0.5) if slope
                                                                           else 3.0 * (-1) ** t),
                         "prec": rng.normal(300, 40),
                         "herd": rng.normal(10, 1), "area_km2": [100.0, 300.0, 600.0][k]})
    panel = pd.DataFrame(rows)
    study = {**STUDY, "years": [2000, 2019]}
    for better, up, down in (("higher", "improving", "degrading"), ("lower", "degrading", "improving")):
        d = DICT.assign(better=[better, "", ""])
        out = trends.compute(panel, d, study, {"n_sim": 200})
        cu = out["land_condition_units"].set_index("unit")
        assert cu.loc["U0", "condition"] == up and cu.loc["U1", "condition"] == down
        assert cu.loc["U2", "condition"] == "stable"  # alternating series: no trend
        c = out["land_condition"].set_index("condition")
        assert c.loc[up, "n_units"] == 1 and c.loc[up, "area_km2"] == 100.0
        assert c.loc[down, "area_share"] == pytest.approx(300 / 1000)
        assert c.loc[list(trends.CONDITION_CLASSES), "unit_share"].sum() == pytest.approx(1.0)
        assert c.loc[list(trends.CONDITION_CLASSES), "area_share"].sum() == pytest.approx(1.0)
    # no direction in the dictionary: not classed, and the status says why
    out = trends.compute(panel, DICT, study, {"n_sim": 200})
    assert set(out["land_condition_units"]["condition"]) == {"unclassified"}
    assert out["land_condition"]["status"].str.startswith("unclassified").all()


@pytest.mark.parametrize("case", ["random", "ties", "nan", "short", "constant", "integers"])
def test_mk_original_test_equals_pymannkendall_bit_for_bit(case):
    """mk_original_test: every field of pymannkendall.original_test except its Sen slope, with
    ==, on series with ties, missing values, 2 values, a constant and integer counts."""
    rng = np.random.default_rng(len(case))
    x = {"random": rng.normal(size=33) + 0.05 * np.arange(33),
         "ties": np.round(rng.normal(size=29), 1),
         "nan": np.where(rng.random(25) < 0.2, np.nan, rng.normal(size=25)),
         "short": np.array([2.0, 1.0]),
         "constant": np.full(12, 3.5),
         "integers": rng.integers(0, 6, size=40)}[case]
    for alpha in (0.05, 0.1):
        got = trends.mk_original_test(x, alpha=alpha)
        ref = pmk.original_test(x, alpha=alpha)
        for f in ("trend", "h", "p", "z", "Tau", "s", "var_s"):
            assert getattr(got, f) == getattr(ref, f), f


def test_trend_table_without_detectable_slope_changes_nothing_else():
    """trend_table(detectable=False) (the validation's call) is compute()'s trends table with
    detectable_slope left empty; compute's table is trend_table's."""
    df = _panel(n_units=3)
    full = trends.compute(df, DICT, STUDY, {"n_sim": 300})["trends"]
    pd.testing.assert_frame_equal(trends.trend_table(trends.restrict(df, STUDY), DICT, STUDY,
                                                     {"n_sim": 300}), full, check_exact=True)
    lite = trends.trend_table(trends.restrict(df, STUDY), DICT, STUDY, {"n_sim": 300}, detectable=False)
    assert lite["detectable_slope"].isna().all() and full["detectable_slope"].notna().any()
    same = [c for c in full.columns if c not in ("detectable_slope", "reading")]
    pd.testing.assert_frame_equal(lite[same], full[same], check_exact=True)
