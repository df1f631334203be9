"""Sections on effects and costs: causal effects with their refutations and robustness values, impacts (largest-loss years and their drivers) and data caveats."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from ..catalogue import LEVEL_CAVEATS
from .format import (
    _isnan,
    _labels,
    _measures,
    _name,
    _ok,
    fmt_estimate,
    fmt_num,
    fmt_p,
    fmt_pct,
    md_table,
)
from .read import ANALYSIS_ROLES


def _robustness_text(r: Mapping, labels: Mapping[str, str]) -> str:
    """Cinelli-Hazlett numbers of one effect row: RV, RV at alpha, and the benchmark sentence."""
    if _isnan(r.get("rv_q1")):
        return "-"
    txt = (f"RV {fmt_pct(r['rv_q1'])} (RV at the interval level {fmt_pct(r.get('rv_q1_alpha'))}); "
           f"partial R² of the driver with the outcome {fmt_pct(r.get('partial_r2_yd'))}")
    bench = r.get("benchmark")
    k = r.get("k_erase")
    if isinstance(bench, str) and bench and not _isnan(k):
        kk = float(k)
        txt += (f"; a confounder {fmt_num(kk, 2)} times as strong as {_name(bench, labels)} would erase it"
                if math.isfinite(kk) else
                f"; no confounder any multiple as strong as {_name(bench, labels)} could erase it")
    return txt


def causal_section(effects: pd.DataFrame | None, dictionary: pd.DataFrame | None,
                   refutations: pd.DataFrame | None = None) -> str:
    """Causal effects: which survive every refutation with an interval excluding zero, and for
    the others which refuter failed."""
    labels = _labels(dictionary)
    measures = _measures(dictionary)
    if effects is None:
        return "Causal stage missing (not run or failed): no causal effect to report."
    if effects.empty or "effect" not in effects:
        return "Causal stage ran but estimated no effect."
    est = effects[effects["status"].map(_ok)].copy()
    robust = est["robust"].astype(str).str.lower().isin(["true", "1", "1.0"])
    excl0 = (est["ci_low"] > 0) | (est["ci_high"] < 0)
    est["survives"] = robust & excl0
    n_skip = len(effects) - len(est)
    lines = [f"{len(est)} effects estimated ({n_skip} not estimable or skipped), {int(robust.sum())} pass "
             f"every refutation, {int(est['survives'].sum())} of these have an interval that excludes "
             "zero. Estimand `causal_effect` under the study's causal graph and its assumptions "
             "(backdoor adjustment on two-way demeaned data; unit-clustered intervals; the subset "
             "and bootstrap refuters resample whole units). Robustness to an unobserved confounder "
             "is given as numbers (Cinelli and Hazlett 2020): the robustness value RV is the partial "
             "R² a confounder must have with both driver and outcome to bring the estimate to zero, "
             "benchmarked against the strongest observed covariate."]
    failed: dict[tuple[str, str], list[str]] = {}
    if refutations is not None and not refutations.empty and "passed" in refutations:
        bad = refutations[~refutations["passed"].astype(str).str.lower().isin(["true", "1", "1.0"])]
        for r in bad.itertuples():
            if str(r.refuter) == "unobserved_common_cause":  # read as numbers (RV), not pass/fail
                continue
            failed.setdefault((str(r.outcome), str(r.treatment)), []).append(str(r.refuter))
    rows = []
    for r in est.sort_values("survives", ascending=False).itertuples():
        yu = measures.get(str(r.outcome), "outcome units")
        tu = measures.get(str(r.treatment), "driver units")
        rows.append({
            "driver -> outcome": f"{_name(r.treatment, labels)} -> {_name(r.outcome, labels)}",
            "effect (interval)": f"{fmt_estimate(r.effect, r.ci_low, r.ci_high, r.ci_level)} {yu} per {tu}",
            "per within-unit SD of the driver": fmt_estimate(r.effect_per_sd, r.ci_low_per_sd,
                                                             r.ci_high_per_sd, r.ci_level),
            "robustness to an unobserved confounder": _robustness_text(r._asdict(), labels),
            "refuters passed": str(r.refuters_passed),
            "failed": ", ".join(failed.get((str(r.outcome), str(r.treatment)), [])) or "-",
            "survives": "yes" if r.survives else "no",
        })
    if rows:
        lines.append(md_table(pd.DataFrame(rows)))
    if not est["survives"].any():
        lines.append("No effect survives its refutations with an interval excluding zero.")
    skipped = effects[~effects["status"].map(_ok)]
    if not skipped.empty:
        lines.append("Not estimated: " + "; ".join(
            f"{_name(str(r.outcome), labels)}" + (f" <- `{r.treatment}`" if isinstance(getattr(r, "treatment", None), str) else "")
            + f" ({r.status})" for r in skipped.itertuples()) + ".")
    return "\n\n".join(lines)


def impacts_section(effects: pd.DataFrame | None, loss_years: pd.DataFrame | None,
                    dictionary: pd.DataFrame | None, *, top: int = 3, alpha: float = 0.05) -> str:
    """What it costs: the largest-loss years and the drivers of the impact."""
    labels = _labels(dictionary)
    if effects is None and loss_years is None:
        return "Impacts stage missing."
    if (effects is None or effects.empty) and (loss_years is None or loss_years.empty):
        return "No impact indicator in this study."
    out: list[str] = []
    if loss_years is not None and not loss_years.empty:
        for impact, g in loss_years.groupby("impact", sort=False):
            g = g.sort_values("rank").head(top)
            items = [f"{int(r.year)}: {fmt_estimate(r.mean_loss, r.ci_low, r.ci_high, r.ci_level)}"
                     for r in g.itertuples()]
            r0 = g.iloc[0]
            out.append(f"- {_name(str(impact), labels)}, largest-loss years (mean over units, {r0['measure']}; "
                       f"estimand `{r0['estimand']}`): " + "; ".join(items) + ".")
    if effects is not None and not effects.empty:
        okg = effects[effects["status"].map(_ok)]
        for impact, g in okg.groupby("impact", sort=False):
            sig = g[g["p_wild"] < alpha]
            items = [f"{_name(r.driver, labels)}{'' if r.term == 'main' else ' (' + str(r.term) + ')'} "
                     f"{fmt_estimate(r.coef, r.ci_low, r.ci_high, r.ci_level)} ({fmt_p(r.p_wild, r.bootstrap_draws)})"
                     for r in sig.itertuples()]
            est = g["estimand"].iloc[0]
            out.append(f"- {_name(str(impact), labels)}, terms with wild-bootstrap p < {alpha} (estimand `{est}`): "
                       + ("; ".join(items) if items else "none") + ".")
    return "\n".join(out)


def caveats_section(dictionary: pd.DataFrame | None, config: Mapping | None = None,
                    drops: pd.DataFrame | None = None) -> str:
    """Data caveats: indicator notes and caveats from the data dictionary (the catalogue's
    ``note`` and ``caveat``), unstated measurement units, the caveat of the study's level
    (:data:`dlddrivers.catalogue.LEVEL_CAVEATS`), rows not passed on."""
    out: list[str] = []
    if dictionary is not None and not dictionary.empty:
        labels = _labels(dictionary)
        for r in dictionary.itertuples():
            if r.role not in (*ANALYSIS_ROLES, "carried"):
                continue
            if "not stated" in str(r.measure).lower():
                out.append(f"{_name(r.indicator, labels)}: measurement unit not stated upstream ({r.measure}).")
            if str(r.note).strip():
                out.append(f"{_name(r.indicator, labels)}: {str(r.note).strip()}.")
            caveat = str(getattr(r, "caveat", "") or "").strip()
            if caveat:  # the catalogue's `caveat` of the indicator
                out.append(caveat)
    if config and config.get("level") in LEVEL_CAVEATS:
        out.append(LEVEL_CAVEATS[config["level"]])
    if drops is not None and not drops.empty and {"reason", "rows"} <= set(drops.columns):
        agg = drops.groupby("reason")["rows"].sum().sort_values(ascending=False)
        out.append("Rows of the raw files not passed on (`drops.csv`): "
                   + ", ".join(f"{k} ({int(v):,} rows)" for k, v in agg.items()) + ".")
    if not out:
        return "No caveat recorded in the data dictionary."
    return "\n".join(f"- {c}" for c in dict.fromkeys(out))
