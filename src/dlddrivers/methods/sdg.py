"""SDG 15.3.1 productivity sub-indicator terms, as Trends.Earth defines them, per study unit.

Trends.Earth (Conservation International; documentation "Understanding indicators: 15.3.1" and
``te_algorithms/gee/productivity.py``) derives land-productivity degradation from three terms
of an annual productivity series (there NDVI per pixel; here a unit's outcome series):

* **Trajectory**: linear (OLS) slope of the series on year, significance from the Mann-Kendall
  statistic. Classes -3..+3: +-1/2/3 where the trend is significant at 90/95/99 %, 0 otherwise,
  signed by the OLS slope. Degradation when the class is <= -2 (significant at 95 %), improvement
  when >= +2.
* **State**: the baseline period's annual values, extended by two pseudo-values 5 % of the
  range beyond the minimum and the maximum, are cut at their 10th..90th percentiles into ten
  classes (class 1: <= p10, ..., class 10: > p90). State = class of the recent-period mean minus
  class of the baseline mean; <= -2 is degradation, >= +2 improvement.
* **Performance**: a unit's mean over the period divided by the 90th percentile of those means
  among comparable units (all study units by default); <= 0.5 is degradation.
* **Combined class** (``calc_prod5``): 1 declining, 2 early signs of decline, 3 stable but
  stressed, 4 stable, 5 increasing, from trajectory, state and performance:
  trajectory degraded -> 1; trajectory improved -> 5 except state degraded and performance
  degraded -> 2; trajectory stable -> 4 except: state stable and performance degraded -> 3,
  state degraded and performance not -> 2, state degraded and performance degraded -> 1.
  ``sdg3`` collapses it to -1 (classes 1-2, degraded), 0 (3-4), +1 (5).
* **Climate-corrected trajectory** (Trends.Earth's RESTREND option ``p_restrend``): the same
  trajectory test on the residuals of an OLS fit of the outcome on the study's climate drivers
  (dictionary domain ``climate``), per unit. Refused (status ``refused: climate fit not
  significant (p=...)``) when the fit's F-test is not significant, since residuals of a
  meaningless fit are not "non-climatic change" (Wessels et al. 2012, RSE 125:10-22).

Where the outcome is better when smaller (``higher_is_better: {indicator: false}``, e.g. the
bare/sparse share of land), trajectory and state are computed on the negated series, so classes
always point in the "better" direction; performance (a ratio to the best units) is then refused.

Differences from Trends.Earth, by design: significance comes from the Mann-Kendall p-value
(``pymannkendall.original_test``; two-sided, tie-corrected normal approximation) instead of
Trends.Earth's table of critical S values (``te_algorithms/gee/stats.py``, from Hollander and
Wolfe), whose 90 % and 95 % entries sit one step below the exact one-sided critical values, so
Trends.Earth is slightly more liberal at the margin. Trends.Earth's NDVI-specific dead bands
(|slope| <= 10 and |mean change| <= 100 on NDVI x 10000) have no analogue for other units and
are not applied; percentiles use numpy's linear interpolation.

Options (``DEFAULTS``)
----------------------
indicators : list or None
    Productivity-like series to assess (default: the study outcomes).
higher_is_better : dict
    ``{indicator: bool}`` overrides; by default the direction comes from the catalogue's
    ``better: lower | higher`` (data dictionary column ``better``), True where it is absent.
baseline : [start, end] or None
    Baseline years of the state term (default: the first 2/3 of the study years).
recent_years : int
    Length of the recent period at the end of the study years (default 3).
comparable_units : dict or None
    ``{group: [units]}`` for performance; default: all study units form one group.
min_years : int
    Minimum non-missing years for a trajectory (default 8).
min_baseline_years : int
    Minimum non-missing baseline years for the state term (default 5).
min_units_performance : int
    Minimum units in a comparison group for performance (default 3).
climate_alpha : float
    The climate fit must have an F-test p-value below this (default 0.05).
ci_level : float
    Level of the OLS slope interval (default 0.95).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..catalogue import BIOPHYSICAL
from ..dictionary import better_of, indicator_meta
from .trends import restrict

STAGE = "sdg"

DEFAULTS: dict = {
    "indicators": None,
    "higher_is_better": {},
    "baseline": None,
    "recent_years": 3,
    "comparable_units": None,
    "min_years": 8,
    "min_baseline_years": 5,
    "min_units_performance": 3,
    "climate_alpha": 0.05,
    "ci_level": 0.95,
}

PROD5_LABELS = {1: "declining", 2: "early signs of decline", 3: "stable but stressed",
                4: "stable", 5: "increasing"}
TERMS = ("trajectory", "state", "performance", "sdg_productivity", "trajectory_climate_corrected")


# --------------------------------------------------------------------------- the three terms
def trajectory_class(years: np.ndarray, y: np.ndarray, ci_level: float = 0.95) -> dict:
    """Trends.Earth trajectory of a series: OLS slope sign, MK significance at 90/95/99 %.

    Returns ``slope, ci_low, ci_high, mk_s, p_value, cls`` (-3..+3) and ``deg`` (-1 when
    ``cls <= -2``, +1 when ``cls >= 2``, else 0). ``y`` is in the "better" direction.
    """
    import pymannkendall as pmk
    from scipy.stats import linregress
    from scipy.stats import t as tdist

    years = np.asarray(years, dtype=float)
    y = np.asarray(y, dtype=float)
    lr = linregress(years, y)
    n = len(y)
    tq = float(tdist.ppf(0.5 + ci_level / 2, n - 2))
    mk = pmk.original_test(y)
    p = float(mk.p)
    level = 3 if p < 0.01 else 2 if p < 0.05 else 1 if p < 0.10 else 0
    sgn = int(np.sign(lr.slope))
    cls = int(level * sgn)
    return {"slope": float(lr.slope), "ci_low": float(lr.slope - tq * lr.stderr),
            "ci_high": float(lr.slope + tq * lr.stderr), "mk_s": float(mk.s), "p_value": p,
            "cls": cls, "deg": -1 if cls <= -2 else 1 if cls >= 2 else 0}


def state_classes(baseline: np.ndarray, recent_mean: float) -> dict:
    """Trends.Earth state term: baseline and recent decile classes and their difference.

    ``baseline`` holds the baseline years' values; the mean of ``baseline`` and ``recent_mean``
    are classed 1..10 against the 10th..90th percentiles of the baseline values extended by
    ``min - 0.05 * range`` and ``max + 0.05 * range``.
    """
    b = np.asarray(baseline, dtype=float)
    lo, hi = b.min(), b.max()
    ext = np.concatenate([b, [lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo)]])
    pct = np.percentile(ext, np.arange(10, 100, 10))

    def cls(m: float) -> int:
        return int(1 + (m > pct).sum())

    bl, tg = cls(float(b.mean())), cls(float(recent_mean))
    change = tg - bl
    return {"baseline_class": bl, "recent_class": tg, "change": change,
            "deg": -1 if change <= -2 else 1 if change >= 2 else 0}


def performance_ratio(unit_means: pd.Series) -> pd.DataFrame:
    """Each unit's mean over the 90th percentile of the means (linear interpolation).

    Returns columns ``mean, p90, ratio, deg`` (-1 where ``ratio <= 0.5``, else 0).
    """
    m = unit_means.astype(float)
    p90 = float(np.percentile(m.to_numpy(), 90))
    ratio = m / p90
    return pd.DataFrame({"mean": m, "p90": p90, "ratio": ratio,
                         "deg": np.where(ratio <= 0.5, -1, 0)})


def prod5(traj_deg: int, state_deg: int, perf_deg: int) -> int:
    """Trends.Earth ``calc_prod5`` look-up: 1 declining ... 5 increasing."""
    if traj_deg == -1:
        out = 1
    elif traj_deg == 0:
        out = 4
    else:
        out = 5
    if traj_deg == 0 and state_deg == 0 and perf_deg == -1:
        out = 3
    if traj_deg == 1 and state_deg == -1 and perf_deg == -1:
        out = 2
    if traj_deg == 0 and state_deg == -1 and perf_deg == 0:
        out = 2
    if traj_deg == 0 and state_deg == -1 and perf_deg == -1:
        out = 1
    return out


def combined_class(traj_deg, state_deg, perf_deg) -> tuple[float, str]:
    """:func:`prod5` where inputs may be missing: a missing performance is tolerated when both
    of its values give the same class. Returns ``(class or NaN, note)``."""
    if traj_deg is None or state_deg is None:
        return np.nan, "trajectory or state missing"
    if perf_deg is None:
        a, b = prod5(traj_deg, state_deg, -1), prod5(traj_deg, state_deg, 0)
        if a == b:
            return float(a), "performance missing but not needed for this combination"
        return np.nan, "performance missing and needed for this combination"
    return float(prod5(traj_deg, state_deg, perf_deg)), ""


def climate_residuals(y: np.ndarray, X: np.ndarray) -> dict:
    """OLS of ``y`` on a constant and the columns of ``X``: residuals, R2 and F-test p-value."""
    from scipy.stats import f as fdist

    n, k = X.shape
    A = np.column_stack([np.ones(n), X])
    beta, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ beta
    sse = float(resid @ resid)
    sst = float(((y - y.mean()) ** 2).sum())
    r2 = 1 - sse / sst if sst > 0 else np.nan
    df2 = n - k - 1
    if df2 <= 0 or not np.isfinite(r2) or np.linalg.matrix_rank(A) < k + 1:
        return {"resid": resid, "r2": r2, "p": np.nan, "beta": beta, "singular": True}
    F = (r2 / k) / max((1 - r2) / df2, 1e-300)
    return {"resid": resid, "r2": float(r2), "p": float(fdist.sf(F, k, df2)), "beta": beta,
            "singular": False}


# --------------------------------------------------------------------------- stage
def _default_baseline(years: list[int]) -> tuple[int, int]:
    n = len(years)
    k = max(1, int(round(2 * n / 3)))
    return years[0], years[k - 1]


def compute(
    panel: pd.DataFrame, dictionary: pd.DataFrame, study: dict, options: dict | None = None
) -> dict[str, pd.DataFrame]:
    """Trends.Earth productivity terms per unit and indicator (long table ``sdg_terms``).

    Returns
    -------
    dict with ``sdg_terms``: one row per unit, indicator and term (``trajectory``, ``state``,
    ``performance``, ``sdg_productivity``, ``trajectory_climate_corrected``) with columns
    ``study, unit, indicator, term, higher_is_better, value, value_meaning, cls, degradation
    (-1 degraded, 0 stable, +1 improved; performance 0/-1), label, p_value, ci_low, ci_high,
    ci_level, period, baseline, recent, n_units, n_years, n_obs, n_dropped, estimand
    ("detection"), status, note``.

    ``value`` is the OLS slope in indicator units per year (trajectory terms, original
    direction), the class change (state), the ratio to the group's 90th percentile
    (performance), the combined class 1..5 (sdg_productivity). ``cls`` is the trajectory class
    -3..+3, the recent state class 1..10, ``-1/0`` for performance, the combined class 1..5.
    """
    from ..errors import ConfigError

    opt = {**DEFAULTS, **(options or {})}
    df = restrict(panel, study)
    name = study.get("name", "")
    sy = study.get("years") or [int(df["year"].min()), int(df["year"].max())]
    years_all = list(range(int(sy[0]), int(sy[-1]) + 1))
    base = opt["baseline"] or _default_baseline(years_all)
    b0, b1 = int(base[0]), int(base[-1])
    r_n = int(opt["recent_years"])
    r0, r1 = years_all[-1] - r_n + 1, years_all[-1]
    if b1 < b0 or r_n < 1:
        raise ConfigError("methods.sdg.baseline/recent_years", (base, r_n),
                          "baseline start <= end and recent_years >= 1")
    overlap_note = (f"baseline {b0}-{b1} overlaps recent period {r0}-{r1}" if b1 >= r0 else "")
    indicators = list(opt["indicators"] or study.get("outcomes") or [])
    hib = dict(opt["higher_is_better"] or {})
    for ind in indicators:
        if ind not in hib and better_of(dictionary, ind):
            hib[ind] = better_of(dictionary, ind) == "higher"
    climate = [d for d in (study.get("drivers") or [])
               if indicator_meta(dictionary, d, "domain") in BIOPHYSICAL and d in df.columns]
    units = sorted(df["unit"].unique()) if study.get("units") is None else list(study["units"])
    groups = opt["comparable_units"] or {"all": units}
    period = f"{years_all[0]}-{years_all[-1]}"
    rows: list[dict] = []

    def row(unit, ind, term, **kw):
        r = {"study": name, "unit": unit, "indicator": ind, "term": term,
             "higher_is_better": bool(hib.get(ind, True)), "value": np.nan,
             "value_meaning": "", "cls": np.nan, "degradation": np.nan, "label": "",
             "p_value": np.nan, "ci_low": np.nan, "ci_high": np.nan,
             "ci_level": float(opt["ci_level"]), "period": period, "baseline": f"{b0}-{b1}",
             "recent": f"{r0}-{r1}", "n_units": 1, "n_years": 0, "n_obs": 0, "n_dropped": 0,
             "estimand": "detection", "status": "ok", "note": ""}
        r.update(kw)
        rows.append(r)
        return r

    for ind in indicators:
        if ind not in df.columns:
            for unit in units:
                for term in TERMS:
                    row(unit, ind, term, status="missing: indicator not in panel")
            continue
        sign = 1.0 if hib.get(ind, True) else -1.0
        # performance per comparison group
        perf: dict[str, dict] = {}
        means = df.groupby("unit")[ind].mean()
        for gname, gunits in groups.items():
            gm = means.reindex(list(gunits)).dropna()
            if sign < 0:
                st = ("refused: performance (ratio to the best units) needs a larger-is-better "
                      "productivity measure")
                for u in gunits:
                    perf[u] = {"status": st, "n_units": len(gm), "group": gname}
                continue
            if len(gm) < int(opt["min_units_performance"]):
                st = (f"insufficient_data: {len(gm)} units with data in group '{gname}' < "
                      f"{int(opt['min_units_performance'])}")
                for u in gunits:
                    perf[u] = {"status": st, "n_units": len(gm), "group": gname}
                continue
            if (gm <= 0).any():
                st = "refused: performance ratio needs positive values"
                for u in gunits:
                    perf[u] = {"status": st, "n_units": len(gm), "group": gname}
                continue
            pr = performance_ratio(gm)
            for u in gunits:
                if u in pr.index:
                    perf[u] = {"status": "ok", "n_units": len(gm), "group": gname,
                               **pr.loc[u].to_dict()}
                else:
                    perf[u] = {"status": "insufficient_data: no values for this unit",
                               "n_units": len(gm), "group": gname}

        for unit in units:
            g = df[df["unit"] == unit].sort_values("year")
            ok = g[ind].notna()
            yrs = g.loc[ok, "year"].to_numpy(float)
            y = g.loc[ok, ind].to_numpy(float)
            n, n_drop = len(y), int((~ok).sum())
            common = {"n_years": n, "n_obs": n, "n_dropped": n_drop}
            # trajectory
            traj_deg = None
            if n < int(opt["min_years"]):
                row(unit, ind, "trajectory", **common,
                    status=f"insufficient_data: {n} years < {int(opt['min_years'])}")
            elif np.std(y) == 0:
                row(unit, ind, "trajectory", **common, status="insufficient_data: constant series")
            else:
                t = trajectory_class(yrs, sign * y, float(opt["ci_level"]))
                traj_deg = t["deg"]
                lo, hi = sorted((sign * t["ci_low"], sign * t["ci_high"]))
                row(unit, ind, "trajectory", **common, value=sign * t["slope"],
                    value_meaning="OLS slope, indicator units per year", cls=t["cls"],
                    degradation=t["deg"], p_value=t["p_value"], ci_low=lo, ci_high=hi,
                    label={-1: "degrading", 0: "stable", 1: "improving"}[t["deg"]],
                    note="class -3..+3 in the better direction (MK p < .10/.05/.01)")
            # state
            state_deg = None
            inb = (yrs >= b0) & (yrs <= b1)
            inr = (yrs >= r0) & (yrs <= r1)
            nb, nr = int(inb.sum()), int(inr.sum())
            st_common = {"n_years": nb + nr, "n_obs": nb + nr, "n_dropped": n_drop}
            if nb < int(opt["min_baseline_years"]) or nr < 1:
                row(unit, ind, "state", **st_common,
                    status=(f"insufficient_data: {nb} baseline years (min "
                            f"{int(opt['min_baseline_years'])}), {nr} recent years (min 1)"))
            else:
                s = state_classes(sign * y[inb], float(np.mean(sign * y[inr])))
                state_deg = s["deg"]
                note = (f"baseline class {s['baseline_class']}, recent class "
                        f"{s['recent_class']}; {nr} of {r_n} recent years present")
                row(unit, ind, "state", **st_common, value=float(s["change"]),
                    value_meaning="recent decile class minus baseline decile class",
                    cls=s["recent_class"], degradation=s["deg"],
                    label={-1: "degraded", 0: "stable", 1: "improved"}[s["deg"]],
                    note="; ".join(x for x in (note, overlap_note) if x))
            # performance
            p = perf.get(unit, {"status": "insufficient_data: unit in no comparison group",
                                "n_units": 0, "group": ""})
            perf_deg = None
            if p["status"] == "ok":
                perf_deg = int(p["deg"])
                row(unit, ind, "performance", **common, n_units=int(p["n_units"]),
                    value=float(p["ratio"]),
                    value_meaning="unit mean / 90th percentile of comparable units' means",
                    cls=perf_deg, degradation=perf_deg,
                    label="degraded" if perf_deg == -1 else "not degraded",
                    note=f"group '{p['group']}', p90 = {p['p90']:.6g}")
            else:
                row(unit, ind, "performance", **common, n_units=int(p["n_units"]),
                    status=p["status"])
            # combined
            cls5, note = combined_class(traj_deg, state_deg, perf_deg)
            if np.isfinite(cls5):
                c = int(cls5)
                row(unit, ind, "sdg_productivity", **common, value=float(c),
                    value_meaning="Trends.Earth productivity class 1..5", cls=c,
                    degradation=-1 if c <= 2 else 1 if c == 5 else 0, label=PROD5_LABELS[c],
                    note=note)
            else:
                row(unit, ind, "sdg_productivity", **common, status=f"insufficient_data: {note}")
            # climate-corrected trajectory
            if not climate:
                row(unit, ind, "trajectory_climate_corrected", **common,
                    status="refused: no climate driver (dictionary domain 'climate') in the study")
                continue
            gc = g[["year", ind] + climate].dropna()
            nc = len(gc)
            cc = {"n_years": nc, "n_obs": nc, "n_dropped": int(len(g) - nc)}
            if nc < max(int(opt["min_years"]), len(climate) + 3):
                row(unit, ind, "trajectory_climate_corrected", **cc,
                    status=(f"insufficient_data: {nc} complete years < "
                            f"{max(int(opt['min_years']), len(climate) + 3)}"))
                continue
            fit = climate_residuals(gc[ind].to_numpy(float), gc[climate].to_numpy(float))
            desc = f"climate drivers {', '.join(climate)}; fit R2 = {fit['r2']:.3f}, p = {fit['p']:.3g}"
            if fit["singular"] or not np.isfinite(fit["p"]):
                row(unit, ind, "trajectory_climate_corrected", **cc,
                    status="refused: climate fit singular or undefined", note=desc)
                continue
            if fit["p"] >= float(opt["climate_alpha"]):
                row(unit, ind, "trajectory_climate_corrected", **cc,
                    status=f"refused: climate fit not significant (p={fit['p']:.2g})", note=desc)
                continue
            t = trajectory_class(gc["year"].to_numpy(float), sign * fit["resid"],
                                 float(opt["ci_level"]))
            lo, hi = sorted((sign * t["ci_low"], sign * t["ci_high"]))
            row(unit, ind, "trajectory_climate_corrected", **cc, value=sign * t["slope"],
                value_meaning="OLS slope of climate-fit residuals, indicator units per year",
                cls=t["cls"], degradation=t["deg"], p_value=t["p_value"], ci_low=lo, ci_high=hi,
                label={-1: "degrading", 0: "stable", 1: "improving"}[t["deg"]],
                note=desc + "; residual trend holds everything outside the climate fit")
    cols = ["study", "unit", "indicator", "term", "higher_is_better", "value", "value_meaning",
            "cls", "degradation", "label", "p_value", "ci_low", "ci_high", "ci_level", "period",
            "baseline", "recent", "n_units", "n_years", "n_obs", "n_dropped", "estimand",
            "status", "note"]
    return {"sdg_terms": pd.DataFrame(rows, columns=cols)}
