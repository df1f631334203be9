"""Plain-language summary of a finished run, generated only from the result files.

Every number in the summary is read from a table the workflow wrote (``results/<study>/...``);
nothing is typed in by hand. Each section is a function that takes DataFrames (or paths) and
returns a markdown string, so the text can be tested on small hand-made tables without
Snakemake. A stage whose folder is absent (not built yet, or failed) is reported as missing,
never silently skipped.

Entry points: :func:`study_summary` (one study), :func:`build_summary` (all studies plus the
validation section) and :func:`markdown_to_html`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

#: Analysis stages in the order the summary reads them (same names as dlddrivers.pipeline.STAGES).
STAGE_ORDER: tuple[str, ...] = (
    "trends", "panel_regression", "relative_importance", "restrend", "geodetector", "sdg",
    "attribution", "impacts", "causal",
)

#: Roles whose cells count for the analysis coverage (``carried`` columns are context only).
ANALYSIS_ROLES: tuple[str, ...] = ("outcome", "driver", "impact")

#: Anthropogenic indicator domains (the rest of the drivers are biophysical / climate).
ANTHROPOGENIC_DOMAINS: tuple[str, ...] = ("grazing", "agriculture", "mining", "land_use", "population")

#: Caveats that hold whenever a study uses the named indicator (wording only, no numbers).
INDICATOR_CAVEATS: dict[str, str] = {
    "net_migration_per_1000": (
        "Net migration (WDI) counts international migration only; movement from the countryside "
        "to cities inside a country is not in it (``largest_city_share`` is the only proxy)."
    ),
}

#: Caveat for studies whose units are whole countries.
COUNTRY_LEVEL_CAVEAT = (
    "Country values are means or totals over the whole national territory (climate averaged over "
    "all of Russia or Japan, land-cover shares of the whole land area), not over the drylands "
    "where degradation happens; a national share can hide opposite local changes."
)

#: Where the validation table is expected, relative to the results folder.
VALIDATION_TABLE = Path("validation") / "expected_error.csv"


# ------------------------------------------------------------------------------------------
# formatting


def _isnan(x: object) -> bool:
    try:
        return x is None or (isinstance(x, float | int) and math.isnan(float(x))) or pd.isna(x)
    except (TypeError, ValueError):
        return False


def fmt_num(x: object, digits: int = 3) -> str:
    """A number with ``digits`` significant digits, no scientific notation for usual sizes."""
    if _isnan(x):
        return "n/a"
    v = float(x)  # type: ignore[arg-type]
    if not math.isfinite(v):
        return "not defined"
    if v == 0:
        return "0"
    if abs(v) >= 10 ** digits:
        return f"{v:,.0f}"
    if abs(v) < 1e-4:
        return f"{v:.{digits - 1}e}"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(v)))))
    return f"{v:.{decimals}f}"


def fmt_pct(x: object, digits: int = 1) -> str:
    """A fraction as a percentage (``0.955 -> '95.5 %'``)."""
    if _isnan(x):
        return "n/a"
    if not math.isfinite(float(x)):  # type: ignore[arg-type]
        return "not defined"
    return f"{100 * float(x):.{digits}f} %"  # type: ignore[arg-type]


def fmt_interval(lo: object, hi: object, level: object = 0.95, *, pct: bool = False,
                 unit: str = "") -> str:
    """``'95 % interval a to b'`` (or ``'no interval'`` when either end is missing)."""
    if _isnan(lo) or _isnan(hi):
        return "no interval"
    lev = "" if _isnan(level) else f"{100 * float(level):.0f} % "  # type: ignore[arg-type]
    if pct:
        return f"{lev}interval {fmt_pct(lo)} to {fmt_pct(hi)}"
    u = f" {unit}" if unit else ""
    return f"{lev}interval {fmt_num(lo)} to {fmt_num(hi)}{u}"


def fmt_estimate(value: object, lo: object, hi: object, level: object = 0.95, *,
                 pct: bool = False, unit: str = "") -> str:
    """``'0.732 (95 % interval 0.229 to 1.24)'``; shares as percentages when ``pct``; the
    measurement ``unit`` once, after the value."""
    v = fmt_pct(value) if pct else fmt_num(value) + (f" {unit}" if unit and not _isnan(value) else "")
    return f"{v} ({fmt_interval(lo, hi, level, pct=pct)})"


def fmt_p(p: object, draws: object = None) -> str:
    """A p-value; a bootstrap p of 0 reads ``p < 1/draws``."""
    if _isnan(p):
        return "p n/a"
    if float(p) == 0 and not _isnan(draws) and float(draws) > 0:  # type: ignore[arg-type]
        return f"p < {fmt_num(1 / float(draws), 2)}"  # type: ignore[arg-type]
    return f"p = {fmt_num(p, 2)}"


def md_table(df: pd.DataFrame) -> str:
    """A pipe table (cells must already be strings; ``|`` is escaped)."""
    if df.empty:
        return ""
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in df.iterrows():
        cells = [str(v).replace("|", "\\|").replace("\n", " ") for v in row.tolist()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _ok(status: object) -> bool:
    return isinstance(status, str) and status.startswith("ok")


def _caution(status: object) -> str:
    """The caution part of an ``ok; caution: ...`` status (empty if none)."""
    if isinstance(status, str) and ";" in status:
        rest = status.split(";", 1)[1].strip()
        return rest.removeprefix("caution:").strip()
    return ""


# ------------------------------------------------------------------------------------------
# reading a study's result files


@dataclass
class StudyResults:
    """The result files of one study, as read from ``results/<study>/``."""

    name: str
    path: Path
    config: dict = field(default_factory=dict)
    panel: pd.DataFrame | None = None
    coverage: pd.DataFrame | None = None
    dictionary: pd.DataFrame | None = None
    drops: pd.DataFrame | None = None
    #: stage -> table name -> DataFrame, for the stages whose folder exists
    stages: dict[str, dict[str, pd.DataFrame]] = field(default_factory=dict)
    #: stages expected but whose folder does not exist
    missing_stages: list[str] = field(default_factory=list)

    def table(self, stage: str, name: str) -> pd.DataFrame | None:
        """A stage table, or None when the stage or the table is absent."""
        return self.stages.get(stage, {}).get(name)


def _read_csv(path: Path, **kw: object) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path, **kw)  # type: ignore[arg-type]
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def read_study(study_dir: str | Path, stages: Sequence[str] = STAGE_ORDER) -> StudyResults:
    """Read the panel, coverage, dictionary, drops and every stage table of one study."""
    d = Path(study_dir)
    res = StudyResults(name=d.name, path=d)
    prov = d / "provenance.json"
    if prov.is_file():
        res.config = dict(json.loads(prov.read_text()).get("study_config") or {})
    if (d / "panel.parquet").is_file():
        res.panel = pd.read_parquet(d / "panel.parquet")
    elif (d / "panel.csv").is_file():
        res.panel = pd.read_csv(d / "panel.csv")
    res.coverage = _read_csv(d / "coverage.csv")
    res.dictionary = _read_csv(d / "data_dictionary.csv", keep_default_na=False)
    res.drops = _read_csv(d / "drops.csv")
    for stage in stages:
        sd = d / stage
        if not sd.is_dir():
            res.missing_stages.append(stage)
            continue
        res.stages[stage] = {p.stem: t for p in sorted(sd.glob("*.csv"))
                             if (t := _read_csv(p)) is not None}
    return res


def _labels(dictionary: pd.DataFrame | None) -> dict[str, str]:
    if dictionary is None or dictionary.empty:
        return {}
    return dict(zip(dictionary["indicator"].astype(str), dictionary["label"].astype(str), strict=False))


def _measures(dictionary: pd.DataFrame | None) -> dict[str, str]:
    if dictionary is None or dictionary.empty:
        return {}
    return dict(zip(dictionary["indicator"].astype(str), dictionary["measure"].astype(str), strict=False))


def direction_text(dictionary: pd.DataFrame | None, ind: str) -> str:
    """``" (lower is better)"`` / ``" (higher is better)"`` from the dictionary's ``better``
    column (the catalogue's ``better``), ``""`` when not stated."""
    if dictionary is None or dictionary.empty or "better" not in dictionary.columns:
        return ""
    hit = dictionary.loc[dictionary["indicator"].astype(str) == str(ind), "better"]
    v = str(hit.iloc[0]).strip().lower() if len(hit) else ""
    return f" ({v} is better)" if v in ("lower", "higher") else ""


def _name(ind: str, labels: Mapping[str, str]) -> str:
    lab = labels.get(ind)
    return f"{lab} (`{ind}`)" if lab and lab != ind else f"`{ind}`"


def _unit_names(coverage: pd.DataFrame | None) -> dict[str, str]:
    if coverage is None or coverage.empty or "unit_name" not in coverage:
        return {}
    return dict(zip(coverage["unit"].astype(str), coverage["unit_name"].astype(str), strict=False))


# ------------------------------------------------------------------------------------------
# sections


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
    for stage in STAGE_ORDER:
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
    n_bio = int((drivers["domain"] == "climate").sum())
    n_anth = int(drivers["domain"].isin(["grazing", "agriculture", "mining", "land_use", "population"]).sum())
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
    """Data caveats: indicator notes from the data dictionary, unstated measurement units,
    known limits of some indicators, country-level aggregation, rows not passed on."""
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
            if r.indicator in INDICATOR_CAVEATS:
                out.append(INDICATOR_CAVEATS[r.indicator])
    if config and config.get("level") == "country":
        out.append(COUNTRY_LEVEL_CAVEAT)
    if drops is not None and not drops.empty and {"reason", "rows"} <= set(drops.columns):
        agg = drops.groupby("reason")["rows"].sum().sort_values(ascending=False)
        out.append("Rows of the raw files not passed on (`drops.csv`): "
                   + ", ".join(f"{k} ({int(v):,} rows)" for k, v in agg.items()) + ".")
    if not out:
        return "No caveat recorded in the data dictionary."
    return "\n".join(f"- {c}" for c in dict.fromkeys(out))


#: Validation methods behind the headline numbers of a study (LMG shares and trend
#: decomposition of the attribution stage, DoWhy causal effects): the condensed table of
#: the summary's first page keeps their rows only and links the full table.
HEADLINE_METHODS: dict[str, tuple[str, ...] | None] = {
    "lmg": None,  # every LMG quantity
    "trend_decomposition": ("anthropogenic_change",),  # the headline shows components, not shares
    "dowhy": None,
}


def validation_section(path: str | Path | None, study: str | None = None,
                       methods: Sequence[str] | Mapping[str, Sequence[str] | None] | None = None,
                       link: str | None = None) -> str:
    """The expected error of each method from the validation on synthetic panels; with
    ``study`` and a ``study`` column, only that study's rows (its panel shape). With ``methods``
    (names, or method -> quantities with None for all) only those rows and the columns method,
    quantity, expected error and coverage, followed by
    a link (``link``: the full table's path relative to the page) to every row."""
    if path is None or not Path(path).is_file():
        return ("Validation not run (no `validation/expected_error.csv`): the expected error of the "
                "methods on synthetic panels with known answers is not known for this run.")
    t = pd.read_csv(path)
    if study is not None and "study" in t.columns:
        t = t[t["study"].astype(str) == study].drop(columns="study")
        if t.empty:
            return f"Validation table has no row for study `{study}`."
    if t.empty:
        return "Validation table is empty."
    full = len(t)
    if methods is not None and "method" in t.columns:
        spec = dict(methods) if isinstance(methods, Mapping) else {m: None for m in methods}
        keep_row = [m in spec and (spec[m] is None or q in spec[m])
                    for m, q in zip(t["method"].astype(str), t.get("quantity", pd.Series("", index=t.index)).astype(str),
                                    strict=True)]
        t = t[keep_row]
        keep = [c for c in ("method", "quantity", "expected_abs_error", "coverage") if c in t.columns]
        t = t[keep]
        target = link or VALIDATION_TABLE.as_posix()
        show = t.copy()
        for c in show.columns:
            if pd.api.types.is_float_dtype(show[c]):
                show[c] = show[c].map(fmt_num)
        return (f"On synthetic panels of this shape with a known answer ({len(t)} of {full} rows; "
                f"`coverage`: share of intervals holding the truth). All methods: "
                f"[{VALIDATION_TABLE.as_posix()}]({target}).\n\n" + md_table(show.fillna("").astype(str)))
    show = t.copy()
    for c in show.columns:
        if pd.api.types.is_float_dtype(show[c]):
            show[c] = show[c].map(fmt_num)
    show = show.fillna("").astype(str)
    return (f"Expected error of each method on synthetic panels with a known answer "
            f"(`{VALIDATION_TABLE.as_posix()}`, {len(t)} rows; `coverage` is the share of runs whose "
            f"interval held the true value, with its Wilson interval):\n\n" + md_table(show)
            + special_scenarios_text(Path(path).with_name("summary.csv")))


def special_scenarios_text(path: Path) -> str:
    """The placebo and trending-year-effect scenarios of the validation (``summary.csv``):
    false-positive rate of the placebo calibration, coverage of a zero share, and the trend
    decomposition under a common trend."""
    if not path.is_file():
        return ""
    t = pd.read_csv(path)
    if "null_anthropogenic" not in t.columns:
        return ""
    null = t["null_anthropogenic"].astype(str).str.lower().isin(["true", "1", "1.0"])
    trend = t["year_trend"].fillna(0).astype(float) != 0
    want = {("lmg", "anthropogenic_share_variance"), ("lmg", "anthropogenic_share_exceeds_placebo"),
            ("trend_decomposition", "anthropogenic_change")}
    pick = np.array([(m, q) in want for m, q in zip(t["method"], t["quantity"], strict=True)], bool)
    sub = t[(null | trend).to_numpy() & pick]
    if sub.empty:
        return ""
    rows = []
    for r in sub.itertuples():
        cov = ("" if _isnan(r.coverage) else
               f"{fmt_num(r.coverage, 2)} (Wilson {fmt_num(r.coverage_ci_low, 2)} to {fmt_num(r.coverage_ci_high, 2)})")
        rows.append({"scenario": f"`{r.scenario}`", "method": r.method, "quantity": r.quantity,
                     "mean error": fmt_num(r.mean_abs_error), "coverage": cov or "-",
                     "seeds": str(r.n_seeds)})
    return ("\n\nPlacebo worlds (the anthropogenic drivers trend and persist but have no effect; for "
            "`anthropogenic_share_exceeds_placebo` the mean error is the rate of wrongly calling the "
            "share a finding) and a common trend in the year effects:\n\n" + md_table(pd.DataFrame(rows)))


def _figure(path: Path, rel_to: Path, alt: str) -> str:
    rel = os.path.relpath(path, rel_to)
    return f"![{alt}]({Path(rel).as_posix()})"


def figures_section(res: StudyResults, rel_to: Path,
                    stage_figures: Iterable[str] = ("attribution", "impacts")) -> str:
    """Embed the coverage heatmap, the maps and the key stage figures by relative path."""
    figs: list[Path] = []
    if (res.path / "coverage.png").is_file():
        figs.append(res.path / "coverage.png")
    figs += sorted((res.path / "maps").glob("*.png"))
    for st in stage_figures:
        figs += sorted((res.path / st).glob("*.png"))[:4]
    return "\n\n".join(_figure(f, rel_to, f"{res.name}: {f.parent.name}/{f.stem}") for f in figs)


def study_summary(study_dir: str | Path, rel_to: str | Path | None = None,
                  stages: Sequence[str] = STAGE_ORDER, validation: str | Path | None = None,
                  part: str = "all") -> str:
    """The markdown summary of one study from its result folder.

    ``part="headline"``: the first page of the study (the placebo-calibrated split, the observed
    change and its components, surviving causal effects, impacts, the condensed expected error);
    ``part="details"``: data coverage, stage status, leading drivers, the full tables by method
    and of every causal effect, agreement, caveats and figures; ``"all"``: everything.
    """
    res = read_study(study_dir, stages)
    rel = Path(rel_to) if rel_to is not None else res.path.parent
    dic = res.dictionary
    desc = res.config.get("description", "")
    title = (f"## Study `{res.name}`" + (f": {desc}" if desc else "") if part != "details"
             else f"## Details: study `{res.name}`")
    parts = [title]
    if res.coverage is None:
        parts.append("Panel not built: no result files for this study.")
        return "\n\n".join(parts)
    if "relative_importance" in res.stages:
        shares_t = res.table("relative_importance", "shares")
        parts += ["### Headline: anthropogenic vs biophysical, calibrated against placebos",
                  headline_table(shares_t, dic) if part == "headline" else headline_section(shares_t, dic)]
    if part != "headline":
        parts += ["### Data coverage", coverage_section(res.coverage, dic, res.config)]
        parts += ["### Stages", stage_status_section(res)]
    leading = ["### Leading drivers",
               drivers_section(res.table("relative_importance", "shares") if "relative_importance" in res.stages else None,
                               res.table("panel_regression", "coefficients") if "panel_regression" in res.stages else None,
                               dic)]
    if part == "details":  # the first page has the calibrated split; the drivers come here
        return "\n\n".join(parts + leading + _details_tail(res, dic, rel, validation, full_tables=True))
    if part != "headline":
        parts += leading
    attr = res.table("attribution", "attribution") if "attribution" in res.stages else None
    shares = res.table("relative_importance", "shares")
    causal = res.table("causal", "effects") if "causal" in res.stages else None
    if "causal" in res.stages and causal is None:
        causal = pd.DataFrame()
    causal_md = causal_section(causal, dic, res.table("causal", "refutations"))
    if part == "headline":
        # the first page: one line per outcome, the causal verdict without its table
        parts += ["### The observed change and its components", headline_split(attr, dic, lmg=False)
                  if attr is not None else attribution_section(attr, dic, shares)]
        # the verdict: the counts (first sentence) and the closing sentence; method and every
        # effect in the details
        paras = [p for p in causal_md.split("\n\n") if p.strip() and not p.lstrip().startswith("|")]
        verdict = paras[0].split(". ")[0].rstrip(".") + "." if paras else ""
        if len(paras) > 1:
            verdict += " " + paras[-1]
        parts += ["### Causal effects that survive their refutations",
                  verdict + " Method, robustness values and every effect: in the details."]
    else:
        parts += ["### Anthropogenic vs biophysical, by method", attribution_section(attr, dic, shares)]
        parts += ["### Causal effects that survive their refutations", causal_md]
    if "impacts" in res.stages:
        imp = impacts_section(res.table("impacts", "effects"), res.table("impacts", "loss_years"), dic)
    else:
        imp = "Impacts stage missing."
    if not (part == "headline" and imp.startswith("No impact indicator")):
        parts += ["### Impacts (what it costs)", imp]
    link = (os.path.relpath(validation, rel) if validation is not None else VALIDATION_TABLE.as_posix())
    parts += ["### Expected error of these methods (validation)",
              validation_section(validation, res.name, methods=HEADLINE_METHODS,
                                 link=Path(link).as_posix())]
    if part == "headline":
        return "\n\n".join(parts)
    return "\n\n".join(parts + _details_tail(res, dic, rel, validation))


def _details_tail(res: StudyResults, dic: pd.DataFrame | None, rel: Path,
                  validation: str | Path | None, full_tables: bool = False) -> list[str]:
    attr = res.table("attribution", "attribution") if "attribution" in res.stages else None
    restrend = res.table("restrend", "restrend") if "restrend" in res.stages else None
    parts = []
    if full_tables:  # the tables the first page condensed
        parts += ["### Anthropogenic vs biophysical, by method",
                  attribution_section(attr, dic, res.table("relative_importance", "shares"))]
        causal = res.table("causal", "effects") if "causal" in res.stages else None
        if causal is not None:
            parts += ["### Causal effects, every driver", causal_section(causal, dic, res.table("causal", "refutations"))]
    parts += ["### Where the methods agree", agreement_section(attr, restrend, res.coverage, dic)]
    parts += ["### Data caveats", caveats_section(dic, res.config, res.drops)]
    figs = figures_section(res, rel)
    if figs:
        parts += ["### Figures", figs]
    return parts


def is_grid_study(study_dir: str | Path) -> bool:
    """A grid study's result folder (cells and the not-applicable stage table, no panel)."""
    return (Path(study_dir) / "stages_not_applicable.csv").is_file()


def grid_study_summary(study_dir: str | Path, rel_to: str | Path | None = None) -> str:
    """The markdown summary of a grid study (level ``grid``): cells per size, geodetector q with
    the chosen discretisation, the scale effect, SHAP group shares and where the rankings agree.
    Every number is read from the tables under ``study_dir``."""
    d = Path(study_dir)
    rel = Path(rel_to) if rel_to is not None else d.parent
    prov = d / "data" / "provenance.json"
    pj = json.loads(prov.read_text()) if prov.is_file() else {}
    cfg = dict(pj.get("study_config") or {})
    desc = cfg.get("description", "")
    parts = [f"## Study `{d.name}`" + (f": {desc}" if desc else "")]
    labels = _labels(_read_csv(d / "data" / "data_dictionary.csv", keep_default_na=False))
    cells = pj.get("cells_per_grid_km", {})
    parts += ["### Data",
              "Cross-sectional grid cells (no years): "
              + ", ".join(f"{k} km: {int(v):,} cells" for k, v in cells.items())
              + ". Units are not documented upstream and are shown as provided."]
    na = _read_csv(d / "stages_not_applicable.csv")
    if na is not None and len(na):
        parts += ["### Stages", "Not applicable (they need years): "
                  + ", ".join(f"`{x}`" for x in na["stage"]) + ". Run instead: the complete "
                  "geodetector and ML + SHAP per grid size, and the scale effect."]
    scale = _read_csv(d / "scale" / "scale.csv")
    if scale is not None and len(scale):
        q = scale[scale["measure"] == "q"]
        finest = q["grid_km"].min()
        rows = []
        for x, g in q.groupby("x", sort=False):
            g = g.set_index("grid_km").sort_index()
            f = g.loc[finest]
            rows.append({"driver": _name(x, labels),
                         f"q at {finest} km (interval)": fmt_estimate(f["value"], f["ci_low"],
                                                                      f["ci_high"]),
                         "discretisation": f["discretisation"],
                         f"rank at {finest} km": int(f["rank"]),
                         "q across sizes": " / ".join(f"{v:.2f}" for v in g["value"]),
                         "rank across sizes": " / ".join(str(int(r)) for r in g["rank"])})
        t = pd.DataFrame(rows).sort_values(f"rank at {finest} km")
        sizes = " / ".join(f"{int(k)}" for k in sorted(q["grid_km"].unique()))
        parts += ["### Geodetector q and the scale effect",
                  "Factor detector q (estimand `association`; optimal discretisation, chosen method "
                  f"and class count shown; across sizes {sizes} km):\n\n" + md_table(t)]
        sh = scale[scale["measure"] == "share_of_mean_abs_shap"]
        if len(sh):
            items = []
            for gname, g in sh.groupby("x", sort=False):
                g = g.sort_values("grid_km")
                items.append(f"{gname}: " + ", ".join(
                    f"{int(r.grid_km)} km {fmt_estimate(r.value, r.ci_low, r.ci_high, pct=True)}"
                    for r in g.itertuples()))
            parts += ["### Anthropogenic vs biophysical (ML + SHAP)",
                      "Share of mean |SHAP| of gradient-boosted trees (estimand "
                      "`share_of_mean_abs_shap`: the part of the model's mean absolute deviation a "
                      "group accounts for; not a share of variance, trend or cause):\n\n- "
                      + "\n- ".join(items)]
        rho = scale[scale["measure"] == "spearman_rho"]
        if len(rho):
            parts += ["### Where the geodetector and ML rankings agree",
                      "Spearman correlation of the q ranking and the mean |SHAP| ranking: "
                      + ", ".join(f"{int(r.grid_km)} km {fmt_num(r.value, 2)}"
                                  + ("" if r.status == "ok" else " (different top driver)")
                                  for r in rho.sort_values("grid_km").itertuples())
                      + ". Per driver: `grid_<k>km/ml/ranking_agreement.csv`."]
    cv_txt = []
    for km in cells:
        t = _read_csv(d / f"grid_{km}km" / "ml" / "cv.csv")
        if t is not None and len(t):
            m = t[t["fold"].astype(str) == "mean"]
            cv_txt.append(f"{km} km R2 {fmt_num(m['r2'].iloc[0], 2)}")
    if cv_txt:
        parts += ["### Out-of-sample skill of the ML model",
                  "5-fold cross-validation, encoding fitted inside the folds: " + ", ".join(cv_txt)
                  + ". Random folds are optimistic for spatially autocorrelated cells (the data "
                  "have no coordinates for spatial blocks)."]
    parts += ["### Caveats",
              "q and SHAP shares are associations, not causes; q depends on the discretisation and "
              "grows with the number of strata; cells are spatially autocorrelated, so p-values and "
              "intervals are optimistic; the data hold one 2010-2014 change, so no trend or "
              "within-cell analysis is possible."]
    figs = []
    if cells:
        finest = min(int(k) for k in cells)
        for sub, names in ((f"grid_{finest}km/geodetector",
                            ("geodetector_q", "geodetector_interaction", "geodetector_risk")),
                           (f"grid_{finest}km/ml", ("shap_beeswarm", "shap_group_shares")),
                           ("scale", ("scale_q",))):
            for n in names:
                p = d / sub / f"{n}.png"
                if p.is_file():
                    figs.append(_figure(p, rel, f"{d.name}: {sub}/{n}"))
    if figs:
        parts += ["### Figures", "\n\n".join(figs)]
    return "\n\n".join(parts)


def build_summary(results_dir: str | Path, studies: Sequence[str],
                  validation: str | Path | None = None, stages: Sequence[str] = STAGE_ORDER,
                  rel_to: str | Path | None = None) -> str:
    """The whole summary (markdown) for ``studies`` under ``results_dir``.

    ``validation`` defaults to ``results_dir/validation/expected_error.csv``; image links are
    relative to ``rel_to`` (the folder of ``summary.md``; default ``results_dir``).
    """
    root = Path(results_dir)
    rel = Path(rel_to) if rel_to is not None else root
    val = Path(validation) if validation is not None else root / VALIDATION_TABLE
    head = [
        "# DLD drivers: summary of results",
        "Generated from the result files of this run; every number below is read from a table in "
        "this folder. Each share names its **estimand**: `share_of_explained_variance` (LMG: part of "
        "the variance explained by a linear model), `share_of_trend` (part of the observed change), "
        "`association` (within-unit regression, geodetector q), `causal_effect` (under a stated "
        "causal graph), `share_of_mean_abs_shap` (grid study: SHAP of a tree model). "
        "None of them is a bare \"percent caused by people\". Intervals are the stages' bootstrap or "
        "model intervals at the level shown.",
        "Studies: " + ", ".join(f"`{s}`" for s in studies) + ".",
    ]
    # first one page per study (the headline), then the details of every study; a grid study
    # has its own one-block summary
    from .gridded.summary import is_pixel_study, pixel_study_summary

    body = [pixel_study_summary(root / s, rel) if is_pixel_study(root / s)
            else grid_study_summary(root / s, rel) if is_grid_study(root / s)
            else study_summary(root / s, rel, stages, val, part="headline") for s in studies]
    body += ["# Details"] + [study_summary(root / s, rel, stages, val, part="details") for s in studies
                             if not is_grid_study(root / s) and not is_pixel_study(root / s)]
    if val.is_file() and "study" in pd.read_csv(val, nrows=0).columns:
        tail = ["## Expected error (validation)",
                f"Per study above (the methods of its headline); all rows: "
                f"[{VALIDATION_TABLE.as_posix()}]({Path(os.path.relpath(val, rel)).as_posix()})."]
    else:
        tail = ["## Expected error (validation)", validation_section(val)]
    return "\n\n".join(head + body + tail) + "\n"


HTML_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 1em auto; padding: 0 1em;
       font-size: 14px; line-height: 1.35; color: #222; }
h3 { font-size: 1.02em; margin: 0.7em 0 0.2em; }
p, ul { margin: 0.3em 0; }
table { border-collapse: collapse; margin: 0.4em 0; font-size: 0.85em; display: block;
        max-width: 100%; overflow-x: auto; }
th, td { border: 1px solid #ccc; padding: 0.1em 0.4em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.5em 0; }
code { background: #f5f5f5; padding: 0 0.2em; }
h2 { border-bottom: 2px solid #0072B2; padding-bottom: 0.2em; margin: 1em 0 0.3em; }
"""


#: URL schemes a link or image in the generated page may use (plus relative links).
SAFE_URL_SCHEMES = ("http", "https", "mailto")


def markdown_to_html(md: str, title: str = "DLD drivers: summary of results") -> str:
    """A standalone HTML page from the summary markdown (python-markdown with tables).

    Text from config and catalogue (labels, descriptions, notes, unit names) reaches the
    page as text: raw HTML in the markdown is escaped, never passed through, and a link or
    image whose URL has a scheme other than :data:`SAFE_URL_SCHEMES` (e.g. ``javascript:``)
    loses that URL.
    """
    import html
    import urllib.parse

    import markdown
    from markdown.treeprocessors import Treeprocessor

    class _SafeUrls(Treeprocessor):
        def run(self, root):  # noqa: ANN001, ANN202 - markdown API
            for el in root.iter():
                for attr in ("href", "src"):
                    url = el.get(attr)
                    if url is None:
                        continue
                    scheme = urllib.parse.urlsplit(url.strip()).scheme.lower()
                    if scheme and scheme not in SAFE_URL_SCHEMES:
                        el.set(attr, "")
            return None

    conv = markdown.Markdown(extensions=["tables", "sane_lists"], output_format="html")
    conv.preprocessors.deregister("html_block")  # raw HTML blocks become escaped text
    conv.inlinePatterns.deregister("html")  # ... and inline tags too
    conv.treeprocessors.register(_SafeUrls(conv), "safe_urls", 0)
    body = conv.convert(md)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{HTML_STYLE}</style></head>\n"
            f"<body>\n{body}\n</body></html>\n")


def write_summary(results_dir: str | Path, studies: Sequence[str], md_path: str | Path,
                  html_path: str | Path, validation: str | Path | None = None) -> tuple[Path, Path]:
    """Write ``summary.md`` and ``summary.html`` (image links relative to ``results_dir``)."""
    md_path, html_path = Path(md_path), Path(html_path)
    md = build_summary(results_dir, studies, validation, rel_to=md_path.parent)
    md_path.parent.mkdir(parents=True, exist_ok=True)
    md_path.write_text(md, encoding="utf-8")
    html_path.write_text(markdown_to_html(md), encoding="utf-8")
    return md_path, html_path


__all__ = [
    "StudyResults", "read_study", "coverage_section", "coverage_gaps", "stage_status_section",
    "drivers_section", "headline_section", "attribution_section", "agreement_section", "causal_section",
    "impacts_section", "caveats_section", "validation_section", "figures_section",
    "study_summary", "grid_study_summary", "is_grid_study", "build_summary", "markdown_to_html", "write_summary",
    "fmt_num", "fmt_pct", "fmt_interval", "fmt_estimate", "md_table",
]
