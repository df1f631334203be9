"""Causal stage entry point: ``compute(panel, dictionary, study, options, graph) -> tables``.

Tables (no file I/O; the workflow writes ``results/<study>/causal/<name>.csv``):

``effects``
    One row per (outcome or impact, anthropogenic driver) [x estimator]: DoWhy backdoor
    identification on the config graph, linear regression on two-way demeaned data
    (``panel_handling``), ``effect`` in outcome units per driver unit and ``effect_per_sd``
    per within-unit SD of the driver, each with CI; ``robust`` = all refuters passed.
``refutations``
    One row per (estimate, refuter): estimate, CI, p, refuter's new effect and p, ``passed``
    and the fixed ``rule``; the unobserved-common-cause row holds ``erasing_strength``.
``change_attribution``
    dowhy.gcm Shapley attribution of the outcome's mean change between two periods to
    mechanisms; estimand ``share_of_change``.
``granger``
    Exploratory per-unit Granger tests on first differences.
``audit``
    Config edges vs the PC skeleton of the demeaned panel (informs, never overrides).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import pandas as pd

from dlddrivers.catalogue import ANTHROPOGENIC

if TYPE_CHECKING:  # networkx and the causal modules are imported where used: the stage
    import networkx as nx  # registry imports this module in every job, most never run it

#: Options of the causal stage (``config["methods"]["causal"]`` is merged over these).
DEFAULTS: dict[str, Any] = {
    # Simulations per DoWhy refuter (placebo, random common cause, data subset, bootstrap).
    "refuter_simulations": 100,
    # How the placebo and random-common-cause refuters and the unobserved-common-cause scan
    # of the linear estimator are computed: "arrays" (the same
    # draws and least-squares arithmetic as DoWhy's refuters without its per-simulation
    # objects; equal results, ~100x faster) or "dowhy".
    "refuter_engine": "arrays",
    # Also estimate with econml LinearDML through DoWhy (grouped folds by unit); not refuted.
    "dml": False,
    "dml_folds": 3,
    # Use the driver's previous-year value (t-1) as the treatment.
    "lag_treatment": False,
    # Confidence level of every interval.
    "ci_level": 0.95,
    # Minimum data for an estimate (else status=insufficient_data and NaN numbers).
    "min_units": 2,
    "min_years": 4,
    "min_df": 10,  # residual df after unit/year effects and adjusters
    # Refuter settings.
    "subset_fraction": 0.8,
    "bootstrap_noise": 0.1,  # DoWhy default: noise 0.1 SD added to adjusters in each resample
    # Strengths scanned by the unobserved-common-cause sensitivity analysis (SD units).
    "sensitivity_strengths": [round(0.05 * k, 2) for k in range(1, 41)],
    # Pass/fail rules, fixed before looking at results.
    "rules": {
        "placebo_max_ratio": 0.1,  # |placebo effect| < 0.1*|estimate| ...
        "placebo_min_p": 0.05,  # ... or placebo p > 0.05
        # random common cause, data subset, bootstrap: new effect inside the estimate's CI
        "sensitivity_min_strength": 0.5,  # erasing strength must exceed this
    },
    # Treatments: None = graph nodes whose dictionary domain is anthropogenic.
    "treatments": None,
    # Granger tests: lags 1..granger_maxlag on first differences, per unit.
    "granger_maxlag": 2,
    # Change attribution: periods as [first_year, last_year]; None = first/last
    # `period_years` years. Small defaults keep it fast: 10 bootstrap refits of both
    # periods (crude percentile CI), 500 Monte-Carlo samples, 10 Shapley permutations
    # when > 5 mechanisms (exact Shapley otherwise). `engine`: "arrays" (DoWhy's fits and
    # Shapley estimator, each evaluation's sampling as array arithmetic with DoWhy's draws:
    # equal results bit for bit, much faster) or "dowhy" (gcm.distribution_change_of_graphs).
    "change_attribution": {"baseline": None, "recent": None, "period_years": 5,
                           "bootstrap": 10, "num_samples": 500, "num_permutations": 10,
                           "min_obs": 10, "engine": "arrays"},
    # Graph audit with PC (causal-learn): conditional independence test and level.
    "discovery": "pc",
    "discovery_alpha": 0.05,
}


def merge_options(options: dict | None) -> dict:
    """DEFAULTS with ``options`` merged over them (one level deep for dict values)."""
    out = copy.deepcopy(DEFAULTS)
    for k, v in (options or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = {**out[k], **v}
        else:
            out[k] = v
    return out


def _domains(dictionary: pd.DataFrame) -> dict[str, str]:
    if dictionary is None or dictionary.empty:
        return {}
    return dict(zip(dictionary["indicator"].astype(str), dictionary["domain"].astype(str),
                    strict=False))


def analysis_targets(graph: nx.DiGraph, dictionary: pd.DataFrame, study: dict,
                     options: dict) -> tuple[list[str], list[str], list[str]]:
    """(outcomes and impacts in the graph, treatments, outcomes/impacts not in the graph)."""
    wanted = list(dict.fromkeys([*study.get("outcomes", []), *study.get("impacts", [])]))
    targets = [y for y in wanted if y in graph]
    missing = [y for y in wanted if y not in graph]
    dom = _domains(dictionary)
    if options.get("treatments"):
        treatments = [t for t in options["treatments"] if t in graph]
    else:
        treatments = [n for n in graph.nodes if dom.get(n) in ANTHROPOGENIC]
    return targets, treatments, missing


def compute(panel: pd.DataFrame, dictionary: pd.DataFrame, study: dict, options: dict | None,
            graph: nx.DiGraph) -> dict[str, pd.DataFrame]:
    """Run the causal stage for one study.

    Parameters
    ----------
    panel
        ``unit, year`` and one float column per indicator.
    dictionary
        Indicator metadata (``indicator, role, domain, measure, ...``).
    study
        Study config (``name, outcomes, impacts, drivers, seed, ...``).
    options
        ``config["methods"]["causal"]``; merged over :data:`DEFAULTS`.
    graph
        Validated config graph (:func:`dlddrivers.causal.graph.load_graph`).

    Returns
    -------
    dict
        ``effects, refutations, change_attribution, granger, audit`` DataFrames, each with
        ``study`` and ``n_units, n_years, n_obs`` and ``status`` columns.
    """
    import networkx as nx

    from dlddrivers.causal.attribution import change_attribution, default_periods
    from dlddrivers.causal.audit import audit_graph
    from dlddrivers.causal.effects import estimate_pair, estimate_pair_dml, pair_seed
    from dlddrivers.causal.graph import check_nodes_in_panel
    from dlddrivers.causal.timeseries import granger_table

    opts = merge_options(options)
    check_nodes_in_panel(graph, panel.columns)
    seed = int(study.get("seed", 0))
    name = study.get("name", "")
    panel = panel.sort_values(["unit", "year"]).reset_index(drop=True)
    panel["year"] = panel["year"].astype(int)
    dom = _domains(dictionary)
    targets, treatments, missing = analysis_targets(graph, dictionary, study, opts)
    effects, refutations = [], []
    for y in targets:
        for t in treatments:
            if t == y or not nx.has_path(graph, t, y):
                continue
            s = pair_seed(seed, t, y)
            row, refs = estimate_pair(panel, graph, t, y, opts, s)
            effects.append(row)
            refutations.extend(refs)
            if opts["dml"]:
                effects.append(estimate_pair_dml(panel, graph, t, y, opts, s))
    for y in missing:
        effects.append({"outcome": y, "estimand": "causal_effect",
                        "status": "skipped: outcome/impact is not a node of the causal graph"})
    eff = pd.DataFrame(effects)
    if not eff.empty:
        eff["driver_domain"] = eff["treatment"].map(dom) if "treatment" in eff else ""
    ref = pd.DataFrame(refutations)

    ca = opts["change_attribution"]
    years = sorted(panel["year"].unique().tolist())
    base_p, rec_p = default_periods(years, ca["period_years"])
    baseline = list(ca["baseline"]) if ca.get("baseline") else base_p
    recent = list(ca["recent"]) if ca.get("recent") else rec_p
    chg = [change_attribution(panel, graph, y, baseline, recent,
                              n_bootstrap=int(ca["bootstrap"]),
                              num_samples=int(ca["num_samples"]),
                              num_permutations=int(ca["num_permutations"]),
                              ci_level=float(opts["ci_level"]), seed=pair_seed(seed, "gcm", y),
                              domains=dom, min_obs=int(ca["min_obs"]),
                              engine=ca["engine"])
           for y in targets]
    change = pd.concat(chg, ignore_index=True) if chg else pd.DataFrame()

    drivers = [n for n in graph.nodes if n not in targets]
    granger = granger_table(panel, drivers, targets, maxlag=int(opts["granger_maxlag"]))
    if opts["discovery"] != "pc":
        raise ValueError(f"methods.causal.discovery: {opts['discovery']!r}; expected 'pc'")
    audit = audit_graph(panel, graph, alpha=float(opts["discovery_alpha"]))

    tables = {"effects": eff, "refutations": ref, "change_attribution": change,
              "granger": granger, "audit": audit}
    for k, t in tables.items():
        t.insert(0, "study", name)
        if "status" not in t:
            t["status"] = pd.Series(dtype=str)
        tables[k] = t
    return tables


__all__ = ["DEFAULTS", "compute", "merge_options", "analysis_targets"]
