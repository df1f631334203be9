"""Change attribution between two periods with DoWhy's graphical causal models (``dowhy.gcm``).

Question answered: how much of the outcome's change in mean between period A (baseline) and
period B (recent) each node's causal mechanism explains. Mechanisms (root-node distributions
and linear additive-noise models for the other nodes, following the config graph) are fitted
separately in each period; the change of the outcome's mean is split over mechanisms by
Shapley values (Budhathoki et al. 2021, "Why did the distribution change?", AISTATS).

Data are unit-demeaned over both periods together, so the attribution uses within-unit
change (the same aimags/countries in both periods) and not cross-unit level differences.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd

from dlddrivers.causal.effects import quiet_and_seeded
from dlddrivers.methods.paneltools import UNIT_ONLY, complete_cases, counts, within_frame

LABEL = ("how much of the outcome's change between period A and B each driver's mechanism "
         "explains")
_COLS = ["outcome", "node", "domain", "baseline", "recent", "contribution", "contribution_ci_low",
         "contribution_ci_high", "share_of_change", "ci_low", "ci_high", "ci_level",
         "observed_change", "modelled_change", "modelled_change_ci_low",
         "modelled_change_ci_high", "estimand", "label", "method", "panel_handling", "num_samples",
         "n_bootstrap", "n_units", "n_years", "n_obs", "n_obs_baseline", "n_obs_recent",
         "n_dropped", "flag", "status"]


def period_coverage_flag(panel: pd.DataFrame, node: str, baseline: list[int], recent: list[int]) -> str:
    """A flag when ``node``'s data start after the baseline period starts or end before the
    recent period ends (e.g. licence counts that stop in 2018 inside a recent period to 2020):
    the comparison then uses only the years both have, and says so. Empty when it covers both."""
    if node not in panel.columns:
        return ""
    years = panel.loc[panel[node].notna(), "year"]
    if years.empty:
        return f"{node}: no data in either period"
    first, last = int(years.min()), int(years.max())
    parts = []
    if last < recent[1]:
        parts.append(f"{node} data end in {last}, inside the recent period {recent[0]}-{recent[1]}")
    if first > baseline[0]:
        parts.append(f"{node} data start in {first}, inside the baseline period {baseline[0]}-{baseline[1]}")
    return "; ".join(parts)


def default_periods(years: list[int], period_years: int) -> tuple[list[int], list[int]]:
    """First and last ``period_years`` years present (shortened to a third of the span for
    short series)."""
    ys = sorted(set(int(y) for y in years))
    k = max(2, min(int(period_years), len(ys) // 3))
    return [ys[0], ys[k - 1]], [ys[-k], ys[-1]]


def _fit_models(graph: nx.DiGraph, data: pd.DataFrame):
    from dowhy import gcm

    scm = gcm.ProbabilisticCausalModel(nx.DiGraph(graph))  # own copy: mechanisms live on it
    for node in graph.nodes:
        if graph.in_degree(node) == 0:
            scm.set_causal_mechanism(node, gcm.EmpiricalDistribution())
        else:
            scm.set_causal_mechanism(
                node, gcm.AdditiveNoiseModel(gcm.ml.create_linear_regressor()))
    gcm.fit(scm, data[list(graph.nodes)])
    return scm


def _mean_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(b) - np.mean(a))


def _contributions(graph, old, new, outcome, num_samples, shapley, engine: str = "arrays") -> dict:
    from dowhy import gcm

    m_old = _fit_models(graph, old)
    m_new = _fit_models(graph, new)
    if engine == "arrays":
        # DoWhy's fits and Shapley estimator, each evaluation's sampling as arrays (the same
        # draws and arithmetic; dlddrivers.causal.fastchange)
        from dlddrivers.causal.fastchange import distribution_change_of_graphs

        return distribution_change_of_graphs(m_old, m_new, outcome, num_samples,
                                             _mean_difference, shapley)
    return gcm.distribution_change_of_graphs(
        m_old, m_new, outcome, num_samples=num_samples,
        difference_estimation_func=_mean_difference, shapley_config=shapley)


def change_attribution(panel: pd.DataFrame, graph: nx.DiGraph, outcome: str,
                       baseline: list[int], recent: list[int], *, n_bootstrap: int = 10,
                       num_samples: int = 500, num_permutations: int = 10,
                       ci_level: float = 0.95, seed: int = 0,
                       domains: dict[str, str] | None = None, min_obs: int = 10,
                       engine: str = "arrays") -> pd.DataFrame:
    """Attribute the change of ``outcome``'s mean between ``baseline`` and ``recent`` (inclusive
    year ranges) to the mechanisms of the outcome and its ancestors in ``graph``.

    Point contributions use all rows; intervals are percentile intervals over ``n_bootstrap``
    resamples of rows within each period (seeded), each refitting both periods' models.
    ``share_of_change`` = contribution / sum of contributions (= the modelled change in mean).
    Shapley values use DoWhy's permutation approximation with ``num_permutations`` when there
    are more than 5 mechanisms (exact otherwise). ``engine`` "arrays" evaluates each Shapley
    subset with array arithmetic (:mod:`dlddrivers.causal.fastchange`: the same fits, draws
    and numbers as DoWhy, bit for bit), "dowhy" with ``gcm.distribution_change_of_graphs``.

    Returns
    -------
    DataFrame
        One row per mechanism: see ``_COLS``; estimand ``share_of_change``.
    """
    from dowhy import gcm
    from dowhy.gcm.shapley import ShapleyApproximationMethods, ShapleyConfig

    from dlddrivers.causal.fastchange import ENGINES

    if engine not in ENGINES:
        from dlddrivers.errors import ConfigError

        raise ConfigError("methods.causal.change_attribution.engine", engine,
                          f"one of {list(ENGINES)}")
    gcm.config.disable_progress_bars()

    nodes = sorted(nx.ancestors(graph, outcome) | {outcome})
    sub_g = graph.subgraph(nodes).copy()
    sub, dropped = complete_cases(panel, nodes)
    data = within_frame(sub, nodes, two_way=False) if len(sub) else sub
    in_a = data["year"].between(baseline[0], baseline[1])
    in_b = data["year"].between(recent[0], recent[1])
    old, new = data.loc[in_a].reset_index(drop=True), data.loc[in_b].reset_index(drop=True)
    shape = counts(pd.concat([old, new]))
    base = {"outcome": outcome, "baseline": f"{baseline[0]}-{baseline[1]}",
            "recent": f"{recent[0]}-{recent[1]}", "ci_level": ci_level,
            "estimand": "share_of_change", "label": LABEL,
            "method": "dowhy.gcm distribution_change_of_graphs (mean difference), Shapley over "
                      "mechanisms; linear additive-noise mechanisms",
            "panel_handling": UNIT_ONLY, "num_samples": num_samples, "n_bootstrap": n_bootstrap,
            **shape, "n_obs_baseline": len(old), "n_obs_recent": len(new), "n_dropped": dropped}
    domains = domains or {}
    status = "ok"
    if len(old) < min_obs or len(new) < min_obs:
        status = (f"insufficient_data: {len(old)} baseline / {len(new)} recent complete rows "
                  f"< {min_obs}")
    flags = {n: period_coverage_flag(panel, n, baseline, recent) for n in nodes}
    if status != "ok":
        return pd.DataFrame([{**base, "node": n, "domain": domains.get(n, ""), "flag": flags[n],
                              "status": status} for n in nodes], columns=_COLS)
    method = (ShapleyApproximationMethods.EXACT if len(nodes) <= 5
              else ShapleyApproximationMethods.PERMUTATION)
    shapley = ShapleyConfig(approximation_method=method, num_permutations=num_permutations,
                            n_jobs=1)
    rng = np.random.default_rng(seed)
    with quiet_and_seeded(seed):
        gcm.util.general.set_random_seed(seed)
        point = _contributions(sub_g, old, new, outcome, num_samples, shapley, engine)
        boots = []
        for _ in range(int(n_bootstrap)):
            o = old.iloc[rng.integers(0, len(old), len(old))]
            w = new.iloc[rng.integers(0, len(new), len(new))]
            boots.append(_contributions(sub_g, o, w, outcome, num_samples, shapley, engine))
    total = sum(point.values())
    lo_q, hi_q = 50 * (1 - ci_level), 100 - 50 * (1 - ci_level)
    observed = float(new[outcome].mean() - old[outcome].mean())
    tot_lo, tot_hi = (np.percentile([sum(b.values()) for b in boots], [lo_q, hi_q])
                      if boots else (np.nan, np.nan))
    if boots and tot_lo <= 0 <= tot_hi:
        status = ("ok: modelled change not distinguishable from 0 (its CI includes 0); "
                  "shares are unstable, read contributions")
    rows = []
    for n in nodes:
        c = float(point.get(n, 0.0))
        bc = np.array([b.get(n, 0.0) for b in boots], dtype=float)
        bt = np.array([sum(b.values()) for b in boots], dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            bs = bc / bt
        bs = bs[np.isfinite(bs)]
        rows.append({**base, "node": n, "domain": domains.get(n, ""), "contribution": c,
                     "contribution_ci_low": np.percentile(bc, lo_q) if len(bc) else np.nan,
                     "contribution_ci_high": np.percentile(bc, hi_q) if len(bc) else np.nan,
                     "share_of_change": c / total if total != 0 else np.nan,
                     "ci_low": np.percentile(bs, lo_q) if len(bs) else np.nan,
                     "ci_high": np.percentile(bs, hi_q) if len(bs) else np.nan,
                     "observed_change": observed, "modelled_change": total,
                     "modelled_change_ci_low": tot_lo, "modelled_change_ci_high": tot_hi,
                     "flag": flags[n], "status": status})
    return pd.DataFrame(rows, columns=_COLS)
