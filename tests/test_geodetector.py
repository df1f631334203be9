"""Geographical detector: hand-computed q, the PyPI geodetector example, interaction classes."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dlddrivers.methods import geodetector as gd

DATA = Path(__file__).parent / "data" / "geodetector_disease.csv"


def test_q_by_hand_tiny_example():
    y = np.array([1.0, 2.0, 3.0, 7.0, 8.0, 9.0, 4.0, 6.0])
    s = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    # by the definition: q = 1 - sum_h N_h var_h / (N var), population variances
    N = len(y)
    within = sum(len(y[s == h]) * np.var(y[s == h]) for h in (0, 1, 2))
    q_hand = 1 - within / (N * np.var(y))
    # and from the numbers: var_h = 2/3, 2/3, 1; N var = sum (y - 5)^2 = 60
    assert np.sum((y - 5) ** 2) == 60
    assert q_hand == pytest.approx(1 - (3 * 2 / 3 + 3 * 2 / 3 + 2 * 1) / 60)
    assert gd.q_statistic(y, s) == pytest.approx(q_hand)
    res = gd.factor_detector(y, s)
    assert res["q"] == pytest.approx(q_hand)
    assert res["F"] == pytest.approx((N - 3) / 2 * q_hand / (1 - q_hand))
    # q equals one-way ANOVA's eta squared; F equals ANOVA's F
    from scipy.stats import f_oneway
    assert res["F"] == pytest.approx(f_oneway(y[s == 0], y[s == 1], y[s == 2]).statistic)


def test_pypi_geodetector_published_example():
    d = pd.read_csv(DATA, comment="#")
    assert len(d) == 185
    expected = {"type": (0.3857, 0.372), "region": (0.6378, 0.000129), "level": (0.6067, 0.043)}
    for factor, (q, p) in expected.items():
        res = gd.factor_detector(d["incidence"].to_numpy(), d[factor].to_numpy())
        assert res["q"] == pytest.approx(q, abs=1e-3)
        assert res["p_value"] == pytest.approx(p, abs=1e-3, rel=0.01)


@pytest.mark.parametrize(
    "q1,q2,q12,expected",
    [
        (0.4, 0.5, 0.3, "nonlinear-weaken"),
        (0.4, 0.5, 0.45, "uni-weaken"),
        (0.4, 0.5, 0.7, "bi-enhance"),
        (0.4, 0.5, 0.9, "independent"),
        (0.4, 0.5, 0.95, "nonlinear-enhance"),
    ],
)
def test_classify_interaction_rules(q1, q2, q12, expected):
    assert gd.classify_interaction(q1, q2, q12) == expected


def _overlay_q(y, a, b):
    return gd.q_statistic(y, a * 100 + b)


def test_interaction_classes_on_constructed_data():
    a = np.repeat([0, 1], 4)
    b = np.tile(np.repeat([0, 1], 2), 2)
    # XOR: neither factor alone explains anything, together everything -> nonlinear-enhance
    y = (a ^ b).astype(float) + np.tile([0.0, 0.01], 4)
    q1, q2, q12 = gd.q_statistic(y, a), gd.q_statistic(y, b), _overlay_q(y, a, b)
    assert gd.classify_interaction(q1, q2, q12) == "nonlinear-enhance"
    # additive effects, balanced design, no noise -> q12 = q1 + q2 = 1 -> independent
    y = 2.0 * a + 1.0 * b
    q1, q2, q12 = gd.q_statistic(y, a), gd.q_statistic(y, b), _overlay_q(y, a, b)
    assert q12 == pytest.approx(q1 + q2)
    assert gd.classify_interaction(q1, q2, q12, tol=1e-9) == "independent"
    # correlated factors (b2 mostly equals a) with additive effects -> bi-enhance
    a2 = np.array([0, 0, 0, 0, 1, 1, 1, 1, 0, 1])
    b2 = np.array([0, 0, 0, 1, 1, 1, 1, 0, 0, 1])
    y = 1.0 * a2 + 1.0 * b2 + np.array([0.1, -0.1, 0, 0, 0.1, -0.1, 0, 0, 0.05, -0.05])
    q1, q2, q12 = gd.q_statistic(y, a2), gd.q_statistic(y, b2), _overlay_q(y, a2, b2)
    assert max(q1, q2) < q12 < q1 + q2
    assert gd.classify_interaction(q1, q2, q12) == "bi-enhance"
    # second factor a coarsening of the first -> overlay = first -> uni-weaken (q12 = max)
    f1 = np.repeat([0, 1, 2, 3], 3)
    f2 = f1 // 2
    y = np.arange(12.0) ** 1.5
    q1, q2, q12 = gd.q_statistic(y, f1), gd.q_statistic(y, f2), _overlay_q(y, f1, f2)
    assert q12 == pytest.approx(q1)
    assert gd.classify_interaction(q1, q2, q12) == "uni-weaken"


def test_overlay_never_below_max_property():
    rng = np.random.default_rng(0)
    for _ in range(50):
        y = rng.normal(size=40)
        a, b = rng.integers(0, 4, 40), rng.integers(0, 3, 40)
        assert _overlay_q(y, a, b) >= max(gd.q_statistic(y, a), gd.q_statistic(y, b)) - 1e-12


def test_fisher_jenks_matches_brute_force():
    rng = np.random.default_rng(1)
    for k in (2, 3, 4):
        x = rng.gamma(2.0, size=11)
        v = np.sort(x)
        best = min(
            (sum(((p - p.mean()) ** 2).sum() for p in np.split(v, cuts)), cuts)
            for cuts in itertools.combinations(range(1, len(v)), k - 1)
        )
        e = gd.fisher_jenks(x, k)
        assert len(e) == k + 1 and e[0] == v[0] and e[-1] == v[-1]
        assert list(e[1:-1]) == [v[c - 1] for c in best[1]]
        st = gd.assign_strata(x, e)
        ssd = sum(((x[st == h] - x[st == h].mean()) ** 2).sum() for h in range(k))
        assert ssd == pytest.approx(best[0])


def test_bin_edges_methods():
    x = np.arange(1.0, 13.0)
    q = gd.bin_edges(x, "quantile", 4)
    assert np.bincount(gd.assign_strata(x, q)).tolist() == [3, 3, 3, 3]
    e = gd.bin_edges(x, "equal", 4)
    assert e == pytest.approx([1, 3.75, 6.5, 9.25, 12])
    x2 = np.array([0.0, 10, 10.5, 11, 20, 20.5, 21, 30])
    n = gd.bin_edges(x2, "natural", 4)
    assert np.bincount(gd.assign_strata(x2, n)).tolist() == [1, 3, 3, 1]


def _panel(seed=3, n_units=6, years=range(2001, 2015)):
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n_units):
        for yr in years:
            spei = rng.normal()
            herd = rng.normal(5 + k, 1)
            rows.append({"unit": f"U{k}", "year": yr, "spei": spei, "herd": herd,
                         "noise": rng.normal(),
                         "bio": 100 + 10 * k + 8 * spei + rng.normal(0, 2)})
    return pd.DataFrame(rows)


DICT = pd.DataFrame({"indicator": ["bio", "spei", "herd", "noise"],
                     "role": ["outcome", "driver", "driver", "driver"],
                     "domain": ["outcome", "climate", "grazing", "climate"],
                     "measure": ["g/m2", "1", "head/km2", "1"], "label": ["Biomass", "SPEI",
                                                                           "Herd", "Noise"],
                     "source": ["synthetic"] * 4})
STUDY = {"name": "s", "units": [f"U{k}" for k in range(6)], "years": [2001, 2014],
         "outcomes": ["bio"], "drivers": ["spei", "herd", "noise"], "impacts": [], "seed": 11}


def test_compute_pooled_and_within():
    panel = _panel()
    panel.loc[[0, 1], "herd"] = np.nan
    out = gd.compute(panel, DICT, STUDY, {"n_boot": 99})
    f = out["factor"]
    assert len(f) == 3 * 2 and (f["status"] == "ok").all()
    assert (f["n_dropped"] == 2).all() and (f["n_obs"] == 82).all()
    assert set(f["estimand"]) == {"association"}
    get = f.set_index(["sample", "x"])
    # herd is a unit-level contrast: strong pooled, gone within; spei dominates within
    assert get.loc[("pooled", "herd"), "q"] > 0.3
    assert get.loc[("within", "herd"), "q"] < 0.15
    assert get.loc[("within", "spei"), "q"] > 0.5 > get.loc[("within", "noise"), "q"]
    assert get.loc[("within", "spei"), "p_value"] < 1e-6
    for _, r in f.iterrows():
        assert r["ci_low"] <= r["q"] <= r["ci_high"]
        assert sum(json.loads(r["stratum_sizes"])) == r["n_obs"]
        assert len(json.loads(r["edges"])) == r["n_strata"] + 1
        assert "grows with the number of strata" in r["note"]
    # the table's q is the hand q of the reported binning
    r = get.loc[("pooled", "spei")]
    d = panel.dropna()
    st = gd.assign_strata(d["spei"].to_numpy(), np.array(json.loads(r["edges"])))
    assert r["q"] == pytest.approx(gd.q_statistic(d["bio"].to_numpy(), st), abs=1e-5)
    # risk detector: one row per stratum, sizes and means as the factor's binning gives them
    rk = out["risk"][(out["risk"]["sample"] == "pooled") & (out["risk"]["x"] == "spei")]
    assert rk["n"].tolist() == json.loads(r["stratum_sizes"])
    y = d["bio"].to_numpy()
    assert rk["mean_y"].tolist() == pytest.approx([y[st == h].mean() for h in sorted(set(st))])
    i = out["interaction"]
    assert len(i) == 3 * 2
    assert (i["q_x1x2"] >= np.maximum(i["q_x1"], i["q_x2"]) - 1e-12).all()
    assert i["interaction"].isin(["uni-weaken", "bi-enhance", "independent",
                                  "nonlinear-enhance"]).all()


def test_compute_refuses_small_strata():
    panel = _panel(n_units=2, years=range(2001, 2006))  # 10 obs, 4 strata -> some < 3
    study = {**STUDY, "units": ["U0", "U1"], "years": [2001, 2005]}
    out = gd.compute(panel, DICT, study, {"n_boot": 0, "within": False})
    f = out["factor"]
    assert f["status"].str.startswith("insufficient_data").all()
    assert f["q"].isna().all()
    assert out["interaction"]["status"].str.startswith("insufficient_data").all()


def test_plots(tmp_path):
    from dlddrivers.plots import geodetector as pgd

    panel = _panel()
    out = gd.compute(panel, DICT, STUDY, {"n_boot": 49})
    paths = pgd.plot(out, panel, DICT, STUDY, tmp_path)
    assert [p.name for p in paths] == ["geodetector_q_bio.png", "geodetector_risk_bio.png",
                                       "geodetector_interaction_bio.png"]
    assert all(p.stat().st_size > 0 for p in paths)


def test_risk_detector_means_by_hand_and_welch_against_scipy():
    from scipy import stats

    y = np.array([1.0, 2.0, 3.0, 10.0, 11.0, 12.0, 10.5, 20.0, 21.0])
    st = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2])
    r = gd.risk_detector(y, st, np.array([0.0, 1.0, 2.0, 3.0]), level=0.95)
    assert r["mean_y"].tolist() == pytest.approx([2.0, 10.875, 20.5])
    assert r["n"].tolist() == [3, 4, 2]
    half = stats.t.ppf(0.975, 2) * 1.0 / np.sqrt(3)  # sd of 1,2,3 is 1
    assert r.loc[0, "ci_low"] == pytest.approx(2.0 - half) and r.loc[0, "ci_high"] == pytest.approx(2.0 + half)
    p01 = stats.ttest_ind([1, 2, 3], [10, 11, 12, 10.5], equal_var=False).pvalue
    assert r.loc[0, "p_vs_next"] == pytest.approx(p01)
    assert np.isnan(r.loc[2, "p_vs_next"])
    assert r.loc[[0, 1], "lower"].tolist() == [0.0, 1.0] and r.loc[2, "upper"] == 3.0
    assert r["n_differs"].tolist() == [2, 2, 2]


def test_interaction_naming_wang_and_gd_agree():
    """One classification, two vocabularies: the panel (Wang) and grid (GD) names of the same
    triple are the same type, also at the tolerance boundaries."""
    to_gd = dict(zip(gd.INTERACTION_NAMES["wang"], gd.INTERACTION_NAMES["gd"], strict=True))
    rng = np.random.default_rng(3)
    cases = [(0.4, 0.5, 0.5), (0.4, 0.5, 0.5 + 1e-10), (0.4, 0.5, 0.9), (0.4, 0.5, 0.4 - 1e-10),
             (0.0, 0.0, 0.0), (0.3, np.nan, 0.5)]
    cases += [tuple(rng.uniform(0, 1, 3)) for _ in range(300)]
    for q1, q2, q12 in cases:
        w = gd.classify_interaction(q1, q2, q12, 1e-9)
        g = gd.classify_interaction(q1, q2, q12, 1e-9, naming="gd")
        assert g == to_gd.get(w, w)


def test_boot_q_unit_blocks_and_cells():
    """The unit-block bootstrap with one row per unit draws the same rows as resampling cells
    (same seed, same interval); with several rows per unit it resamples whole units: a unit
    whose rows share one value keeps q at 1 in every draw when strata are the units."""
    rng = np.random.default_rng(8)
    y = rng.normal(size=40)
    st = rng.integers(0, 4, 40)
    cells = gd.boot_q(y, st, 200, 5, 0.9)
    units = gd.boot_q(y, st, 200, 5, 0.9, units=np.arange(40))
    assert cells == units and cells[0] < gd.q_statistic(y, st) < cells[1]
    unit = np.repeat(np.arange(8), 5)
    yb = np.repeat(rng.normal(size=8), 5)
    assert gd.boot_q(yb, unit, 100, 1, 0.9, units=unit) == pytest.approx((1.0, 1.0), abs=1e-12)
    # y varying within units: resampling whole units is not resampling rows
    yv = yb + rng.normal(size=40)
    assert gd.boot_q(yv, st, 100, 1, 0.9, units=unit) != gd.boot_q(yv, st, 100, 1, 0.9)
    assert all(np.isnan(gd.boot_q(y, st, 0, 1, 0.9)))
    # q definition passed through: GD's sample-variance q differs from the population q
    assert gd.boot_q(y, st, 50, 2, 0.9, definition="gd") != gd.boot_q(y, st, 50, 2, 0.9)


def test_interaction_heatmap_draws_the_tables(tmp_path, monkeypatch):
    """Each panel of the interaction figure shows the factor table's q on its diagonal and the
    interaction table's q(X1 n X2) symmetrically off it, with the type's abbreviation (read back
    from the drawn image and texts); a pair naming no factor is an error naming the value."""
    import matplotlib.pyplot as plt

    from dlddrivers.plots import geodetector as pgd
    from dlddrivers.plots import style

    panel = _panel()
    out = gd.compute(panel, DICT, STUDY, {"n_boot": 0})
    figs = {}
    monkeypatch.setattr(style, "save", lambda fig, path, caption=None: figs.setdefault(Path(path).name, fig)
                        and [Path(path)])
    pgd.plot(out, panel, DICT, STUDY, tmp_path)
    fig = figs["geodetector_interaction_bio.png"]
    f, it = out["factor"], out["interaction"]
    samples = list(dict.fromkeys(f["sample"]))
    xs = list(dict.fromkeys(f["x"]))
    for ax, s in zip(fig.axes, samples, strict=False):  # the colour bar's axes comes last
        want = np.full((len(xs), len(xs)), np.nan)
        text = {}
        for i, x in enumerate(xs):
            want[i, i] = f.loc[(f["sample"] == s) & (f["x"] == x), "q"].iloc[0]
        for r in it[it["sample"] == s].itertuples():
            i, j = xs.index(r.x1), xs.index(r.x2)
            want[i, j] = want[j, i] = r.q_x1x2
            text[(i, j)] = text[(j, i)] = f"{r.q_x1x2:.2f}\n{pgd.ABBREV[r.interaction]}"
        got = np.asarray(ax.images[0].get_array(), float)
        np.testing.assert_allclose(got, want, rtol=0, atol=0)
        drawn = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
        for key, t in text.items():
            assert drawn[key] == t
    plt.close("all")
    bad = {**out, "interaction": out["interaction"].assign(x1="not_a_factor")}
    with pytest.raises(ValueError, match="not_a_factor"):
        pgd.plot(bad, panel, DICT, STUDY, tmp_path)
    plt.close("all")


@pytest.mark.parametrize("kind", ["codes with gaps", "uint8", "strings", "negative", "huge codes"])
def test_stratum_sums_direct_count_equals_the_factorised_sums_bit_for_bit(kind):
    """q's per-stratum sums and counts from the direct count of integer codes equal those of
    np.unique + bincount (sorted label order, empty codes absent) to the last bit, and q is
    the same; labels that are not small non-negative integers take the factorised path."""
    rng = np.random.default_rng(4)
    y = rng.lognormal(size=3001) * 1e3
    codes = rng.choice([0, 2, 3, 7, 11], size=len(y))
    strata = {"codes with gaps": codes, "uint8": codes.astype(np.uint8),
              "strings": np.array([f"s{c}" for c in codes]), "negative": codes - 5,
              "huge codes": codes * 10**9}[kind]
    _, inv = np.unique(strata, return_inverse=True)
    sums, cnt = gd._stratum_sums(y, strata)
    assert np.array_equal(sums, np.bincount(inv, weights=y))  # exact, not approx
    assert np.array_equal(cnt, np.bincount(inv)) and cnt.dtype == np.bincount(inv).dtype
    ref = np.bincount(inv, weights=y)
    ssb = float((ref**2 / np.bincount(inv)).sum() - y.sum() ** 2 / len(y))
    sst = float(((y - y.mean()) ** 2).sum())
    assert gd.q_statistic(y, strata) == min(max(ssb / sst, 0.0), 1.0)


def test_risk_detector_welch_tests_equal_the_direct_pairwise_tests():
    """Each pair of strata is tested once and reused both ways: p_vs_next and n_differs equal
    (exactly) those of a Welch t-test run for every ordered pair, as the detector used to."""
    from scipy import stats

    rng = np.random.default_rng(9)
    strata = rng.integers(0, 6, 400)
    strata[strata == 4] = 3  # an empty stratum in the middle
    strata[:1] = 5
    strata[strata == 5] = np.r_[5, np.full((strata == 5).sum() - 1, 0)]  # stratum 5: one value
    y = rng.gamma(2.0, size=len(strata)) + 0.3 * strata
    edges = np.arange(7.0)
    out = gd.risk_detector(y, strata, edges, alpha=0.05)
    present = [h for h in range(6) if (strata == h).any()]
    groups = {h: y[strata == h] for h in present}
    for k, h in enumerate(present):
        r = out[out["stratum"] == h + 1].iloc[0]
        v = groups[h]
        nxt = present[k + 1] if k + 1 < len(present) else None
        if nxt is not None and len(v) > 1 and len(groups[nxt]) > 1:
            assert r["p_vs_next"] == float(stats.ttest_ind(v, groups[nxt], equal_var=False).pvalue)
        else:
            assert np.isnan(r["p_vs_next"])
        differs = sum(1 for g, w in groups.items() if g != h and len(v) > 1 and len(w) > 1
                      and stats.ttest_ind(v, w, equal_var=False).pvalue < 0.05)
        assert r["n_differs"] == differs
    assert out["n_differs"].sum() > 0 and out["p_vs_next"].notna().sum() >= 2
