"""DoWhy effects of one driver on one outcome: identify (backdoor), estimate on two-way
demeaned panel data, refute.

Estimand: ``causal_effect`` - the change in the outcome (its own units) per one unit of the
driver, holding the backdoor set implied by the config graph fixed, using within-unit,
within-year variation only (DoWhy has no panel support, py-why/dowhy#635, so the data are
two-way demeaned first and the output says so in ``panel_handling``).

References
----------
Sharma, A. and Kiciman, E. (2020). DoWhy: An end-to-end library for causal inference.
arXiv:2011.04216. Chernozhukov, V. et al. (2018). Double/debiased machine learning.
Econometrics Journal 21(1):C1-C68.
"""

from __future__ import annotations

import contextlib
import warnings
import zlib
from collections.abc import Iterator
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from dlddrivers.methods.paneltools import TWO_WAY, complete_cases, counts, lag_by_year, within_frame

REFUTERS = ("placebo_treatment", "random_common_cause", "unit_subset", "unit_bootstrap",
            "unobserved_common_cause")
#: refuters reported for information only (not part of ``robust``): the confounder-strength
#: scan is read as numbers (``rv_q1``, ``k_erase``; :mod:`.sensitivity`), not as pass/fail
INFORMATIVE_REFUTERS = ("unobserved_common_cause",)


def pair_seed(seed: int, *names: str) -> int:
    """A reproducible seed for one (treatment, outcome, ...) combination."""
    return int((int(seed) + zlib.crc32("|".join(names).encode())) % (2**31 - 1))


@contextlib.contextmanager
def quiet_and_seeded(seed: int | None = None) -> Iterator[None]:
    """Silence DoWhy/pandas/statsmodels chatter and, if ``seed`` is given, seed numpy's global
    generator (some DoWhy refuters draw from it) restoring the previous state afterwards."""
    state = np.random.get_state()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if seed is not None:
            np.random.seed(seed % (2**32 - 1))
        try:
            yield
        finally:
            np.random.set_state(state)


#: Identified estimands by graph (nodes and edges with their data, in order) and pair, so the
#: seeds of a validation scenario identify once; :func:`identify` hands out copies.
_IDENTIFIED: dict[str, Any] = {}
#: How many identified estimands :data:`_IDENTIFIED` keeps (the oldest is dropped first).
IDENTIFY_CACHE_SIZE = 64


def identify(graph: nx.DiGraph, treatment: str, outcome: str):
    """DoWhy backdoor identification of ``treatment -> outcome`` on the config graph.

    Returns the ``IdentifiedEstimand`` (identifier method set to ``backdoor``) or ``None`` when
    no backdoor adjustment set exists. The same graph (nodes, edges and their data, in the
    same order) and pair are identified once per process; every call gets its own copy.
    """
    import copy

    key = repr((list(graph.nodes(data=True)), list(graph.edges(data=True)), treatment, outcome))
    if key not in _IDENTIFIED:
        if len(_IDENTIFIED) >= IDENTIFY_CACHE_SIZE:
            del _IDENTIFIED[next(iter(_IDENTIFIED))]
        _IDENTIFIED[key] = _identify(graph, treatment, outcome)
    ie = _IDENTIFIED[key]
    return None if ie is None else copy.deepcopy(ie)


def _identify(graph: nx.DiGraph, treatment: str, outcome: str):
    """:func:`identify` without the cache."""
    from dowhy.causal_identifier import identify_effect_auto
    from dowhy.causal_identifier.auto_identifier import EstimandType

    with quiet_and_seeded():
        ie = identify_effect_auto(graph, [treatment], [outcome], list(graph.nodes),
                                  EstimandType.NONPARAMETRIC_ATE)
    if ie.no_directed_path:
        return None
    if ie.get_backdoor_variables() is None:
        return None
    ie.set_identifier_method("backdoor")
    ie.set_backdoor_variables(choose_adjustment_set(ie.backdoor_variables), key="backdoor")
    return ie


def choose_adjustment_set(candidates: dict[str, object]) -> list[str]:
    """The adjustment set used, chosen in a defined order from DoWhy's valid backdoor sets.

    DoWhy's own default breaks ties between equally small sets by Python's set iteration
    order, which depends on the hash seed: two clean runs picked different sets and moved
    effects by up to 58 %. Here: the smallest valid set, ties broken by the sorted variable
    names (lexicographic), every set sorted. DoWhy's ``backdoor`` entry (its own pick) is not
    a candidate of its own, it is one of the numbered sets.
    """
    sets = sorted(
        {tuple(sorted(str(v) for v in vs)) for k, vs in candidates.items()
         if k != "backdoor" and vs is not None}
        or {tuple(sorted(str(v) for v in (candidates.get("backdoor") or [])))},
        key=lambda t: (len(t), t),
    )
    return list(sets[0])


