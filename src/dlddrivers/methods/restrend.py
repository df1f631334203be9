"""RESTREND: residual trends of the outcome after removing its relation to climate.

Per unit and outcome (Evans & Geerken 2004, J. Arid Environ. 57:535; Wessels et al. 2012,
Remote Sens. Environ. 125:10-22; TSS-RESTREND, Burrell, Evans & Liu 2017, RSE 197:43-57):

1. **VPR** (vegetation-precipitation relation, here outcome ~ all *climate-domain* study
   drivers): OLS with intercept on the unit's years. Refused (status ``refused: VPR not
   significant (p=...)``, numbers NaN) when its overall F-test p exceeds ``vpr_alpha``, and
   ``insufficient_data`` with fewer than ``min_years`` complete years: residuals of a model
   that does not explain the outcome mean nothing.
2. **Residual trend**: Theil-Sen slope of the residuals on year with its interval at level
   ``ci`` (``scipy.stats.theilslopes``) and a Mann-Kendall p-value (``pymannkendall``;
   ``mk_test="original"`` or ``"hamed_rao"`` for autocorrelated series). ``residual_change`` =
   slope x (last year - first year); ``residual_intercept`` = median(residual - slope x year),
   the intercept of the Theil-Sen line the figure draws. Estimand ``trend``. The residual trend is
   *non-climatic change* -- everything outside the climate model (land use, grazing, CO2
   fertilisation, omitted climate variables, sensor drift) -- not automatically human; the
   ``note`` column says so.
3. **Chow test** for a break in the climate-outcome relation at every candidate year ``b``
   (segments ``year < b`` and ``year >= b``, each with at least ``min_segment`` years and more
   years than VPR parameters). The most likely break is the year with the largest F; its
   p-value is reported raw (``chow_p``) and **Bonferroni-corrected** over the number of
   candidates (``chow_p_bonferroni``; conservative relative to the sup-F distribution of
   Andrews 1993). A break with ``chow_p_bonferroni < chow_alpha`` is flagged in
   ``break_detected`` and in ``status`` -- RESTREND across a break is unreliable
   (Wessels et al. 2012) -- but the residual trend is still reported, not hidden.
4. **Residual drivers**: pooled within-unit regression (unit fixed effects, no year effects)
   of the residuals of all units with an accepted VPR on the anthropogenic study drivers, via
   :func:`dlddrivers.methods.panel_regression.regress_outcome` (Driscoll-Kraay, clustered if
   enough units, wild cluster bootstrap p and interval). Estimand ``association``. The residuals
   are generated regressors: the standard errors ignore first-stage uncertainty (noted).

Options (``DEFAULTS``)
----------------------
vpr_alpha : float, 0.10
    Refuse a unit when the VPR F-test p exceeds this.
min_years : int, 8
    Fewer complete years: ``insufficient_data``.
min_segment : int, 5
    Minimum years on each side of a Chow break.
chow_alpha : float, 0.05
    Level at which a (Bonferroni-corrected) break is flagged.
ci : float, 0.95
    Level of the Theil-Sen and regression intervals.
mk_test : str, "original"
    ``"original"`` Mann-Kendall or ``"hamed_rao"`` (autocorrelation-corrected).
lags : dict[str, int], {}
    Driver lags (see ``paneltools.add_lags``).
bootstrap_draws : int, 999
    Wild bootstrap draws for ``residual_drivers``.
min_clusters : int, 30
    As in ``panel_regression``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from . import _common as C
from . import inference as I
from . import paneltools as P

DEFAULTS: dict = {
    "vpr_alpha": 0.10,
    "min_years": 8,
    "min_segment": 5,
    "chow_alpha": 0.05,
    "ci": 0.95,
    "mk_test": "original",
    "lags": {},
    "bootstrap_draws": 999,
    "min_clusters": 30,
}

NOTE = ("residual trend = non-climatic change (anything outside the climate model: land use, "
        "grazing, CO2, omitted climate, measurement); not automatically human")

RESTREND_COLUMNS = [
    "outcome", "unit", "climate_drivers", "vpr_r2", "vpr_f", "vpr_p", "residual_slope",
    "ci_low", "ci_high", "ci_level", "residual_change", "slope_unit", "mk_p", "mk_test",
    "break_year", "chow_f", "chow_p", "chow_p_bonferroni", "n_break_candidates",
    "break_detected", "n_units", "n_years", "n_obs", "n_dropped", "status", "note", "estimand",
    "residual_intercept",
]
RESIDUAL_COLUMNS = ["unit", "year", "outcome", "observed", "fitted", "residual"]


def _ols(y: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, float]:
    """Coefficients and residual sum of squares of OLS (X includes the intercept)."""
    b = np.linalg.lstsq(X, y, rcond=None)[0]
    e = y - X @ b
    return b, float(e @ e)


def chow_scan(
    years: np.ndarray, y: np.ndarray, X: np.ndarray, min_segment: int = 5, *,
    with_scan: bool = True,
) -> dict:
    """Chow F test for a break at each candidate year; return the most likely one.

    Parameters
    ----------
    years : (n,) sorted years; y : (n,); X : (n, k) design including the intercept.
    min_segment : minimum observations in each segment (also forced > k).

    Returns
    -------
    dict with ``break_year``, ``chow_f``, ``chow_p`` (raw), ``chow_p_bonferroni``
    (min(1, m * p) over the ``n_break_candidates`` = m candidates) and ``scan``
    (DataFrame year, F, p for every candidate; left out with ``with_scan=False``).

    Notes
    -----
    F = ((S_pooled - S_1 - S_2) / k) / ((S_1 + S_2) / (n - 2k)) ~ F(k, n - 2k) under no break
    (Chow 1960, Econometrica 28:591).
    """
    from scipy import stats

    n, k = X.shape
    seg = max(int(min_segment), k + 1)
    _, s_pool = _ols(y, X)
    cand = range(seg, n - seg + 1)
    fs = np.empty(len(cand))
    for r, i in enumerate(cand):  # one least-squares fit per segment (as many as candidates)
        _, s1 = _ols(y[:i], X[:i])
        _, s2 = _ols(y[i:], X[i:])
        den = (s1 + s2) / (n - 2 * k)
        fs[r] = ((s_pool - s1 - s2) / k) / den if den > 0 else np.inf
    # one vectorised survival-function call: elementwise the same as a scalar call per F
    ps = np.asarray(stats.f.sf(fs, k, n - 2 * k), dtype=float) if len(fs) else fs
    brk_years = np.asarray([int(years[i]) for i in cand], dtype=np.int64)
    out: dict = {}
    if with_scan:
        out["scan"] = pd.DataFrame({"year": brk_years, "F": fs, "p": ps}, columns=["year", "F", "p"])
    m = len(fs)
    if not m:
        return {"break_year": np.nan, "chow_f": np.nan, "chow_p": np.nan,
                "chow_p_bonferroni": np.nan, "n_break_candidates": 0, **out}
    b = int(np.nanargmax(fs))  # the first largest F, NaN skipped (as pandas idxmax)
    return {"break_year": int(brk_years[b]), "chow_f": float(fs[b]), "chow_p": float(ps[b]),
            "chow_p_bonferroni": float(min(1.0, m * float(ps[b]))), "n_break_candidates": m,
            **out}


def trend_line_intercept(resid: np.ndarray, years: np.ndarray, slope: float) -> float:
    """Intercept of the drawn Theil-Sen residual line ``intercept + slope * year``: the median of
    ``resid - slope * year``, so the line passes through the median residual at the median year
    (column ``residual_intercept``, in outcome units at year 0)."""
    return float(np.median(np.asarray(resid, dtype=float) - slope * np.asarray(years, dtype=float)))


def restrend_unit(
    g: pd.DataFrame, outcome: str, climate: Sequence[str], opts: Mapping
) -> tuple[dict, pd.DataFrame]:
    """RESTREND for one unit's complete-case series. Returns (row dict, residual frame)."""
    g = g.sort_values("year")
    row, fitted, resid = restrend_series(g["year"].to_numpy(int), g[outcome].to_numpy(float),
                                         g[list(climate)].to_numpy(float), len(climate), opts)
    if resid is None:  # made only for the units without residuals
        return row, pd.DataFrame(columns=RESIDUAL_COLUMNS)
    years = g["year"].to_numpy(int)
    resid_df = pd.DataFrame({"unit": g["unit"].to_numpy(), "year": years, "outcome": outcome,
                             "observed": g[outcome].to_numpy(float), "fitted": fitted,
                             "residual": resid})
    return row, resid_df


