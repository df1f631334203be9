"""Tests of the causal stage against known truths (DoWhy's linear dataset, synthetic panels)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from dlddrivers.causal.attribution import change_attribution
from dlddrivers.causal.audit import audit_graph
from dlddrivers.causal.effects import estimate_pair
from dlddrivers.causal.graph import GraphError, load_graph
from dlddrivers.causal.stage import DEFAULTS, compute, merge_options
from dlddrivers.causal.synthetic import confounded_graph, confounded_panel
from dlddrivers.causal.timeseries import granger_table

FAST = {"refuter_simulations": 20,
        "change_attribution": {"bootstrap": 5, "num_samples": 300}}


def _opts(**kw):
    return merge_options({**FAST, **kw})


def _dictionary(domains: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({"indicator": list(domains), "domain": list(domains.values()),
                         "role": ["outcome" if d == "outcome" else "driver"
                                  for d in domains.values()],
                         "measure": ["unit"] * len(domains)})


# ---------------------------------------------------------------- DoWhy linear dataset
def test_linear_dataset_beta10_recovered_and_placebo_passes():
    import dowhy.datasets

    np.random.seed(7)
    data = dowhy.datasets.linear_dataset(beta=10, num_common_causes=3, num_instruments=0,
                                         num_samples=400, treatment_is_binary=False)
    df = data["df"].copy()
    t, y = data["treatment_name"][0], data["outcome_name"]
    df["unit"] = [f"U{i % 20:02d}" for i in range(len(df))]
    df["year"] = [2000 + i // 20 for i in range(len(df))]
    g = nx.DiGraph(nx.parse_gml(data["gml_graph"]))
    row, refs = estimate_pair(df, g, t, y, _opts(), seed=11)
    assert row["status"] == "ok"
    assert row["effect"] == pytest.approx(10, abs=0.3)
    assert row["ci_low"] < 10 < row["ci_high"]
    placebo = next(r for r in refs if r["refuter"] == "placebo_treatment")
    assert placebo["passed"]
    assert abs(placebo["new_effect"]) < 1.0
    assert {r["refuter"] for r in refs} == {"placebo_treatment", "random_common_cause",
                                            "unit_subset", "unit_bootstrap",
                                            "unobserved_common_cause"}
    assert all(r["n_simulations"] == 20 for r in refs if r["refuter"] != "unobserved_common_cause")


# ---------------------------------------------------------------- synthetic panels
def test_two_way_demeaned_estimate_recovers_panel_effect_where_pooled_ols_fails():
    panel = confounded_panel(effect=0.5, seed=3)
    row, refs = estimate_pair(panel, confounded_graph(), "press", "y", _opts(), seed=5)
    assert row["panel_handling"] == "two-way demeaned (unit and year)"
    assert row["adjustment_set"] == "clim"
    assert row["effect"] == pytest.approx(0.5, abs=0.08)
    assert row["ci_low"] < 0.5 < row["ci_high"]
    assert row["effect_per_sd"] == pytest.approx(row["effect"] * row["driver_sd_within"])
    assert (row["n_units"], row["n_years"], row["n_obs"]) == (12, 20, 240)
    # the same regression without unit/year effects is badly biased: the test can fail
    x = np.column_stack([np.ones(len(panel)), panel["press"], panel["clim"]])
    pooled = np.linalg.lstsq(x, panel["y"].to_numpy(), rcond=None)[0][1]
    assert abs(pooled - 0.5) > 0.5
    assert len(refs) == 5


def test_hidden_confounder_is_flagged_by_sensitivity_but_strong_effect_is_not():
    hidden = confounded_panel(effect=0.0, hidden=0.6, seed=4)
    row, refs = estimate_pair(hidden, confounded_graph(), "press", "y", _opts(), seed=6)
    assert row["ci_low"] > 0  # a spurious, "significant" effect (truth is 0)
    sens = next(r for r in refs if r["refuter"] == "unobserved_common_cause")
    assert sens["erasing_strength"] < DEFAULTS["rules"]["sensitivity_min_strength"]
    assert not sens["passed"]

    strong = confounded_panel(effect=1.5, seed=4)
    row2, refs2 = estimate_pair(strong, confounded_graph(), "press", "y", _opts(), seed=6)
    sens2 = next(r for r in refs2 if r["refuter"] == "unobserved_common_cause")
    assert sens2["erasing_strength"] > sens["erasing_strength"]
    assert sens2["passed"]
    # as numbers (Cinelli-Hazlett): the spurious effect needs a much weaker confounder to vanish
    assert row["rv_q1"] < row2["rv_q1"] and row["k_erase"] < row2["k_erase"]
    assert row["benchmark"] == "clim" and 0 < row["partial_r2_yd"] < row["rv_q1"]
    # the sensitivity scan is informative, not part of the pass count
    assert row["refuters_passed"].endswith("/4")


def test_lagged_treatment_uses_previous_year():
    panel = confounded_panel(effect=0.5, seed=3)
    opts = _opts(lag_treatment=True)
    row, _ = estimate_pair(panel, confounded_graph(), "press", "y", opts, seed=5)
    assert row["treatment_lag"] == 1
    assert row["n_obs"] == 12 * 19  # first year of each unit has no t-1
    assert abs(row["effect"]) < 0.2  # y depends on press at t only


def test_too_few_rows_give_status_and_nan():
    panel = confounded_panel(n_units=2, n_years=4, seed=1)
    row, refs = estimate_pair(panel, confounded_graph(), "press", "y", _opts(), seed=1)
    assert row["status"].startswith("insufficient_data")
    assert np.isnan(row["effect"]) and refs == []


# ---------------------------------------------------------------- graph loading
def _write(tmp_path, text):
    f = tmp_path / "g.yaml"
    f.write_text(text)
    return f


def test_graph_errors_name_file_and_edge(tmp_path):
    f = _write(tmp_path, "edges:\n - {from: a, to: b, reason: r}\n - {from: b, to: a, reason: r}\n")
    with pytest.raises(GraphError, match=r"g\.yaml.*cycle.*(a -> b|b -> a)"):
        load_graph(f)
    f = _write(tmp_path, "edges:\n - {from: a, to: b, reason: r}\n - {from: b, to: c}\n")
    with pytest.raises(GraphError, match=r"g\.yaml.*edge 1 \(b -> c\).*reason"):
        load_graph(f)
    f = _write(tmp_path, "edges:\n - {from: a, to: b, reason: r}\n - {from: zz, to: b, reason: r}\n")
    with pytest.raises(GraphError, match=r"g\.yaml.*\['zz'\].*zz -> b.*panel"):
        load_graph(f, panel_columns=["unit", "year", "a", "b", "c"])
    g = load_graph(f, panel_columns=["unit", "year", "a", "b", "zz", "extra"])  # subset is fine
    assert g.edges["a", "b"]["reason"] == "r"


@pytest.mark.parametrize("name", ["neasia", "mongolia_aimag", "mongolia_dzud"])
def test_default_graphs_are_valid_dags_with_reasons(name):
    g = load_graph(f"config/graphs/{name}.yaml")
    assert nx.is_directed_acyclic_graph(g)
    assert all(d["reason"] for _, _, d in g.edges(data=True))
    outcome = {"neasia": "bare_sparse_share", "mongolia_aimag": "biomass_median",
               "mongolia_dzud": "mort_sfu"}[name]
    assert outcome in g and nx.ancestors(g, outcome)


# ---------------------------------------------------------------- change attribution
def test_change_attribution_points_at_the_shifted_driver():
    rng = np.random.default_rng(0)
    rows = []
    for u in range(8):
        for yr in range(2000, 2020):
            x1 = rng.normal()
            x2 = rng.normal() + (2.0 if yr >= 2010 else 0.0)
            rows.append({"unit": f"U{u}", "year": yr, "x1": x1, "x2": x2,
                         "y": x1 + x2 + 0.3 * rng.normal()})
    panel = pd.DataFrame(rows)
    g = nx.DiGraph([("x1", "y"), ("x2", "y")])
    out = change_attribution(panel, g, "y", [2000, 2004], [2015, 2019], n_bootstrap=10,
                             num_samples=500, seed=1)
    s = out.set_index("node")["share_of_change"]
    assert s["x2"] > 0.8 and abs(s["x1"]) < 0.15 and abs(s["y"]) < 0.15
    assert out["contribution"].sum() == pytest.approx(out["observed_change"].iloc[0], abs=0.3)
    assert (out["estimand"] == "share_of_change").all()
    lo, hi = out.set_index("node").loc["x2", ["ci_low", "ci_high"]]
    assert lo < s["x2"] < hi


# ---------------------------------------------------------------- Granger and audit
def test_granger_detects_a_leading_driver_and_reports_n():
    rng = np.random.default_rng(1)
    x = rng.normal(size=40).cumsum()
    y = np.r_[0.0, 2.0 * np.diff(x)].cumsum()  # dy_t depends on dx_{t-1}
    y = np.r_[0.0, y[:-1]] + 0.1 * rng.normal(size=40).cumsum()
    p = pd.DataFrame({"unit": "A", "year": range(1980, 2020), "x": x, "y": y})
    short = pd.DataFrame({"unit": "B", "year": range(2000, 2006), "x": x[:6], "y": y[:6]})
    out = granger_table(pd.concat([p, short]), ["x"], ["y"], maxlag=2)
    a = out[(out.unit == "A") & (out.lag == 1)].iloc[0]
    assert a["p_value"] < 0.01 and a["n_obs"] == 39
    assert out[out.unit == "B"]["status"].str.startswith("insufficient_data").all()


def test_audit_flags_unsupported_and_suggested_edges():
    rng = np.random.default_rng(2)
    n = 300
    a = rng.normal(size=n)
    b = a + 0.5 * rng.normal(size=n)
    c = rng.normal(size=n)
    d = b + c + 0.5 * rng.normal(size=n)
    p = pd.DataFrame({"unit": [f"U{i % 10}" for i in range(n)],
                      "year": [2000 + i // 10 for i in range(n)], "a": a, "b": b, "c": c, "d": d})
    g = nx.DiGraph()
    g.add_edge("a", "b", reason="true")
    g.add_edge("a", "c", reason="false edge")
    g.add_edge("c", "d", reason="true")
    out = audit_graph(p, g, alpha=0.01).set_index(["from", "to"])
    assert out.loc[("a", "b"), "verdict"] == "supported"
    assert out.loc[("a", "c"), "verdict"] == "not supported"
    assert out.loc[("b", "d"), "verdict"] == "suggested by data (not in config)"


# ---------------------------------------------------------------- the stage
def test_compute_returns_all_tables_with_honesty_columns():
    panel = confounded_panel(effect=0.5, seed=9)
    dic = _dictionary({"clim": "climate", "press": "grazing", "y": "outcome"})
    study = {"name": "syn", "outcomes": ["y"], "impacts": ["not_in_graph"], "seed": 1}
    tabs = compute(panel, dic, study, FAST, confounded_graph())
    assert set(tabs) == {"effects", "refutations", "change_attribution", "granger", "audit"}
    for name, t in tabs.items():
        assert {"study", "n_obs", "status"} <= set(t.columns), name
    eff = tabs["effects"]
    ok = eff[eff.status == "ok"]
    assert list(ok.treatment) == ["press"]  # climate is not a treatment
    assert eff[eff.outcome == "not_in_graph"].status.str.startswith("skipped").all()
    assert ok["robust"].iloc[0] in (True, False)
    ref = tabs["refutations"]
    assert {"estimate", "effect", "new_effect", "passed", "rule"} - set(ref.columns) == {"estimate"}
    again = compute(panel, dic, study, FAST, confounded_graph())
    pd.testing.assert_frame_equal(tabs["refutations"], again["refutations"])
    pd.testing.assert_frame_equal(tabs["change_attribution"], again["change_attribution"])


def test_plots_write_files(tmp_path):
    from dlddrivers.plots.causal import plot

    panel = confounded_panel(effect=0.5, seed=9)
    dic = _dictionary({"clim": "climate", "press": "grazing", "y": "outcome"})
    study = {"name": "syn", "outcomes": ["y"], "seed": 1}
    tabs = compute(panel, dic, study, FAST, confounded_graph())
    paths = plot(tabs, confounded_graph(), dic, study, tmp_path)
    assert {p.name for p in paths} == {"causal_graph.png", "causal_effects.png",
                                      "causal_change_attribution.png"}
    assert all(p.stat().st_size > 1000 for p in paths)


def test_dml_with_grouped_folds_recovers_panel_effect():
    from dlddrivers.causal.effects import estimate_pair_dml

    row = estimate_pair_dml(confounded_panel(effect=0.5, seed=3), confounded_graph(), "press",
                            "y", _opts(dml=True), seed=5)
    assert row["estimator"] == "backdoor.econml.dml.LinearDML" and row["status"] == "ok"
    assert row["ci_low"] < 0.5 < row["ci_high"] and abs(row["effect"] - 0.5) < 0.1


def test_subset_and_bootstrap_refuters_draw_different_samples():
    """Each simulation of the data-subset and bootstrap refuters must use a new sample; with an
    int random_state DoWhy reuses one sample, so the refuter distribution collapses (p = 0)."""
    import dowhy.datasets

    np.random.seed(3)
    data = dowhy.datasets.linear_dataset(beta=10, num_common_causes=2, num_instruments=0,
                                         num_samples=300, treatment_is_binary=False)
    df = data["df"].copy()
    t, y = data["treatment_name"][0], data["outcome_name"]
    df["unit"] = [f"U{i % 15:02d}" for i in range(len(df))]
    df["year"] = [2000 + i // 15 for i in range(len(df))]
    g = nx.DiGraph(nx.parse_gml(data["gml_graph"]))
    _, refs = estimate_pair(df, g, t, y, _opts(bootstrap_noise=0.0), seed=5)
    by = {r["refuter"]: r for r in refs}
    for name in ("unit_subset", "unit_bootstrap"):
        assert by[name]["refuter_p_value"] > 0.05, name
        assert by[name]["passed"], name


@pytest.mark.parametrize("graph_kind", ["confounded", "no_adjusters"])
def test_array_refuters_equal_dowhy_refuters_bit_for_bit(graph_kind):
    """The "arrays" refuter engine (dlddrivers.causal.fastrefute) draws the same samples and
    does the same least-squares arithmetic as DoWhy's placebo and random-common-cause
    refuters and its unobserved-common-cause simulation: every refutation row, new effect, p
    value and erasing strength included, is identical to DoWhy's, with and without adjusters."""
    panel = confounded_panel(effect=0.5, seed=8)
    g = confounded_graph()
    if graph_kind == "no_adjusters":
        g = nx.DiGraph([("press", "y")])
    # 100 simulations: DoWhy's bootstrap p value (not the normal approximation) is compared too
    rows = {}
    for engine in ("arrays", "dowhy"):
        opts = _opts(refuter_engine=engine, refuter_simulations=100, bootstrap_noise=0.1,
                     sensitivity_strengths=[0.05, 0.1, 0.2, 0.5, 1.0, 2.0])
        rows[engine] = estimate_pair(panel, g, "press", "y", opts, seed=21)
    (row_a, refs_a), (row_d, refs_d) = rows["arrays"], rows["dowhy"]
    assert row_a == row_d or pd.Series(row_a).equals(pd.Series(row_d))
    assert len(refs_a) == len(refs_d) >= 3
    for a, d in zip(refs_a, refs_d, strict=True):
        assert a["refuter"] == d["refuter"]
        assert a["new_effect"] == d["new_effect"], a["refuter"]
        assert a["refuter_p_value"] == d["refuter_p_value"] or (
            np.isnan(a["refuter_p_value"]) and np.isnan(d["refuter_p_value"])), a["refuter"]
        assert a["passed"] == d["passed"]
        assert a["erasing_strength"] == d["erasing_strength"] or (
            np.isnan(a["erasing_strength"]) and np.isnan(d["erasing_strength"]))
    # and it is not trivially equal: the refuters do move the effect
    by = {r["refuter"]: r["new_effect"] for r in refs_a}
    assert by["random_common_cause"] != row_a["effect"] and by["placebo_treatment"] != 0


