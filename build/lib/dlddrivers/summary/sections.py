"""Sections of a panel study's summary: data coverage, stage status, leading drivers, the placebo-calibrated headline, attribution by method and where the methods agree."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ..catalogue import ANTHROPOGENIC, BIOPHYSICAL
from .format import (
    _caution,
    _isnan,
    _labels,
    _name,
    _ok,
    _unit_names,
    direction_text,
    fmt_estimate,
    fmt_num,
    fmt_p,
    fmt_pct,
    md_table,
)
from .read import ANALYSIS_ROLES, StudyResults, stage_names


def coverage_section(coverage: pd.DataFrame | None, dictionary: pd.DataFrame | None,
                     config: Mapping | None = None) -> str:
    """Units, years, share of analysis cells observed, and notable gaps."""
    if coverage is None or coverage.empty:
        return "**Data coverage:** no `coverage.csv` (panel not built)."
    names = _unit_names(coverage)
    units = sorted(coverage["unit"].astype(str).unique())
    years = sorted(int(y) for y in coverage["year"].dropna().unique())
    out = [f"**Units:** {len(units)} ({', '.join(names.get(u, u) for u in units)}). "
           f"**Years:** {years[0]}-{years[-1]} ({len(years)} years)."]
    ana = coverage[coverage["role"].isin(ANALYSIS_ROLES)]
    rows = []
    for role, g in [*ana.groupby("role", sort=False), ("all indicators (incl. carried)", coverage)]:
        counts = g["status"].value_counts()
        n = len(g)
        rows.append({
            "indicators": f"{role} ({g['indicator'].nunique()})",
            "cells (unit x year)": f"{n:,}",
            "observed": fmt_pct(counts.get("observed", 0) / n if n else float("nan")),
            "interpolated": fmt_pct(counts.get("interpolated", 0) / n if n else float("nan")),
            "missing": fmt_pct(counts.get("missing", 0) / n if n else float("nan")),
        })
    out.append(md_table(pd.DataFrame(rows)))
    gaps = coverage_gaps(coverage, dictionary)
    if gaps:
        out.append("**Notable gaps:**\n\n" + "\n".join(f"- {g}" for g in gaps))
    else:
        out.append("**Notable gaps:** none (every indicator has observed values for every unit).")
    return "\n\n".join(out)


def coverage_gaps(coverage: pd.DataFrame, dictionary: pd.DataFrame | None = None,
                  *, sparse_below: float = 0.5) -> list[str]:
    """Readable gaps: unit x indicator with no observed year, series that stop early or start
    late (all units), and analysis indicators with less than ``sparse_below`` of cells observed."""
    labels = _labels(dictionary)
    names = _unit_names(coverage)
    out: list[str] = []
    obs = coverage["status"].eq("observed")
    by = coverage.assign(obs=obs).groupby(["unit", "indicator"], sort=True)["obs"].sum()
    empty = by[by == 0].reset_index()
    for unit, g in empty.groupby("unit", sort=True):
        inds = ", ".join(_name(i, labels) for i in g["indicator"])
        out.append(f"{names.get(str(unit), unit)}: no observed value at all for {inds}.")
    years = coverage["year"].dropna().astype(int)
    y0, y1 = int(years.min()), int(years.max())
    observed = coverage[obs]
    roles = coverage.drop_duplicates("indicator").set_index("indicator")["role"]
    for ind, g in observed.groupby("indicator", sort=True):
        a, b = int(g["year"].min()), int(g["year"].max())
        if (a > y0 or b < y1) and roles.get(ind) in ANALYSIS_ROLES:
            out.append(f"{_name(str(ind), labels)} ({roles.get(ind)}): observed only {a}-{b} "
                       f"(study years {y0}-{y1}).")
    for ind, g in coverage[coverage["role"].isin(ANALYSIS_ROLES)].groupby("indicator", sort=True):
        share = float(g["status"].eq("observed").mean())
        if share < sparse_below:
            out.append(f"{_name(str(ind), labels)}: only {fmt_pct(share)} of unit-years observed.")
    return out


def stage_status_section(res: StudyResults) -> str:
    """Which stages ran, with their row counts and how many rows are not ``ok``."""
    rows = []
    for stage in [*stage_names(), *[s for s in res.stages if s not in stage_names()]]:
        if stage in res.missing_stages:
            rows.append({"stage": stage, "result": "missing (not run or failed)", "tables": "",
                         "rows not ok": ""})
            continue
        if stage not in res.stages:
            continue
        tabs = res.stages[stage]
        n = sum(len(t) for t in tabs.values())
        bad = sum(int((~t["status"].map(_ok)).sum()) for t in tabs.values() if "status" in t)
        rows.append({"stage": stage, "result": "ran" if n else "ran, no rows",
                     "tables": ", ".join(f"`{k}.csv` ({len(t)})" for k, t in tabs.items()),
                     "rows not ok": str(bad)})
    return md_table(pd.DataFrame(rows))


def drivers_section(shares: pd.DataFrame | None, coefficients: pd.DataFrame | None,
                    dictionary: pd.DataFrame | None, *, top: int = 3, alpha: float = 0.05) -> str:
    """Leading drivers per outcome: largest LMG shares and the within-unit associations whose
    wild-bootstrap p-value is below ``alpha``."""
    labels = _labels(dictionary)
    parts: list[str] = []
    if shares is None:
        parts.append("Relative importance (LMG): stage missing.")
    elif shares.empty:
        parts.append("Relative importance (LMG): no rows (the study has no outcome for it).")
    else:
        pred = shares[shares["level"].eq("predictor")]
        if "variation" in pred.columns:
            pred = pred[pred["variation"].fillna("levels").eq("levels")]
        for outcome, g in pred.groupby("outcome", sort=False):
            okg = g[g["status"].map(_ok)].sort_values("share", ascending=False)
            if okg.empty:
                st = "; ".join(sorted(set(g["status"].astype(str))))
                parts.append(f"- {_name(str(outcome), labels)}: no LMG shares ({st}).")
                continue
            items = [f"{_name(r.predictor, labels)} [{r.domain}] {fmt_estimate(r.share, r.share_ci_low, r.share_ci_high, r.ci_level, pct=True)}"
                     for r in okg.head(top).itertuples()]
            r0 = okg.iloc[0]
            parts.append(
                f"- {_name(str(outcome), labels)}: largest shares of the within R² "
                f"(R² = {fmt_num(r0['total_r2'])}; estimand `{r0['estimand']}`): " + "; ".join(items)
                + (f". Caution: {_caution(r0['status'])}." if _caution(r0["status"]) else ".")
            )
    if coefficients is None:
        parts.append("Panel regression: stage missing.")
    elif not coefficients.empty:
        c = coefficients[coefficients["status"].map(_ok)]
        for outcome, g in c.groupby("outcome", sort=False):
            sig = g[g["p_wild"] < alpha].sort_values("std_coef", key=abs, ascending=False)
            est = g["estimand"].iloc[0]
            if sig.empty:
                parts.append(f"- {_name(str(outcome), labels)}: no driver with wild-bootstrap "
                             f"p < {alpha} in the two-way fixed-effects regression (estimand `{est}`).")
                continue
            items = [f"{_name(r.driver, labels)} standardised coefficient {fmt_num(r.std_coef)} "
                     f"(coefficient {fmt_estimate(r.coef, r.ci_low, r.ci_high, r.ci_level)}, {fmt_p(r.p_wild, r.bootstrap_draws)})"
                     for r in sig.itertuples()]
            parts.append(f"- {_name(str(outcome), labels)}: within-unit associations with wild-bootstrap "
                         f"p < {alpha} (estimand `{est}`): " + "; ".join(items) + ".")
    return "\n".join(parts)


#: what each LMG estimand answers (the summary's wording)
VARIATION_QUESTION: dict[str, str] = {
    "levels": ("which drivers go with the outcome's ups, downs and trends inside units "
               "(year effects removed); trending drivers take much of it whether or not they act"),
    "year_to_year": ("which drivers go with the outcome's good and bad years around each unit's "
                     "own linear trend; trends shared by chance do not count"),
}


def _calibrated_sentence(r: Mapping | pd.Series, what: str) -> str:
    """One sentence: an anthropogenic share, its interval and its placebo calibration."""
    est = fmt_estimate(r["share"], r["share_ci_low"], r["share_ci_high"], r["ci_level"], pct=True)
    cal = str(r.get("calibration", ""))
    if cal == "exceeds_placebo":
        return (f"the anthropogenic drivers' {what} is {est}, above what placebo drivers with the "
                f"same trends and persistence take (placebo median {fmt_pct(r['placebo_median'])}, "
                f"95th percentile {fmt_pct(r['placebo_p95'])}; exceedance probability "
                f"{fmt_num(r['placebo_exceedance'], 2)} over {int(r['placebo_draws'])} draws)")
    if cal == "indistinguishable_from_placebo":
        return (f"the split cannot be told apart from placebos: the anthropogenic drivers' {what} "
                f"({est}) is no larger than what placebo drivers with the same trends and "
                f"persistence but no link to the outcome take (placebo median "
                f"{fmt_pct(r['placebo_median'])}, 95th percentile {fmt_pct(r['placebo_p95'])}; "
                f"exceedance probability {fmt_num(r['placebo_exceedance'], 2)}), so it is not a "
                f"finding")
    return f"the anthropogenic drivers' {what} is {est} (not placebo-calibrated)"


def headline_section(shares: pd.DataFrame | None, dictionary: pd.DataFrame | None) -> str:
    """The placebo-calibrated anthropogenic vs biophysical statement per outcome and estimand
    (LMG group rows of the relative-importance stage)."""
    labels = _labels(dictionary)
    if shares is None or shares.empty or "calibration" not in shares.columns:
        return ("No placebo-calibrated share available (relative-importance stage missing or run "
                "without `placebo_draws`): no anthropogenic vs biophysical split is stated.")
    g = shares[(shares["level"] == "group") & (shares["predictor"] == "anthropogenic")]
    lines = []
    for r in g.itertuples():
        variation = str(getattr(r, "variation", "levels"))
        what = ("share of the explained within variance" if variation == "levels"
                else "share of the explained year-to-year variance")
        if not _ok(r.status):
            lines.append(f"- {_name(str(r.outcome), labels)} (`{r.estimand}`): no share ({r.status}).")
            continue
        flag = " The interval reaches 0." if str(getattr(r, "flag", "")) == "near_zero" else ""
        lines.append(f"- {_name(str(r.outcome), labels)}{direction_text(dictionary, str(r.outcome))} (`{r.estimand}`: "
                     f"{VARIATION_QUESTION.get(variation, variation)}): "
                     f"{_calibrated_sentence(r._asdict(), what)}.{flag}")
    if not lines:
        return "No anthropogenic group share in the relative-importance table."
    return ("Placebo-calibrated (each group's drivers replaced by surrogate series that keep every "
            "driver's trend and persistence per unit but have no link to the outcome):\n\n"
            + "\n".join(lines))


def headline_table(shares: pd.DataFrame | None, dictionary: pd.DataFrame | None) -> str:
    """:func:`headline_section` as one table row per outcome and estimand, for the study's
    first page: the anthropogenic share with its interval, what placebo drivers take (median,
    95th percentile) and the verdict. The sentences are in the details."""
    labels = _labels(dictionary)
    if shares is None or shares.empty or "calibration" not in shares.columns:
        return headline_section(shares, dictionary)
    g = shares[(shares["level"] == "group") & (shares["predictor"] == "anthropogenic")]
    rows = []
    for r in g.itertuples():
        ok = _ok(r.status)
        cal = str(getattr(r, "calibration", ""))
        verdict = ("above placebos" if cal == "exceeds_placebo" else
                   "not told apart from placebos: not a finding" if cal == "indistinguishable_from_placebo"
                   else "not calibrated" if ok else f"no share ({r.status})")
        if ok and str(getattr(r, "flag", "")) == "near_zero":
            verdict += "; interval reaches 0"
        rows.append({"outcome": _name(str(r.outcome), labels), "estimand": f"`{r.estimand}`",
                     "anthropogenic share": fmt_estimate(r.share, r.share_ci_low, r.share_ci_high,
                                                         r.ci_level, pct=True) if ok else "",
                     "placebo median / 95th pct": (f"{fmt_pct(r.placebo_median)} / {fmt_pct(r.placebo_p95)}"
                                                   if ok and cal in ("exceeds_placebo",
                                                                     "indistinguishable_from_placebo") else ""),
                     "verdict": verdict})
    if not rows:
        return "No anthropogenic group share in the relative-importance table."
    return ("Share of the explained variance taken by the anthropogenic drivers, against placebo drivers "
            "that keep every driver's trend and persistence but have no link to the outcome "
            "(sentences in the details):\n\n" + md_table(pd.DataFrame(rows)))


def _attr_row(a: pd.DataFrame, method: str, quantity: str) -> pd.Series | None:
    r = a[(a["method"] == method) & (a["quantity"] == quantity)]
    return None if r.empty else r.iloc[0]


def _lmg_group_caveat(dictionary: pd.DataFrame | None) -> str:
    """A sentence on what LMG group shares depend on, with this study's driver counts."""
    if dictionary is None or dictionary.empty or "role" not in dictionary.columns:
        return ""
    drivers = dictionary[dictionary["role"] == "driver"]
    n_bio = int(drivers["domain"].isin(BIOPHYSICAL).sum())
    n_anth = int(drivers["domain"].isin(ANTHROPOGENIC).sum())
    return (f" LMG group shares also depend on how many drivers each group has (here {n_anth} "
            f"anthropogenic and {n_bio} biophysical) and on shared trends: drivers that merely trend "
            "alongside the outcome take a share of the within R²; read them as association, not cause.")