def restrend_series(
    years: np.ndarray, y: np.ndarray, climate_values: np.ndarray, n_climate: int, opts: Mapping,
    *, break_scan: bool = True,
) -> tuple[dict, np.ndarray | None, np.ndarray | None]:
    """:func:`restrend_unit` on arrays: one unit's years (sorted, int), outcome and climate
    drivers (n, ``n_climate``). Returns ``(row dict, fitted, residuals)``; the two arrays are
    None when the unit gets no residuals (refused or too short). ``break_scan=False`` leaves
    out the Chow break scan (its columns stay empty, the status says so); nothing else in the
    row, the fit or the residuals depends on it."""
    import pymannkendall as mk
    import statsmodels.api as sm
    from scipy import stats

    from .trends import mk_original_test

    n = len(y)
    row: dict = {"n_years": n, "n_obs": n, "mk_test": opts["mk_test"]}
    if n < int(opts["min_years"]) or n < n_climate + 3:
        row["status"] = f"insufficient_data: {n} years < {max(int(opts['min_years']), n_climate + 3)}"
        return row, None, None
    X = sm.add_constant(climate_values, has_constant="add")
    if np.linalg.matrix_rank(X) < X.shape[1] or np.std(y) == 0:
        row["status"] = "refused: singular VPR design (constant climate driver or outcome)"
        return row, None, None
    res = sm.OLS(y, X).fit()
    row.update(vpr_r2=float(res.rsquared), vpr_f=float(res.fvalue), vpr_p=float(res.f_pvalue))
    # the break scan runs whatever the VPR: a break is a common reason for a failed VPR
    brk = ""
    if break_scan:
        chow = chow_scan(years, y, X, int(opts["min_segment"]), with_scan=False)
        row.update({k: v for k, v in chow.items() if k != "scan"})
        row["break_detected"] = bool(chow["n_break_candidates"]
                                     and chow["chow_p_bonferroni"] < float(opts["chow_alpha"]))
        brk = (f"break in the climate-outcome relation at {chow['break_year']} "
               f"(Chow F={chow['chow_f']:.1f}, Bonferroni p={chow['chow_p_bonferroni']:.3g})"
               if row["break_detected"] else "")
    if not res.f_pvalue <= float(opts["vpr_alpha"]):
        row["status"] = (f"refused: VPR not significant (p={res.f_pvalue:.2f} > "
                         f"{float(opts['vpr_alpha']):.2f})")
        if brk:
            row["status"] += f"; {brk}: consider a segmented (TSS-)RESTREND"
        return row, None, None
    fitted = res.fittedvalues
    resid = y - fitted
    ci = float(opts["ci"])
    ts = stats.theilslopes(resid, years, alpha=ci)
    # the original test: pymannkendall's arithmetic without its unused Sen slope (same p)
    test = mk.hamed_rao_modification_test if opts["mk_test"] == "hamed_rao" else mk_original_test
    row.update(
        residual_slope=float(ts.slope), ci_low=float(ts.low_slope), ci_high=float(ts.high_slope),
        residual_change=float(ts.slope) * float(years[-1] - years[0]),
        mk_p=float(test(resid).p),
        residual_intercept=trend_line_intercept(resid, years, float(ts.slope)),
    )
    status = "ok"
    if not break_scan:
        status = "ok; Chow test not run (break scan left out)"
    elif brk:
        status = f"ok; {brk}: residual trend across the break is unreliable"
    elif chow["n_break_candidates"] == 0:
        status = (f"ok; Chow test not run ({n} years < 2 x max(min_segment, "
                  f"{X.shape[1] + 1}))")
    row["status"] = status
    return row, fitted, resid


