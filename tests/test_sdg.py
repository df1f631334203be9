"""SDG 15.3.1 productivity terms: hand-made series with known classes; planted RESTREND trend."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dlddrivers.methods import sdg


def test_state_classes_by_hand():
    base = np.arange(1.0, 11.0)  # extended by 0.55 and 10.45 -> p10..p90 = 1.1, 2.2, ..., 9.9
    s = sdg.state_classes(base, 9.0)
    assert s["baseline_class"] == 5  # mean 5.5 is > 1.1..4.4, not > 5.5
    assert s["recent_class"] == 9 and s["change"] == 4 and s["deg"] == 1
    s = sdg.state_classes(base, 2.0)
    assert s["recent_class"] == 2 and s["change"] == -3 and s["deg"] == -1
    s = sdg.state_classes(base, 6.0)
    assert s["change"] == 1 and s["deg"] == 0
    s = sdg.state_classes(base, 3.4)  # class 4: change -1, stable
    assert s["change"] == -1 and s["deg"] == 0


def test_performance_by_hand():
    m = pd.Series([10.0, 20, 30, 40, 50, 100], index=list("abcdef"))
    pr = sdg.performance_ratio(m)
    assert pr["p90"].iloc[0] == pytest.approx(75.0)  # 50 + 0.5 * (100 - 50)
    assert pr.loc["a", "ratio"] == pytest.approx(10 / 75) and pr.loc["a", "deg"] == -1
    assert pr.loc["c", "ratio"] == pytest.approx(0.4) and pr.loc["c", "deg"] == -1
    assert pr.loc["d", "ratio"] == pytest.approx(40 / 75) and pr.loc["d", "deg"] == 0


def test_trajectory_classes_by_hand():
    years = np.arange(2001, 2011)
    # n = 10: var(S) = 10*9*25/18 = 125. S = 45 - 2 * inversions.
    up = np.arange(10.0)  # S = 45 -> p < .01 -> +3
    assert sdg.trajectory_class(years, up)["cls"] == 3
    assert sdg.trajectory_class(years, -up)["cls"] == -3
    y23 = np.array([5, 4, 3, 2, 1, 7, 6, 8, 9, 10.0])  # 11 inversions: S = 23, z = 1.968, p = .049
    t = sdg.trajectory_class(years, y23)
    assert t["mk_s"] == 23 and t["cls"] == 2 and t["deg"] == 1
    y21 = np.array([5, 4, 3, 2, 1, 7, 6, 9, 8, 10.0])  # 12 inversions: S = 21, z = 1.789, p = .074
    t = sdg.trajectory_class(years, y21)
    assert t["mk_s"] == 21 and t["cls"] == 1 and t["deg"] == 0
    zig = np.array([1, 3, 2, 4, 1, 3, 2, 4, 1, 3.0])
    assert sdg.trajectory_class(years, zig)["cls"] == 0


@pytest.mark.parametrize(
    "traj,state,perf,expected",
    [(-1, 0, 0, 1), (-1, 1, -1, 1), (0, 0, 0, 4), (0, 1, -1, 4), (1, 0, 0, 5), (1, -1, 0, 5),
     (0, 0, -1, 3), (1, -1, -1, 2), (0, -1, 0, 2), (0, -1, -1, 1)],
)
def test_prod5_lookup(traj, state, perf, expected):
    assert sdg.prod5(traj, state, perf) == expected


def test_combined_with_missing_performance():
    assert sdg.combined_class(-1, 0, None)[0] == 1  # performance does not matter
    assert np.isnan(sdg.combined_class(0, 0, None)[0])  # 3 or 4 depending on performance


DICT = pd.DataFrame({"indicator": ["bio", "bare", "prec"], "role": ["outcome", "outcome", "driver"],
                     "domain": ["outcome", "outcome", "climate"],
                     "measure": ["g/m2", "% of land", "mm"], "label": ["Biomass", "Bare", "Precip"],
                     "source": ["synthetic"] * 3})


def _panel(seed=4, n=20):
    rng = np.random.default_rng(seed)
    rows = []
    years = np.arange(2001, 2001 + n)
    for u, (trend, level) in {"A": (1.5, 900), "B": (0.0, 1000), "C": (-1.5, 100),
                              "D": (0.0, 1100)}.items():
        prec = rng.normal(300, 50, n)
        bio = level + 2 * prec + trend * (years - years[0]) + rng.normal(0, 5, n)
        bare = 30 - 0.5 * (years - years[0]) + rng.normal(0, 0.5, n) if u == "A" else \
            rng.normal(20, 1, n)
        rows += [{"unit": u, "year": int(y), "prec": p, "bio": b, "bare": s}
                 for y, p, b, s in zip(years, prec, bio, bare, strict=True)]
    return pd.DataFrame(rows)


STUDY = {"name": "s", "units": ["A", "B", "C", "D"], "years": [2001, 2020],
         "outcomes": ["bio", "bare"], "drivers": ["prec"], "impacts": [], "seed": 1}


def test_climate_corrected_trajectory_recovers_planted_trend():
    panel = _panel()
    out = sdg.compute(panel, DICT, STUDY, {"higher_is_better": {"bare": False}})["sdg_terms"]
    cc = out[(out.term == "trajectory_climate_corrected") & (out.indicator == "bio")]
    cc = cc.set_index("unit")
    assert (cc["status"] == "ok").all()
    assert cc.loc["A", "value"] == pytest.approx(1.5, abs=0.3)
    assert cc.loc["A", "ci_low"] < 1.5 < cc.loc["A", "ci_high"]
    assert cc.loc["A", "cls"] == 3 and cc.loc["C", "cls"] == -3
    assert cc.loc["B", "cls"] in (-1, 0, 1)
    raw = out[(out.term == "trajectory") & (out.indicator == "bio")].set_index("unit")
    # precipitation noise (2 * 50 mm sd) hides the trend from the raw trajectory
    assert abs(raw.loc["A", "cls"]) < 3
    assert set(out["estimand"]) == {"detection"}


def test_climate_fit_refused_when_not_significant():
    panel = _panel()
    rng = np.random.default_rng(0)
    panel["bio"] = 500 + rng.normal(0, 10, len(panel))  # unrelated to prec
    out = sdg.compute(panel, DICT, {**STUDY, "outcomes": ["bio"]}, {})["sdg_terms"]
    cc = out[out.term == "trajectory_climate_corrected"]
    refused = cc["status"].str.startswith("refused: climate fit not significant")
    assert refused.sum() >= 3 and cc.loc[refused, "value"].isna().all()


def test_lower_is_better_and_table():
    panel = _panel()
    out = sdg.compute(panel, DICT, STUDY, {"higher_is_better": {"bare": False}})["sdg_terms"]
    bare = out[out.indicator == "bare"].set_index(["unit", "term"])
    # A's bare share falls 0.5 %-points a year: slope reported as -0.5, class +3 (improving)
    assert bare.loc[("A", "trajectory"), "value"] == pytest.approx(-0.5, abs=0.05)
    assert bare.loc[("A", "trajectory"), "cls"] == 3
    assert bare.loc[("A", "state"), "degradation"] == 1
    assert bare.loc[("A", "performance"), "status"].startswith("refused")
    assert bare.loc[("A", "sdg_productivity"), "cls"] == 5  # performance not needed
    bio = out[out.indicator == "bio"].set_index(["unit", "term"])
    # C: mean ~ 100 + 600 - 14 = 686 < 0.5 * p90 (~0.5 * 1670) -> degraded
    assert bio.loc[("C", "performance"), "degradation"] == -1
    assert bio.loc[("A", "state"), "note"].startswith("baseline class")
    assert (out["baseline"] == "2001-2013").all() and (out["recent"] == "2018-2020").all()
    assert len(out) == 2 * 4 * 5


def test_insufficient_years():
    panel = _panel(n=6)
    out = sdg.compute(panel, DICT, {**STUDY, "years": [2001, 2006]}, {})["sdg_terms"]
    t = out[out.term == "trajectory"]
    assert t["status"].str.startswith("insufficient_data: 6 years < 8").all()


def test_plot(tmp_path):
    from dlddrivers.plots import sdg as psdg

    panel = _panel()
    tables = sdg.compute(panel, DICT, STUDY, {"higher_is_better": {"bare": False}})
    paths = psdg.plot(tables, panel, DICT, STUDY, tmp_path)
    assert [p.name for p in paths] == ["sdg_terms_bio.png", "sdg_terms_bare.png"]


def test_direction_read_from_the_dictionary():
    """No option: the catalogue's `better: lower` (dictionary column) makes a falling bare-land
    share an improvement; without it the old default called it degradation (issue 13)."""
    panel = _panel()
    dic = DICT.assign(better=["higher", "lower", ""])
    out = sdg.compute(panel, dic, STUDY, {})["sdg_terms"]
    bare = out[out.indicator == "bare"].set_index(["unit", "term"])
    assert not bare.loc[("A", "trajectory"), "higher_is_better"]
    assert bare.loc[("A", "trajectory"), "cls"] == 3 and bare.loc[("A", "state"), "degradation"] == 1
    old = sdg.compute(panel, DICT, STUDY, {})["sdg_terms"]
    assert old[(old.indicator == "bare") & (old.unit == "A") & (old.term == "trajectory")]["cls"].iloc[0] == -3
    # an explicit option still overrides the catalogue
    over = sdg.compute(panel, dic, STUDY, {"higher_is_better": {"bare": True}})["sdg_terms"]
    assert over[(over.indicator == "bare") & (over.unit == "A") & (over.term == "trajectory")]["cls"].iloc[0] == -3
