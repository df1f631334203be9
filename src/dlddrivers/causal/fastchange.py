"""DoWhy's ``gcm.distribution_change_of_graphs`` with the per-evaluation sampling as arrays.

The change attribution (:mod:`dlddrivers.causal.attribution`) splits the change of an
outcome's mean between two periods over the graph's mechanisms by Shapley values. DoWhy
evaluates each Shapley subset by building a new ``ProbabilisticCausalModel`` and calling
``gcm.draw_samples``, which fills a pandas data frame column by column and predicts every
non-root node through scikit-learn's ``LinearRegression.predict`` (input validation and all);
with 10-node graphs, 10 permutations and 11 bootstrap refits per outcome that is thousands of
calls of ~13 ms of pandas and scikit-learn overhead around microseconds of arithmetic. Here
each evaluation is the same arithmetic on arrays, in the same order, so the numbers are
DoWhy's to the last bit:

* the same models: both periods' mechanisms are fitted by DoWhy exactly as before
  (``gcm.fit``; root nodes ``EmpiricalDistribution``, other nodes ``AdditiveNoiseModel`` with
  scikit-learn's ``LinearRegression`` and an empirical noise distribution); only their fitted
  numbers are read: the stored root and noise samples, ``coef_`` and ``intercept_``;
* the same Shapley estimator: DoWhy's own ``estimate_shapley_values`` (exact, or permutation
  sampling with its Halton sequence, subset set and per-subset ``set_random_seed``) is called
  with an array set function, so the global numpy generator is seeded and consumed as in DoWhy;
* the same draws: nodes in the order of ``nx.topological_sort`` of the same (sub)graph copy
  DoWhy samples, each node drawing ``np.random.choice(m, size=n, replace=True)`` rows of its
  root or noise samples, exactly once, as ``EmpiricalDistribution.draw_samples`` does;
* the same arithmetic: the parents' samples as an ``(n, k)`` Fortran-ordered matrix (what
  ``DataFrame[parents].to_numpy()`` returns in ``draw_samples``), ``X @ coef_ + intercept_``
  (scikit-learn's ``_decision_function``) as a column plus the noise column;
* the same difference function, called on the same ``(n,)`` arrays.

tests/test_causal_change_engine.py compares every output column of the change-attribution
table with DoWhy's (``np.array_equal``) for exact and permutation Shapley, with bootstrap, on
synthetic graphs and on the neasia panel. Only the mechanisms :func:`dlddrivers.causal.attribution`
fits are supported (anything else raises ``TypeError`` naming the node and mechanism).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import networkx as nx
import numpy as np

#: Engines of the change attribution (``methods.causal.change_attribution.engine``).
ENGINES = ("arrays", "dowhy")


def _choice_rows(m: int, n: int) -> np.ndarray:
    """``np.random.choice(m, size=n, replace=True)`` as DoWhy calls it: the legacy generator's
    ``choice`` with replacement and no weights is ``randint(0, m, size=n)`` (the same draws and
    generator state, checked in the tests) without its argument checks, which cost more than the
    draw for the small samples here."""
    return np.random.randint(0, m, size=n)


class _Root:
    """A fitted ``EmpiricalDistribution``: its stored ``(m, 1)`` samples."""

    __slots__ = ("data",)

    def __init__(self, data: np.ndarray) -> None:
        self.data = data

    def draw(self, num_samples: int, parents: np.ndarray | None) -> np.ndarray:
        d = self.data
        return d[_choice_rows(d.shape[0], num_samples), :]


class _LinearANM:
    """A fitted ``AdditiveNoiseModel(LinearRegression, EmpiricalDistribution)``."""

    __slots__ = ("coef", "intercept", "noise")

    def __init__(self, coef: np.ndarray, intercept: Any, noise: np.ndarray) -> None:
        self.coef, self.intercept, self.noise = coef, intercept, noise

    def draw(self, num_samples: int, parents: np.ndarray | None) -> np.ndarray:
        # FunctionalCausalModel.draw_samples: the noise is drawn first, then evaluate()
        d = self.noise
        noise = d[_choice_rows(d.shape[0], parents.shape[0]), :]
        if self.coef.ndim == 1:
            pred = parents @ self.coef + self.intercept
        else:
            pred = parents @ self.coef.T + self.intercept
        if pred.ndim < 2:
            pred = np.column_stack([pred])
        return pred + noise


def mechanism_arrays(causal_model: Any, node: Any) -> _Root | _LinearANM:
    """The fitted numbers of ``node``'s mechanism in a fitted ``ProbabilisticCausalModel``
    (``TypeError`` for mechanisms other than the two the change attribution fits)."""
    from dowhy.gcm import AdditiveNoiseModel, EmpiricalDistribution
    from dowhy.gcm.ml.regression import InvertibleIdentityFunction, SklearnRegressionModel
    from sklearn.linear_model import LinearRegression

    mech = causal_model.causal_mechanism(node)
    if type(mech) is EmpiricalDistribution:
        if mech.data is None:
            raise TypeError(f"node {node!r}: EmpiricalDistribution is not fitted")
        return _Root(mech.data)
    if type(mech) is AdditiveNoiseModel:
        pm, nm = mech.prediction_model, mech.noise_model
        if (type(pm) is SklearnRegressionModel and type(pm.sklearn_model) is LinearRegression
                and type(nm) is EmpiricalDistribution
                and isinstance(mech.invertible_function, InvertibleIdentityFunction)
                and not pm._encoders and nm.data is not None):
            sk = pm.sklearn_model
            return _LinearANM(sk.coef_, sk.intercept_, nm.data)
    raise TypeError(f"node {node!r}: the arrays engine supports fitted EmpiricalDistribution "
                    f"roots and linear AdditiveNoiseModels with empirical noise; got {mech}")


def _sampler(graph: nx.DiGraph) -> Callable[[dict, int], dict]:
    """A function drawing joint samples of ``graph``'s nodes from mechanisms (node -> _Root or
    _LinearANM), in DoWhy's ``draw_samples`` order; returns node -> ``(n,)`` samples."""
    order = list(nx.topological_sort(graph))
    parents = {n: sorted(graph.predecessors(n)) for n in order}

    def draw(mechs: dict, num_samples: int) -> dict:
        out: dict = {}
        for node in order:
            ps = parents[node]
            if not ps:
                col = mechs[node].draw(num_samples, None)
            else:
                # DataFrame[parents].to_numpy() of the frame draw_samples fills: (n, k), F order
                x = np.empty((len(ps), num_samples)).T
                for j, p in enumerate(ps):
                    x[:, j] = out[p]
                col = mechs[node].draw(num_samples, x)
            out[node] = np.ascontiguousarray(col.squeeze())
        return out

    return draw