def headline_split(attribution: pd.DataFrame | None, dictionary: pd.DataFrame | None,
                   lmg: bool = True) -> str:
    """One line per outcome for the study's first page: (with ``lmg``) the LMG anthropogenic
    share of the explained variance, and the observed change with its anthropogenic component
    and the unexplained remainder (pooled rows, each with its estimand and interval). The full
    table by method is in the details."""
    if attribution is None or attribution.empty:
        return "Attribution stage missing or empty (see the details)."
    labels = _labels(dictionary)
    pooled = attribution[attribution["unit"].astype(str) == "pooled"]
    lines = []
    for outcome, a in pooled.groupby("outcome", sort=False):
        parts = []
        r = _attr_row(a, "lmg", "anthropogenic_share") if lmg else None
        if r is not None and not _isnan(r["value"]):
            parts.append("anthropogenic share of the explained variance "
                         f"{fmt_estimate(r['value'], r['ci_low'], r['ci_high'], r['ci_level'], pct=True)} "
                         f"(`{r['estimand']}`)")
        obs = _attr_row(a, "trend_decomposition", "observed_change")
        if obs is not None:
            unit = str(obs.get("value_unit", "") or "")
            txt = (f"observed change {fmt_estimate(obs['value'], obs['ci_low'], obs['ci_high'], obs['ci_level'])}"
                   f"{' ' + unit if unit and unit != 'nan' else ''}")
            for q, name in (("anthropogenic", "anthropogenic component"), ("remainder", "unexplained remainder")):
                c = _attr_row(a, "trend_decomposition", q)
                if c is not None:
                    txt += f", {name} {fmt_estimate(c['value'], c['ci_low'], c['ci_high'], c['ci_level'])}"
            parts.append(txt + f" (`{obs['estimand']}`)")
        status = "; ".join(sorted(set(a["status"].astype(str))))
        lines.append(f"- {_name(str(outcome), labels)}: " + "; ".join(parts) + f". Status: {status}.")
    return "\n".join(lines) if lines else "Attribution table has no pooled rows."


