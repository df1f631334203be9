"""The change attribution's "arrays" engine (dlddrivers.causal.fastchange) against DoWhy's own
``gcm.distribution_change_of_graphs``: the same table, bit for bit, for the same seed."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from dlddrivers.causal.attribution import change_attribution, default_periods
from dlddrivers.causal.stage import DEFAULTS, compute
from dlddrivers.causal.synthetic import confounded_graph, confounded_panel, study_like_panel
from dlddrivers.errors import ConfigError


def _random_dag(n_nodes: int, seed: int) -> tuple[nx.DiGraph, str]:
    """A connected DAG over n0..n{k-1} whose last node has every other node as an ancestor."""
    rng = np.random.default_rng(seed)
    names = [f"n{i}" for i in range(n_nodes)]
    g = nx.DiGraph()
    for i in range(1, n_nodes):
        parents = [names[j] for j in range(i) if rng.random() < 0.4] or [names[i - 1]]
        g.add_edges_from((p, names[i]) for p in parents)
    for j in range(n_nodes - 1):  # every node upstream of the outcome
        if not nx.has_path(g, names[j], names[-1]):
            g.add_edge(names[j], names[-1])
    return g, names[-1]


def _assert_tables_identical(a: pd.DataFrame, d: pd.DataFrame) -> None:
    assert list(a.columns) == list(d.columns)
    assert len(a) == len(d) > 0
    for c in a.columns:
        x, y = a[c].to_numpy(), d[c].to_numpy()
        if pd.api.types.is_numeric_dtype(a[c]) and pd.api.types.is_numeric_dtype(d[c]):
            assert np.array_equal(x, y, equal_nan=True), (c, x, y)
        else:
            assert a[c].equals(d[c]), (c, x, y)


def _both(panel, g, outcome, baseline, recent, **kw) -> tuple[pd.DataFrame, pd.DataFrame]:
    return tuple(change_attribution(panel, g, outcome, baseline, recent, engine=e, **kw)
                 for e in ("arrays", "dowhy"))


@pytest.mark.parametrize("n_nodes", [3, 5, 7])
def test_arrays_engine_equals_dowhy_bit_for_bit_exact_and_permutation_shapley(n_nodes):
    """<= 5 mechanisms: exact Shapley over all subsets; 7: DoWhy's permutation sampling (Halton
    sequence, subset set, per-subset seeds), with bootstrap refits of both periods."""
    g, y = _random_dag(n_nodes, seed=n_nodes)
    panel = study_like_panel(g, pd.DataFrame(), n_units=9, n_years=18, seed=n_nodes)
    a, d = _both(panel, g, y, [1992, 1996], [2005, 2009], n_bootstrap=3, num_samples=150,
                 num_permutations=4, seed=11)
    assert len(a) == n_nodes
    _assert_tables_identical(a, d)
    # not trivially equal: the contributions are real numbers that move with the seed
    assert a["contribution"].abs().min() > 0 and np.isfinite(a["contribution_ci_low"]).all()
    other = change_attribution(panel, g, y, [1992, 1996], [2005, 2009], n_bootstrap=3,
                               num_samples=150, num_permutations=4, seed=12)
    assert not np.array_equal(other["contribution"], a["contribution"])


def test_arrays_engine_equals_dowhy_through_the_stage():
    """compute() passes the option through: the whole change-attribution table is DoWhy's."""
    panel = confounded_panel(effect=0.5, seed=4)
    dic = pd.DataFrame({"indicator": ["clim", "press", "y"],
                        "domain": ["climate", "grazing", "outcome"],
                        "role": ["driver", "driver", "outcome"], "measure": ["unit"] * 3})
    study = {"name": "syn", "outcomes": ["y"], "seed": 3}
    out = {}
    for engine in ("arrays", "dowhy"):
        opts = {"refuter_simulations": 5, "sensitivity_strengths": [0.5],
                "change_attribution": {"bootstrap": 4, "num_samples": 200, "engine": engine}}
        out[engine] = compute(panel, dic, study, opts, confounded_graph())["change_attribution"]
    _assert_tables_identical(out["arrays"], out["dowhy"])


def test_change_attribution_engine_is_an_option_and_is_checked():
    assert DEFAULTS["change_attribution"]["engine"] == "arrays"
    panel = confounded_panel(effect=0.5, seed=4)
    with pytest.raises(ConfigError, match=r"methods\.causal\.change_attribution\.engine.*'fast'"):
        change_attribution(panel, confounded_graph(), "y", [2000, 2004], [2015, 2019],
                           engine="fast")
    study = {"name": "syn", "outcomes": ["y"], "seed": 3}
    with pytest.raises(ConfigError, match=r"change_attribution\.engine"):
        compute(panel, pd.DataFrame(columns=["indicator", "domain"]), study,
                {"change_attribution": {"engine": "numba"}}, confounded_graph())


def test_arrays_engine_refuses_mechanisms_it_does_not_reproduce():
    from dowhy import gcm

    from dlddrivers.causal.fastchange import mechanism_arrays

    scm = gcm.ProbabilisticCausalModel(nx.DiGraph([("x", "y")]))
    scm.set_causal_mechanism("x", gcm.EmpiricalDistribution())
    scm.set_causal_mechanism("y", gcm.AdditiveNoiseModel(gcm.ml.create_ridge_regressor()))
    data = pd.DataFrame({"x": np.arange(20.0), "y": np.arange(20.0) ** 0.5})
    gcm.fit(scm, data)
    assert mechanism_arrays(scm, "x").data.shape == (20, 1)
    with pytest.raises(TypeError, match="node 'y'.*RidgeCV"):
        mechanism_arrays(scm, "y")


def test_arrays_engine_equals_dowhy_on_the_neasia_panel(snapshot):
    """The real neasia panel and graph (permutation Shapley over its > 5 mechanisms)."""
    from dlddrivers.causal.graph import load_graph
    from dlddrivers.config import load_config, study_config
    from dlddrivers.panel import build_panel
    from dlddrivers.pipeline import setup

    cfg = load_config("config/config.yaml", overrides={"snapshot_dir": str(snapshot)})
    reg, cat, src = setup(cfg)
    study = study_config(cfg, "neasia")
    panel = build_panel(study, cat, src, reg, cfg["snapshot_dir"]).panel
    panel = panel.sort_values(["unit", "year"]).reset_index(drop=True)
    panel["year"] = panel["year"].astype(int)
    g = load_graph(study["graph"], panel_columns=list(panel.columns))
    outcome = study["outcomes"][0]
    assert len(nx.ancestors(g, outcome)) + 1 > 5  # permutation sampling, not exact
    baseline, recent = default_periods(panel["year"].tolist(), 5)
    a, d = _both(panel, g, outcome, baseline, recent, n_bootstrap=2, num_samples=200,
                 num_permutations=3, seed=5)
    assert (a["status"].str.startswith("ok")).all()
    _assert_tables_identical(a, d)


@pytest.mark.parametrize("m, n", [(1, 5), (7, 3), (100, 1000), (2**20 + 3, 50), (5, 0)])
def test_row_draws_equal_numpy_choice_and_leave_the_same_state(m, n):
    from dlddrivers.causal.fastchange import _choice_rows

    for seed in range(20):
        np.random.seed(seed)
        ref = np.random.choice(m, size=n, replace=True)
        ref_next = np.random.random()
        np.random.seed(seed)
        got = _choice_rows(m, n)
        assert got.dtype == ref.dtype and np.array_equal(got, ref)
        assert np.random.random() == ref_next  # the generator advanced by the same amount