def test_refuter_engine_is_checked():
    with pytest.raises(ValueError, match="refuter_engine.*'fast'"):
        estimate_pair(confounded_panel(effect=0.5, seed=3), confounded_graph(), "press", "y",
                      _opts(refuter_engine="fast"), seed=5)


def test_period_coverage_flag_names_data_ending_inside_the_recent_period():
    from dlddrivers.causal.attribution import period_coverage_flag

    panel = pd.DataFrame({"unit": ["A"] * 14, "year": range(2007, 2021),
                          "licences": [1.0] * 12 + [np.nan] * 2, "spei": np.arange(14.0)})
    flag = period_coverage_flag(panel, "licences", [2007, 2013], [2014, 2020])
    assert flag == "licences data end in 2018, inside the recent period 2014-2020"
    assert period_coverage_flag(panel, "spei", [2007, 2013], [2014, 2020]) == ""
    late = panel.assign(spei=[np.nan] * 3 + list(range(11)))
    assert "start in 2010, inside the baseline period 2007-2013" in period_coverage_flag(
        late, "spei", [2007, 2013], [2014, 2020])


def test_identified_estimands_are_cached_per_graph_and_copied():
    """identify() runs DoWhy once per graph (nodes, edges, in order) and pair: a second call
    returns an equal copy (changing it leaves the next call untouched), another graph or pair
    is identified anew, and the stage's rows are the same whether the cache is cold or warm."""
    from dlddrivers.causal import effects as E

    E._IDENTIFIED.clear()
    g = confounded_graph()
    a = E.identify(g, "press", "y")
    b = E.identify(g, "press", "y")
    assert a is not b and vars(a) == vars(b) and len(E._IDENTIFIED) == 1
    b.set_backdoor_variables(["bogus"], key="backdoor")
    assert E.identify(g, "press", "y").get_backdoor_variables() == a.get_backdoor_variables()
    assert E.identify(nx.DiGraph([("press", "y")]), "press", "y").get_backdoor_variables() == []
    assert len(E._IDENTIFIED) == 2
    assert E.identify(nx.DiGraph([("y", "press")]), "press", "y") is None  # no directed path
    panel = confounded_panel(effect=0.5, seed=8)
    warm = estimate_pair(panel, g, "press", "y", _opts(), seed=3)
    E._IDENTIFIED.clear()
    cold = estimate_pair(panel, g, "press", "y", _opts(), seed=3)
    assert pd.Series(warm[0]).equals(pd.Series(cold[0]))
    assert pd.DataFrame(warm[1]).equals(pd.DataFrame(cold[1]))