def attribution_section(attribution: pd.DataFrame | None, dictionary: pd.DataFrame | None,
                        shares: pd.DataFrame | None = None) -> str:
    """Anthropogenic vs biophysical shares per method (pooled rows), each with its estimand and
    interval; falls back to the LMG group shares when the attribution stage is missing."""
    labels = _labels(dictionary)
    if attribution is None or attribution.empty:
        head = ("Attribution stage missing; " if attribution is None else "Attribution table empty; ")
        if shares is None or shares.empty:
            return head + "no anthropogenic vs biophysical share available."
        g = shares[(shares["level"] == "group") & shares["status"].map(_ok)]
        lines = [head + "LMG group shares from the relative-importance stage instead:"]
        for r in g[g["predictor"].isin(["anthropogenic", "biophysical"])].itertuples():
            lines.append(f"- {_name(r.outcome, labels)}: {r.predictor} "
                         f"{fmt_estimate(r.share, r.share_ci_low, r.share_ci_high, r.ci_level, pct=True)} "
                         f"of the within R² (estimand `{r.estimand}`).")
        return "\n".join(lines)
    pooled = attribution[attribution["unit"].astype(str) == "pooled"]
    out: list[str] = []
    for outcome, a in pooled.groupby("outcome", sort=False):
        rows = []
        spec = [
            ("lmg", "anthropogenic_share", "anthropogenic share of explained variance", True),
            ("lmg", "biophysical_share", "biophysical (climate) share of explained variance", True),
            ("trend_decomposition", "observed_change", "observed change (Theil-Sen)", False),
            ("trend_decomposition", "anthropogenic", "anthropogenic component of the change", False),
            ("trend_decomposition", "climate_change", "climate-change component", False),
            ("trend_decomposition", "climate_variability", "climate-variability component", False),
            ("trend_decomposition", "common_year_effects", "common year effects (shared by all units, neither climate nor human)", False),
            ("trend_decomposition", "remainder", "unexplained remainder (not folded into either)", False),
            ("trend_decomposition", "anthropogenic_share_of_observed", "anthropogenic share of observed change", True),
            ("counterfactual", "climate_attributable_change", "change attributable to climate (model counterfactual)", False),
            ("counterfactual", "climate_share_of_predicted_change", "climate share of predicted change", True),
        ]
        for method, q, text, pct in spec:
            r = _attr_row(a, method, q)
            if r is None:
                continue
            vu = "%" if pct else str(r.get("value_unit", ""))
            est = fmt_estimate(r["value"], r["ci_low"], r["ci_high"], r["ci_level"], pct=pct)
            st = str(r.get("status", ""))
            if _isnan(r["value"]) and st.startswith("not_defined"):
                est = "left empty: " + st.removeprefix("not_defined: ").split("; block:")[0]
            cal = str(r.get("calibration", "")) if "calibration" in r.index else ""
            if cal in ("exceeds_placebo", "indistinguishable_from_placebo"):
                est += (f"; placebo median {fmt_pct(r['placebo_median'])}, exceedance "
                        f"{fmt_num(r['placebo_exceedance'], 2)}: "
                        + ("above placebos" if cal == "exceeds_placebo" else "not distinguishable from placebos"))
            if "near_zero" in str(r.get("note", "")):
                est += "; interval reaches 0"
            rows.append({"method": method, "estimand": f"`{r['estimand']}`", "quantity": text,
                         "estimate (interval)": est, "unit": "" if vu == "nan" else vu})
        status = sorted({str(x).split("; block:")[0] for x in a["status"]
                         if not str(x).startswith("not_defined")})
        out.append(f"*{_name(str(outcome), labels)}{direction_text(dictionary, str(outcome))}, pooled over units:*\n\n"
                   + md_table(pd.DataFrame(rows))
                   + "\n\nStatus: " + "; ".join(status) + ". Shares of the observed or predicted change are "
                   "ratios of components: they can be negative or larger than the whole when components "
                   "offset each other, and are not defined when the change is near zero; read the "
                   "components in outcome units first." + _lmg_group_caveat(dictionary))
    return "\n\n".join(out) if out else "Attribution table has no pooled rows."