def prepare_data(panel: pd.DataFrame, treatment: str, outcome: str, adjust: list[str],
                 lag_treatment: bool) -> tuple[pd.DataFrame, int]:
    """Complete rows of treatment, outcome and adjustment set, two-way demeaned.

    With ``lag_treatment`` the treatment column holds the unit's value of the previous year
    (t-1) before rows are dropped. Returns (frame, rows dropped).
    """
    work = panel
    if lag_treatment:
        work = panel.copy()
        work[treatment] = lag_by_year(panel, treatment, 1)
    cols = [treatment, outcome, *adjust]
    sub, dropped = complete_cases(work, cols)
    return within_frame(sub, cols, two_way=True), dropped


def _status_for(frame: pd.DataFrame, n_adjust: int, options: dict) -> tuple[str, int]:
    """``ok`` or a reason the data cannot support the estimate; plus residual df."""
    shape = counts(frame)
    df_resid = shape["n_obs"] - (shape["n_units"] + shape["n_years"] - 1) - (1 + n_adjust)
    if shape["n_units"] < options["min_units"]:
        return f"insufficient_data: {shape['n_units']} units < {options['min_units']}", df_resid
    if shape["n_years"] < options["min_years"]:
        return f"insufficient_data: {shape['n_years']} years < {options['min_years']}", df_resid
    if df_resid < options["min_df"]:
        return (f"insufficient_data: {df_resid} residual df after unit/year effects and "
                f"{n_adjust} adjusters < {options['min_df']}"), df_resid
    return "ok", df_resid


def fit_linear(data: pd.DataFrame, ie) -> Any:
    """DoWhy ``backdoor.linear_regression`` fitted on ``data`` (no effect modifiers)."""
    from dowhy.causal_estimators.linear_regression_estimator import LinearRegressionEstimator

    est = LinearRegressionEstimator(ie)
    with summary_only_when_logged(est.logger):
        est.fit(data, effect_modifier_names=[])
    return est.estimate_effect(data, treatment_value=1, control_value=0)


@contextlib.contextmanager
def summary_only_when_logged(logger) -> Iterator[None]:
    """DoWhy's regression fit writes statsmodels' text summary of the model to a debug log line
    and builds that summary whether or not the line is written (about a fifth of the CPU of a
    linear fit here). Unless ``logger`` (the estimator's) writes debug lines, the summary is an
    empty string while the block runs. The fitted model and every statistic of it (computed
    on first use) are the same; statsmodels' ``summary`` is restored afterwards. Not for use
    while another thread builds a summary."""
    import logging

    from statsmodels.regression.linear_model import RegressionResults

    if logger.isEnabledFor(logging.DEBUG) or "summary" not in RegressionResults.__dict__:
        yield
        return
    original = RegressionResults.__dict__["summary"]
    RegressionResults.summary = lambda self, *args, **kwargs: ""
    try:
        yield
    finally:
        RegressionResults.summary = original


def linear_inference(ce, df_resid: int, level: float) -> dict[str, float]:
    """SE, CI and p of the treatment coefficient with the residual degrees of freedom corrected
    for the absorbed unit and year effects (OLS, homoskedastic; not cluster-robust because 6-21
    units are too few clusters)."""
    from scipy import stats

    model = ce.estimator.model
    se_sm = float(np.asarray(model.bse)[1])
    df_sm = float(model.df_resid)
    se = se_sm * np.sqrt(df_sm / df_resid)
    q = stats.t.ppf(0.5 + level / 2, df_resid)
    value = float(ce.value)
    p = 2 * stats.t.sf(abs(value / se), df_resid) if se > 0 else np.nan
    return {"effect": value, "se": se, "ci_low": value - q * se, "ci_high": value + q * se,
            "p_value": float(p)}


def cluster_p(effect: float, rob: dict) -> float:
    """Two-sided p of ``effect`` with the unit-clustered SE and ``n_clusters - 1`` df."""
    from scipy import stats

    se, G = rob["se_cluster"], rob["n_clusters"]
    if not (se > 0 and G > 1):
        return float("nan")
    return float(2 * stats.t.sf(abs(effect / se), G - 1))


def _within_ci(new: float, est: dict) -> bool:
    return bool(est["ci_low"] <= new <= est["ci_high"])