def test_a_linear_fit_builds_no_unlogged_summary_and_gives_the_same_numbers(monkeypatch):
    """fit_linear skips statsmodels' text summary that DoWhy builds for a debug line nobody
    writes: the effect, its model's statistics and the summary afterwards are the same, and
    with debug logging on the summary is built as before."""
    import logging

    from statsmodels.regression.linear_model import RegressionResults

    from dlddrivers.causal import effects as E

    rng = np.random.default_rng(5)
    n = 120
    df = pd.DataFrame({"c": rng.normal(size=n)})
    df["t"] = 0.5 * df["c"] + rng.normal(size=n)
    df["y"] = 1.5 * df["t"] - df["c"] + rng.normal(size=n)
    g = nx.DiGraph([("c", "t"), ("c", "y"), ("t", "y")])
    ie = E.identify(g, "t", "y")
    calls = []
    original = RegressionResults.summary

    def counting(self, *a, **k):
        calls.append(1)
        return original(self, *a, **k)

    monkeypatch.setattr(RegressionResults, "summary", counting)
    quiet = E.fit_linear(df, ie)
    assert calls == [] and RegressionResults.__dict__["summary"] is counting  # restored
    logger = logging.getLogger("dowhy.causal_estimator")  # the estimators' logger
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        loud = E.fit_linear(df, ie)
    finally:
        logger.setLevel(level)
    assert calls  # DoWhy's debug line gets its summary
    assert quiet.value == loud.value
    m1, m2 = quiet.estimator.model, loud.estimator.model
    assert np.asarray(m1.bse).tobytes() == np.asarray(m2.bse).tobytes()
    assert np.asarray(m1.params).tobytes() == np.asarray(m2.params).tobytes()
    assert m1.summary().as_text() == m2.summary().as_text()