def compute(
    panel: pd.DataFrame, dictionary: pd.DataFrame, study: Mapping, options: Mapping | None = None,
    *, break_scan: bool = True,
) -> dict[str, pd.DataFrame]:
    """RESTREND per unit and outcome, residual series, and residuals ~ anthropogenic drivers.

    Returns ``{"restrend": ..., "residual_drivers": ..., "residuals": ...}`` with columns
    :data:`RESTREND_COLUMNS`, ``panel_regression.COEF_COLUMNS`` + ``note``, and
    :data:`RESIDUAL_COLUMNS`. ``break_scan=False`` leaves out the Chow break scan (for callers
    that read none of its columns, as the validation harness; see :func:`restrend_series`).
    """
    from .panel_regression import COEF_COLUMNS, regress_outcome
    from .panel_regression import DEFAULTS as PR_DEFAULTS

    opts = C.merge_options(DEFAULTS, options)
    outcomes = C.study_columns(study, dictionary, panel, "outcomes", "outcome")
    drivers = C.study_columns(study, dictionary, panel, "drivers", "driver")
    lagged, mapping = P.add_lags(panel, opts.get("lags"))
    xs = [mapping.get(d, d) for d in drivers]
    climate, anthro = C.split_drivers(dictionary, xs)
    rows, resids, drv = [], [], []
    for y in outcomes:
        measure = C.indicator_meta(dictionary, y, "measure", "outcome units")
        if not climate:
            rows.append({"outcome": y, "unit": "all", "status": "refused: no climate-domain driver in the study"})
            continue
        df, _ = P.complete_cases(lagged, [y, *climate])
        # rows per unit found once (the complete-case frame's units are str, as the keys); the
        # frame is sorted by unit and year, so a unit's rows are its series in year order
        rows_of = df.groupby("unit", sort=False).indices
        n_rows = lagged["unit"].astype(str).value_counts(dropna=False)
        years_all = df["year"].to_numpy(int)
        y_all = df[y].to_numpy(float)
        c_all = df[list(climate)].to_numpy(float)
        units_all = df["unit"].to_numpy()
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for unit in sorted(n_rows.index):
            idx = rows_of[unit] if unit in rows_of else np.arange(0)
            n_all = int(n_rows[unit])
            # F order, as a unit frame's to_numpy gives it (the VPR design's layout decides
            # the BLAS path of its products: same layout, same last bits)
            r, fitted, resid = restrend_series(years_all[idx], y_all[idx],
                                               np.asfortranarray(c_all[idx]), len(climate), opts,
                                               break_scan=break_scan)
            rows.append({"outcome": y, "unit": unit, "climate_drivers": ",".join(climate),
                         "ci_level": float(opts["ci"]), "slope_unit": f"{measure} per year",
                         "n_units": 1, "n_dropped": n_all - len(idx), "note": NOTE,
                         "estimand": "trend", **r})
            if resid is None:  # an empty residual frame, as restrend_unit gives
                resids.append(pd.DataFrame(columns=RESIDUAL_COLUMNS))
            else:
                parts.append((idx, fitted, resid))
        if parts:  # one frame of every unit's residuals, as the per-unit frames concatenated
            idx = np.concatenate([p_[0] for p_ in parts])
            resids.append(pd.DataFrame({
                "unit": units_all[idx], "year": years_all[idx], "outcome": y,
                "observed": y_all[idx], "fitted": np.concatenate([p_[1] for p_ in parts]),
                "residual": np.concatenate([p_[2] for p_ in parts])}))
        # residuals ~ anthropogenic drivers
        res_all = pd.concat(resids, ignore_index=True) if resids else pd.DataFrame(columns=RESIDUAL_COLUMNS)
        res_y = res_all[res_all["outcome"] == y]
        if anthro and len(res_y):
            m = res_y[["unit", "year", "residual"]].merge(lagged[["unit", "year", *anthro]],
                                                           on=["unit", "year"], how="left")
            ropts = {**PR_DEFAULTS, **{k: opts[k] for k in ("bootstrap_draws", "ci", "min_clusters")},
                     "time_effects": False, "unit_rows": False}  # per-unit fits unused here
            rng = I.rng_from(study, I.stable_offset("restrend", y))
            coef, _ = regress_outcome(m, dictionary, "residual", anthro, ropts, rng)
            coef = coef.assign(outcome=f"{y} (RESTREND residual)",
                               note=NOTE + "; residuals are generated regressors (first-stage "
                               "uncertainty not in the SE)")
            drv.append(coef)
        elif anthro:
            drv.append(pd.DataFrame([{"outcome": f"{y} (RESTREND residual)", "driver": d,
                                      "status": "refused: no unit with an accepted VPR",
                                      "estimand": "association"} for d in anthro]))
    rest = pd.DataFrame(rows).reindex(columns=RESTREND_COLUMNS)
    residuals = (pd.concat(resids, ignore_index=True) if resids else pd.DataFrame(columns=RESIDUAL_COLUMNS))
    rd_cols = [*COEF_COLUMNS, "note"]
    rdrv = pd.concat(drv, ignore_index=True).reindex(columns=rd_cols) if drv else pd.DataFrame(columns=rd_cols)
    return {"restrend": rest, "residual_drivers": rdrv, "residuals": residuals.reindex(columns=RESIDUAL_COLUMNS)}