def sensitivity_scan(data: pd.DataFrame, ie, ce, est: dict, treatment: str, outcome: str,
                     strengths: list[float], seed: int,
                     engine: str = "dowhy") -> list[tuple[float, float]]:
    """Run DoWhy ``add_unobserved_common_cause`` (direct simulation, linear effects on both
    treatment and outcome) at increasing strengths ``s``.

    A simulated standard-normal confounder U enters the treatment with coefficient
    ``s * SD(treatment)`` and the outcome with ``s * SD(outcome)``, signed to push the estimate
    towards zero. The scan stops at the first strength that erases the effect (see
    :func:`erasing_strength`). Returns [(strength, new effect), ...].
    """
    from dowhy.causal_refuters.add_unobserved_common_cause import sensitivity_simulation

    sd_t = float(data[treatment].std())
    sd_y = float(data[outcome].std())
    sign = 1.0 if est["effect"] >= 0 else -1.0
    half = (est["ci_high"] - est["ci_low"]) / 2
    out: list[tuple[float, float]] = []
    adjust = list(ie.get_adjustment_set())
    for i, s in enumerate(strengths):
        if engine == "arrays":
            from dlddrivers.causal.fastrefute import sensitivity_effect

            new = float(sensitivity_effect(data, treatment, outcome, adjust, float(s * sd_t),
                                           float(sign * s * sd_y), seed + i))
        else:
            with quiet_and_seeded(seed + i):
                ref = sensitivity_simulation(
                    data, ie, ce, [treatment], [outcome], kappa_t=float(s * sd_t),
                    kappa_y=float(sign * s * sd_y), confounders_effect_on_treatment="linear",
                    confounders_effect_on_outcome="linear")
            new = float(np.ravel(ref.new_effect)[0])
        out.append((float(s), new))
        if _erased(est["effect"], new, half):
            break
    return out


def _erased(orig: float, new: float, half_width: float) -> bool:
    return bool(np.sign(new) != np.sign(orig) or abs(new) <= half_width)


def erasing_strength(scan: list[tuple[float, float]], est: dict) -> float:
    """Smallest scanned strength at which the effect crosses zero or its interval (the new
    estimate +/- the original CI half-width) includes zero; ``inf`` if none in the scan."""
    half = (est["ci_high"] - est["ci_low"]) / 2
    for s, new in scan:
        if _erased(est["effect"], new, half):
            return s
    return float("inf")