def agreement_section(attribution: pd.DataFrame | None, restrend: pd.DataFrame | None,
                      coverage: pd.DataFrame | None = None,
                      dictionary: pd.DataFrame | None = None) -> str:
    """Where the methods agree: per outcome, the units where LMG, trend decomposition and the
    counterfactual name the same larger group, and the units with a RESTREND residual trend."""
    labels = _labels(dictionary)
    names = _unit_names(coverage)
    out: list[str] = []
    if attribution is None:
        out.append("- Agreement of the attribution methods: attribution stage missing.")
    elif attribution.empty:
        out.append("- Agreement of the attribution methods: attribution table has no rows.")
    else:
        per = attribution[attribution["unit"].astype(str) != "pooled"]
        for outcome, g in per.groupby("outcome", sort=False):
            units = g.drop_duplicates("unit")
            n = len(units)
            agree = units[units["ranking_agreement"] == "agree"]
            dis = units[units["ranking_agreement"] == "disagree"]
            groups = agree["larger_group_lmg"].value_counts()
            txt = ", ".join(f"{k} in {v}" for k, v in groups.items())
            line = (f"- {_name(str(outcome), labels)}: the three attribution methods name the same larger "
                    f"group in {len(agree)} of {n} units" + (f" ({txt})" if txt else ""))
            if not dis.empty:
                det = "; ".join(
                    f"{names.get(str(r.unit), r.unit)}: LMG {r.larger_group_lmg}, trend {r.larger_group_trend}, "
                    f"counterfactual {r.larger_group_counterfactual}" for r in dis.itertuples())
                line += f"; they disagree in {len(dis)} ({det})"
            und = n - len(agree) - len(dis)
            if und:
                line += f"; undetermined in {und}"
            sign = units["sign_agreement"].value_counts()
            if not sign.empty:
                line += ("; sign of the anthropogenic change (trend decomposition vs counterfactual): "
                         + ", ".join(f"{k} in {v}" for k, v in sign.items()))
            pooled = attribution[(attribution["unit"].astype(str) == "pooled") & (attribution["outcome"] == outcome)]
            if not pooled.empty:
                p = pooled.iloc[0]
                line += (f". Pooled: LMG {p['larger_group_lmg']}, trend {p['larger_group_trend']}, "
                         f"counterfactual {p['larger_group_counterfactual']} ({p['ranking_agreement']})")
            out.append(line + ".")
    if restrend is None:
        out.append("- RESTREND: stage missing.")
    elif not restrend.empty:
        for outcome, g in restrend.groupby("outcome", sort=False):
            okg = g[g["status"].map(_ok)]
            refused = len(g) - len(okg)
            sig = okg[okg["mk_p"] < 0.05] if "mk_p" in okg else okg.iloc[0:0]
            neg = int((sig["residual_slope"] < 0).sum())
            pos = int((sig["residual_slope"] > 0).sum())
            est = g["estimand"].iloc[0] if "estimand" in g else ""
            out.append(f"- RESTREND, {_name(str(outcome), labels)} (estimand `{est}`): non-climatic residual "
                       f"trend with p < 0.05 in {len(sig)} of {len(okg)} units fitted ({neg} falling, {pos} rising); "
                       f"{refused} unit(s) refused (climate fit not significant or too few years).")
    return "\n".join(out)