def distribution_change_of_graphs(
        causal_model_old: Any, causal_model_new: Any, target_node: Any, num_samples: int,
        difference_estimation_func: Callable[[np.ndarray, np.ndarray], float],
        shapley_config: Any) -> dict:
    """``dowhy.gcm.distribution_change_of_graphs(causal_model_old, causal_model_new,
    target_node, num_samples, difference_estimation_func, shapley_config)`` with the same
    draws and arithmetic on arrays (see the module docstring): Shapley contributions of each
    mechanism to the change of ``target_node``'s distribution, node -> value."""
    from dowhy.gcm.causal_models import validate_causal_dag
    from dowhy.gcm.shapley import estimate_shapley_values
    from dowhy.graph import node_connected_subgraph_view

    validate_causal_dag(causal_model_old.graph)
    validate_causal_dag(causal_model_new.graph)
    g_old = node_connected_subgraph_view(causal_model_old.graph, target_node)
    g_new = node_connected_subgraph_view(causal_model_new.graph, target_node)
    nodes = sorted(g_old.nodes)
    if sorted(g_new.nodes) != nodes:
        raise ValueError(f"old and new graphs differ above {target_node!r}: "
                         f"{nodes} vs {sorted(g_new.nodes)}")
    old = {n: mechanism_arrays(causal_model_old, n) for n in nodes}
    new = {n: mechanism_arrays(causal_model_new, n) for n in nodes}
    # DoWhy samples the old model on its subgraph view and each subset on a DiGraph copy of it
    target_old = _sampler(g_old)(old, num_samples)[target_node]
    draw_subset = _sampler(nx.DiGraph(g_old))

    def set_function(subset: np.ndarray) -> float:
        if np.all(subset == 0):
            return 0
        mechs = {n: (new[n] if subset[i] == 1 else old[n]) for i, n in enumerate(nodes)}
        return difference_estimation_func(target_old, draw_subset(mechs, num_samples)[target_node])

    attributions = estimate_shapley_values(set_function, len(nodes), shapley_config)
    return {x: attributions[i] for i, x in enumerate(nodes)}


__all__ = ["ENGINES", "distribution_change_of_graphs", "mechanism_arrays"]