def run_refuters(data: pd.DataFrame, ie, ce, est: dict, treatment: str, outcome: str,
                 options: dict, seed: int, units: pd.DataFrame | None = None) -> list[dict]:
    """Every refuter on one estimate; one dict per refuter with the pass/fail rule used.

    The subset and bootstrap refuters resample whole units (:func:`.sensitivity.
    unit_resampling_refuters` on ``units``: the demeaned rows with ``unit`` and ``year``), not
    rows; without ``units`` they are skipped."""
    from dowhy.causal_refuters.placebo_treatment_refuter import (
        PlaceboType,
        refute_placebo_treatment,
    )
    from dowhy.causal_refuters.random_common_cause import refute_random_common_cause

    rules = options["rules"]
    nsim = int(options["refuter_simulations"])
    level = options["ci_level"]
    ci_rule = f"pass if the new effect lies within the estimate's {level:.0%} CI"
    rows: list[dict] = []
    calls = [
        ("placebo_treatment", refute_placebo_treatment,
         {"placebo_type": PlaceboType.PERMUTE, "treatment_names": [treatment]}),
        ("random_common_cause", refute_random_common_cause, {}),
    ]
    engine = options.get("refuter_engine", "arrays")
    if engine not in ("arrays", "dowhy"):
        raise ValueError(f"methods.causal.refuter_engine: {engine!r}; expected 'arrays' or 'dowhy'")
    adjust = list(ie.get_adjustment_set())
    for k, (name, func, kw) in enumerate(calls):
        rs = seed + 1000 * (k + 1)
        if engine == "arrays":
            # the same draws and arithmetic as DoWhy's refuter, as array algebra (equal to
            # the last bit; dlddrivers.causal.fastrefute)
            from dlddrivers.causal.fastrefute import refute

            new, p = refute(name, data, treatment, outcome, adjust, float(ce.value), nsim, rs)
        else:
            with quiet_and_seeded(rs):
                # a RandomState object, not the int (one stream over all simulations)
                ref = func(data, ie, ce, num_simulations=nsim,
                           random_state=np.random.RandomState(rs), n_jobs=1, **kw)
            new = float(np.ravel(ref.new_effect)[0])
            p = float(ref.refutation_result["p_value"]) if ref.refutation_result else np.nan
        if name == "placebo_treatment":
            ratio, pmin = rules["placebo_max_ratio"], rules["placebo_min_p"]
            passed = abs(new) < ratio * abs(est["effect"]) or p > pmin
            rule = f"pass if |placebo effect| < {ratio}*|estimate| or placebo p > {pmin}"
        else:
            passed = _within_ci(new, est)
            rule = ci_rule
        rows.append({"refuter": name, "new_effect": new, "refuter_p_value": p,
                     "passed": bool(passed), "rule": rule, "n_simulations": nsim,
                     "random_state": rs, "erasing_strength": np.nan})
    if units is not None:
        from dlddrivers.causal.sensitivity import unit_resampling_refuters

        adjust = [c for c in data.columns if c not in (treatment, outcome)]
        rows += unit_resampling_refuters(units, treatment, outcome, adjust, est, n_sim=nsim,
                                         subset_fraction=float(options["subset_fraction"]),
                                         seed=seed + 3000)
    strengths = [float(s) for s in options["sensitivity_strengths"]]
    scan = sensitivity_scan(data, ie, ce, est, treatment, outcome, strengths, seed + 9000,
                            engine=engine)
    s_star = erasing_strength(scan, est)
    smin = rules["sensitivity_min_strength"]
    at_min = [new for s, new in scan if s <= smin + 1e-12]
    rows.append({
        "refuter": "unobserved_common_cause",
        "new_effect": at_min[-1] if at_min else np.nan,
        "refuter_p_value": np.nan,
        "passed": bool(s_star > smin),
        "rule": (f"pass if the confounder strength that erases the effect (crosses zero or CI "
                 f"includes zero; strength s = coefficient of a N(0,1) confounder in SDs of "
                 f"driver and outcome) exceeds {smin}; new_effect shown at s={smin}"),
        "n_simulations": len(scan), "random_state": seed + 9000,
        "erasing_strength": s_star,
    })
    return rows


def _prepare_pair(panel: pd.DataFrame, graph: nx.DiGraph, treatment: str, outcome: str,
                  options: dict, estimator: str, refuters_passed: str):
    """What every estimator of one treatment-outcome pair shares: the empty result row, backdoor
    identification, the (lagged, demeaned, complete-case) data and the data-support status.

    Returns (row, identified estimand or None, adjustment set, data, status, residual df); when
    the effect is not identified the row's status says so and the estimand is None.
    """
    lag = bool(options["lag_treatment"])
    row: dict[str, Any] = {
        "outcome": outcome, "treatment": treatment, "treatment_lag": 1 if lag else 0,
        "estimator": estimator, "estimand": "causal_effect", "identification": "backdoor",
        "adjustment_set": "", "panel_handling": TWO_WAY, "ci_level": float(options["ci_level"]),
        "effect": np.nan, "se": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan,
        "driver_sd_within": np.nan, "effect_per_sd": np.nan, "ci_low_per_sd": np.nan,
        "ci_high_per_sd": np.nan, "n_units": 0, "n_years": 0, "n_obs": 0, "n_dropped": 0,
        "df_resid": np.nan, "refuters_passed": refuters_passed, "robust": pd.NA, "status": "ok",
    }
    ie = identify(graph, treatment, outcome)
    if ie is None:
        row["status"] = "not_identified: no directed path or no backdoor set in the graph"
        return row, None, [], None, row["status"], np.nan
    adjust = sorted(ie.get_backdoor_variables())
    row["adjustment_set"] = ";".join(adjust)
    data, dropped = prepare_data(panel, treatment, outcome, adjust, lag)
    row.update(counts(data))
    row["n_dropped"] = dropped
    status, df_resid = _status_for(data, len(adjust), options)
    row["df_resid"] = df_resid
    return row, ie, adjust, data, status, df_resid


def estimate_pair(panel: pd.DataFrame, graph: nx.DiGraph, treatment: str, outcome: str,
                  options: dict, seed: int) -> tuple[dict, list[dict]]:
    """Identify, estimate and refute the effect of ``treatment`` on ``outcome``.

    Returns (effect row, refutation rows). When the data cannot support the estimate the
    effect row has a non-``ok`` ``status`` and NaN numbers, and no refutation rows.
    """
    level = float(options["ci_level"])
    row, ie, adjust, data, status, df_resid = _prepare_pair(
        panel, graph, treatment, outcome, options, "backdoor.linear_regression", "")
    if ie is None:
        return row, []
    sd_t = float(data[treatment].std()) if len(data) > 1 else 0.0
    if status == "ok" and not sd_t > 1e-12 * max(1.0, float(panel[treatment].abs().max())):
        status = "insufficient_data: driver has no within-unit, within-year variation"
    if status != "ok":
        row["status"] = status
        return row, []
    model_data = data[[treatment, outcome, *adjust]]
    with quiet_and_seeded(seed):
        ce = fit_linear(model_data, ie)
    est = linear_inference(ce, df_resid, level)
    from dlddrivers.causal.sensitivity import robustness_table

    rob = robustness_table(data, treatment, outcome, adjust, int(df_resid), level)
    # unit-clustered inference is the reported interval; the iid one is kept as ``se_iid``
    est = {**est, "se_iid": est["se"], "se": rob["se_cluster"], "ci_low": rob["ci_low_cluster"],
           "ci_high": rob["ci_high_cluster"], "p_value": cluster_p(est["effect"], rob)}
    row.update(est)
    row.update(rob)
    row["driver_sd_within"] = sd_t
    row["effect_per_sd"] = est["effect"] * sd_t
    row["ci_low_per_sd"] = est["ci_low"] * sd_t
    row["ci_high_per_sd"] = est["ci_high"] * sd_t
    refs = run_refuters(model_data, ie, ce, est, treatment, outcome, options, seed,
                        units=data[["unit", "year", treatment, outcome, *adjust]])
    decisive = [r for r in refs if r["refuter"] not in INFORMATIVE_REFUTERS]
    n_pass = sum(r["passed"] for r in decisive)
    row["refuters_passed"] = f"{n_pass}/{len(decisive)}"
    row["robust"] = bool(n_pass == len(decisive))
    keep = ("outcome", "treatment", "treatment_lag", "estimator", "adjustment_set",
            "panel_handling", "effect", "ci_low", "ci_high", "p_value", "ci_level",
            "n_units", "n_years", "n_obs", "n_dropped")
    for r in refs:
        r.update({k: row[k] for k in keep})
        r["status"] = "ok"
    return row, refs


def estimate_pair_dml(panel: pd.DataFrame, graph: nx.DiGraph, treatment: str, outcome: str,
                      options: dict, seed: int) -> dict:
    """LinearDML (econml through DoWhy ``backdoor.econml.dml.LinearDML``) on the same two-way
    demeaned data, with cross-fitting folds that keep each unit's years together
    (``groups=unit`` -> GroupKFold). Not refuted (the linear estimate is)."""
    level = float(options["ci_level"])
    row, ie, adjust, data, status, df_resid = _prepare_pair(
        panel, graph, treatment, outcome, options, "backdoor.econml.dml.LinearDML", "not refuted")
    if ie is None:
        return row
    folds = int(options["dml_folds"])
    if status == "ok" and row["n_units"] < folds:
        status = f"insufficient_data: {row['n_units']} units < {folds} grouped folds"
    if status == "ok" and not adjust:
        status = "not_applicable: empty adjustment set (DML needs confounders to model)"
    if status != "ok":
        row["status"] = status
        return row
    from dowhy.causal_estimators.econml import Econml
    from econml.dml import LinearDML
    from sklearn.linear_model import LassoCV
    from sklearn.model_selection import GroupKFold

    groups = data["unit"].to_numpy()
    splits = list(GroupKFold(n_splits=folds).split(data, groups=groups))
    model_data = data[[treatment, outcome, *adjust]].reset_index(drop=True)
    with quiet_and_seeded(seed):
        dml = LinearDML(model_y=LassoCV(cv=3), model_t=LassoCV(cv=3), cv=splits,
                        random_state=seed)
        est = Econml(ie, econml_estimator=dml, confidence_intervals=True,
                     confidence_level=level)
        est.fit(model_data, effect_modifier_names=[])
        ce = est.estimate_effect(model_data, treatment_value=1, control_value=0)
        ci = np.ravel(ce.get_confidence_intervals(confidence_level=level))
    sd_t = float(data[treatment].std())
    row.update({"effect": float(ce.value), "ci_low": float(ci[0]), "ci_high": float(ci[1]),
                "driver_sd_within": sd_t, "effect_per_sd": float(ce.value) * sd_t,
                "ci_low_per_sd": float(ci[0]) * sd_t, "ci_high_per_sd": float(ci[1]) * sd_t})
    return row
