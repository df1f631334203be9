"""Trends stage: Mann-Kendall tests, Theil-Sen slopes, detectable trends and correlations.

For each study unit and each study indicator (outcomes, drivers, impacts) this stage reports the
Mann-Kendall (MK) test (Mann 1945; Kendall 1975), either the original test or the Hamed and Rao
(1998, J. Hydrol. 204:182-196) variance correction for autocorrelation (``pymannkendall``), and
the Theil-Sen slope (Theil 1950; Sen 1968) with its interval (``scipy.stats.theilslopes``).

Because short annual series have little power, every row also carries ``detectable_slope``: the
smallest linear trend (units per year) that the two-sided original MK test at 5 % detects with
80 % power, for a series of that length and that unit's residual standard deviation. It comes
from a seeded Monte Carlo under independent Gaussian noise (:func:`detectable_slope_factor`),
so a non-significant trend can be read as "inconclusive" (the slope interval still contains
detectable trends) or "no trend larger than the detectable one" (it does not).

A second table holds Pearson correlations between study variables, pooled over unit-years and
within units (each variable demeaned per unit), in long format.

Options (``DEFAULTS``)
----------------------
mk_variant : {"hamed_rao", "original"}
    MK variant. Hamed-Rao's corrected variance can be undefined (negative) on short series; the
    row then falls back to the original test and says so in ``mk_variant_used`` and ``note``.
alpha : float
    Confidence level of the Theil-Sen slope interval (``ci_low``, ``ci_high``), default 0.95.
min_years : int
    Fewer non-missing years than this gives ``status = "insufficient_data: 5 years < 8"``.
mk_alpha : float
    Significance level of the MK test (``significant``), default 0.05.
power : float
    Power for ``detectable_slope`` (default 0.8).
n_sim : int
    Monte Carlo series per candidate slope for ``detectable_slope`` (default 2000).
corr_alpha : float
    Confidence level of the Fisher-z interval of each correlation (default 0.95).
area : list of str
    Panel columns holding each unit's area (km2), the first present is used for the area
    columns of ``land_condition`` (default ``["area_km2", "land_area_km2"]``; none present:
    area columns empty and the status says so).

Land condition (Trends.Earth style)
-----------------------------------
For each outcome and impact, every unit is classed from its trend row: ``degrading`` when the
MK trend is significant and its Theil-Sen slope points the worse way, ``improving`` when it is
significant and points the better way, ``stable`` otherwise (not significant: "no detectable
change", which with short series is not proof of stability); units whose trend could not be
computed are ``no_data``. "Better" is the indicator's direction in the catalogue (``better:
lower | higher``, data dictionary column ``better``); without it the indicator is not classed
(status says so). ``land_condition_units`` holds one row per unit, ``land_condition`` the counts
and shares of units and of area per class (estimand ``trend``).
"""

from __future__ import annotations

from collections import namedtuple
from functools import lru_cache

import numpy as np
import pandas as pd

from ._common import indicator_meta
from .paneltools import within_frame

STAGE = "trends"

DEFAULTS: dict = {
    "mk_variant": "hamed_rao",
    "alpha": 0.95,
    "min_years": 8,
    "mk_alpha": 0.05,
    "power": 0.8,
    "n_sim": 2000,
    "corr_alpha": 0.95,
    "area": ["area_km2", "land_area_km2"],
}

CONDITION_CLASSES = ("improving", "stable", "degrading")

MK_VARIANTS = ("hamed_rao", "original")


# --------------------------------------------------------------------------- helpers
def study_variables(study: dict, panel: pd.DataFrame | None = None) -> list[tuple[str, str]]:
    """``(indicator, role)`` pairs of a study: outcomes, then impacts, then drivers (no repeats)."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for role, key in (("outcome", "outcomes"), ("impact", "impacts"), ("driver", "drivers")):
        for ind in study.get(key) or []:
            if ind not in seen:
                seen.add(ind)
                out.append((ind, role))
    return out


def restrict(panel: pd.DataFrame, study: dict) -> pd.DataFrame:
    """The study's units and years of ``panel`` (``study["units"]``, ``study["years"]``), sorted."""
    df = panel
    units = study.get("units")
    if units:
        df = df[df["unit"].isin(list(units))]
    years = study.get("years")
    if years:
        df = df[(df["year"] >= int(years[0])) & (df["year"] <= int(years[-1]))]
    return df.sort_values(["unit", "year"]).reset_index(drop=True)


def mk_s(x: np.ndarray) -> float:
    """Mann-Kendall S = sum over i<j of sign(x_j - x_i)."""
    x = np.asarray(x, dtype=float)
    d = np.sign(x[None, :] - x[:, None])
    return float(np.triu(d, 1).sum())


MKResult = namedtuple("MKResult", ["trend", "h", "p", "z", "Tau", "s", "var_s"])


def mk_original_test(x: np.ndarray, alpha: float = 0.05) -> MKResult:
    """The original Mann-Kendall test with the arithmetic of ``pymannkendall.original_test``
    (version 1.4.3), without its Sen slope (which the callers here do not use).

    Same steps on the same values, so every field equals pymannkendall's bit for bit (tested):
    NaNs dropped; ``S`` = :func:`mk_s` (an exact integer in any order of summing); ``var_s = (n(n-1)(2n+5) - sum t(t-1)(2t+5)) / 18`` over tied
    groups ``t``; ``z = (S -+ 1) / sqrt(var_s)`` (0 for S = 0); ``p = 2 (1 - Phi(|z|))``;
    ``Tau = S / (n(n-1)/2)``; ``h = |z| > Phi^-1(1 - alpha/2)``.
    """
    from scipy.stats import norm

    x = np.asarray(x).astype(float)
    if x.ndim == 2 and x.shape[1] == 1:
        x = x.flatten()
    x = x[~np.isnan(x)]
    n = len(x)
    s = mk_s(x) if n > 1 else 0
    unique_x, counts = np.unique(x, return_counts=True)
    if n == len(unique_x):
        var_s = (n * (n - 1) * (2 * n + 5)) / 18
    else:
        tp = counts.astype(float)
        var_s = (n * (n - 1) * (2 * n + 5) - np.sum(tp * (tp - 1) * (2 * tp + 5))) / 18
    tau = s / (.5 * n * (n - 1))
    if s > 0:
        z = (s - 1) / np.sqrt(var_s)
    elif s < 0:
        z = (s + 1) / np.sqrt(var_s)
    else:
        z = 0
    p = 2 * (1 - norm.cdf(abs(z)))
    h = abs(z) > norm.ppf(1 - alpha / 2)
    trend = "decreasing" if (z < 0) and h else "increasing" if (z > 0) and h else "no trend"
    return MKResult(trend, h, p, z, tau, s, var_s)


def mann_kendall(y: np.ndarray, variant: str = "hamed_rao", alpha: float = 0.05) -> dict:
    """Mann-Kendall test of a series in time order (NaN already removed).

    Parameters
    ----------
    y : array
        Values in time order.
    variant : {"hamed_rao", "original"}
        ``pymannkendall.hamed_rao_modification_test`` or the original test
        (:func:`mk_original_test`: pymannkendall's ``original_test`` arithmetic, the same
        numbers, without its Sen slope). If Hamed-Rao's corrected variance is not positive
        (short series), the original test is used instead and ``variant_used``/``note`` say so.
    alpha : float
        Test level.

    Returns
    -------
    dict with ``s, var_s, z, p, tau, trend, variant_used, note``.
    """
    import pymannkendall as pmk

    if variant not in MK_VARIANTS:
        from ..errors import ConfigError

        raise ConfigError("methods.trends.mk_variant", variant, f"one of {MK_VARIANTS}")
    y = np.asarray(y, dtype=float)
    note = ""
    used = variant
    if variant == "hamed_rao":
        with np.errstate(invalid="ignore", divide="ignore"):
            res = pmk.hamed_rao_modification_test(y, alpha=alpha)
        if not np.isfinite(res.p) or not np.isfinite(res.var_s) or res.var_s <= 0:
            note = "hamed_rao variance correction undefined for this series; original MK test used"
            used = "original"
            res = mk_original_test(y, alpha=alpha)
    else:
        res = mk_original_test(y, alpha=alpha)
    return {
        "s": float(res.s),
        "var_s": float(res.var_s),
        "z": float(res.z),
        "p": float(res.p),
        "tau": float(res.Tau),
        "trend": str(res.trend),
        "variant_used": used,
        "note": note,
    }


def mk_z_rows(Y: np.ndarray) -> np.ndarray:
    """Original Mann-Kendall Z (no tie correction, continuity-corrected S) of each row of
    ``Y`` (continuous data, rows in time order); the simulations' vectorised test."""
    n = Y.shape[1]
    iu = np.triu_indices(n, 1)
    s = np.sign(Y[:, iu[1]] - Y[:, iu[0]]).sum(axis=1)
    var_s = n * (n - 1) * (2 * n + 5) / 18.0
    return np.where(s > 0, (s - 1) / np.sqrt(var_s), np.where(s < 0, (s + 1) / np.sqrt(var_s), 0.0))


def _mk_reject(y: np.ndarray, z_crit: float) -> np.ndarray:
    """Vectorised two-sided original MK test (no ties) for rows of ``y``: True where rejected."""
    return np.abs(mk_z_rows(y)) > z_crit


@lru_cache(maxsize=256)
def detectable_slope_factor(
    n: int, power: float = 0.8, alpha: float = 0.05, n_sim: int = 2000, seed: int = 0
) -> float:
    """Smallest standardised slope ``b / sigma`` (per time step) that MK detects with ``power``.

    Simulates ``y_t = c t + e_t`` (t = 0..n-1, e iid N(0, 1)) with common random numbers for all
    ``c`` and finds by bisection the smallest ``c`` whose rejection rate of the two-sided
    original MK test at level ``alpha`` reaches ``power``. MK is invariant to scale, so for a
    series with residual SD ``sigma`` the detectable slope is ``c * sigma``. Equally spaced
    annual steps and serially independent noise are assumed (autocorrelation lowers the power
    further; see Yue, Pilon and Cavadias 2002, J. Hydrol. 259:254-271).

    Returns NaN for ``n < 4``.
    """
    from scipy.stats import norm

    if n < 4:
        return float("nan")
    rng = np.random.default_rng(seed)
    e = rng.standard_normal((n_sim, n))
    t = np.arange(n, dtype=float)
    z_crit = float(norm.ppf(1 - alpha / 2))

    def pw(c: float) -> float:
        return float(_mk_reject(e + c * t, z_crit).mean())

    lo, hi = 0.0, 1.0
    while pw(hi) < power:
        lo, hi = hi, hi * 2
        if hi > 1e6:  # pragma: no cover - n too small to ever reach the power
            return float("nan")
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if pw(mid) >= power:
            hi = mid
        else:
            lo = mid
        if hi - lo < 1e-4 * hi:
            break
    return float(hi)


def _reading(sig: bool, slope: float, lo: float, hi: float, detectable: float) -> str:
    if sig:
        return "increase" if slope > 0 else "decrease"
    if not np.isfinite(detectable) or not np.isfinite(lo):
        return "inconclusive"
    if lo > -detectable and hi < detectable:
        return "no_trend_larger_than_detectable"
    return "inconclusive"


# --------------------------------------------------------------------------- one series
def trend_row(
    years: np.ndarray,
    y: np.ndarray,
    *,
    mk_variant: str = "hamed_rao",
    alpha: float = 0.95,
    min_years: int = 8,
    mk_alpha: float = 0.05,
    power: float = 0.8,
    n_sim: int = 2000,
    seed: int = 0,
    detectable: bool = True,
) -> dict:
    """MK test, Theil-Sen slope and detectable slope of one series (NaNs are dropped first).

    ``detectable=False`` leaves ``detectable_slope`` NaN (no Monte Carlo).

    Returns a dict of the numeric columns of the ``trends`` table (see :func:`compute`).
    """
    from scipy.stats import theilslopes

    years = np.asarray(years, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(y) & np.isfinite(years)
    n_missing = int((~ok).sum())
    years, y = years[ok], y[ok]
    order = np.argsort(years)
    years, y = years[order], y[order]
    n = int(len(y))
    row: dict = {
        "n_years": n,
        "n_missing": n_missing,
        "first_year": int(years[0]) if n else pd.NA,
        "last_year": int(years[-1]) if n else pd.NA,
        "mk_variant": mk_variant,
        "mk_variant_used": pd.NA,
        "mk_s": np.nan,
        "mk_z": np.nan,
        "mk_tau": np.nan,
        "mk_p": np.nan,
        "mk_trend": pd.NA,
        "significant": pd.NA,
        "slope": np.nan,
        "intercept": np.nan,
        "ci_low": np.nan,
        "ci_high": np.nan,
        "ci_level": alpha,
        "slope_per_decade": np.nan,
        "slope_pct_of_mean": np.nan,
        "mean": np.nan,
        "resid_sd": np.nan,
        "detectable_slope": np.nan,
        "reading": pd.NA,
        "status": "ok",
        "note": "",
    }
    if n < min_years:
        row["status"] = f"insufficient_data: {n} years < {min_years}"
        return row
    if np.nanstd(y) == 0:
        row["status"] = "insufficient_data: constant series"
        return row
    mk = mann_kendall(y, mk_variant, mk_alpha)
    ts = theilslopes(y, years, alpha=alpha)
    slope, icpt = float(ts.slope), float(ts.intercept)
    mean = float(np.mean(y))
    resid = y - (icpt + slope * years)
    resid_sd = float(np.std(resid, ddof=2)) if n > 2 else np.nan
    # detectable=False: no Monte Carlo (detectable_slope NaN), see trend_table
    factor = detectable_slope_factor(n, power, mk_alpha, n_sim, seed) if detectable else float("nan")
    detectable = factor * resid_sd
    sig = bool(mk["p"] < mk_alpha)
    row.update(
        {
            "mk_variant_used": mk["variant_used"],
            "mk_s": mk["s"],
            "mk_z": mk["z"],
            "mk_tau": mk["tau"],
            "mk_p": mk["p"],
            "mk_trend": mk["trend"],
            "significant": sig,
            "slope": slope,
            "intercept": icpt,
            "ci_low": float(ts.low_slope),
            "ci_high": float(ts.high_slope),
            "slope_per_decade": 10.0 * slope,
            "slope_pct_of_mean": 100.0 * slope / mean if mean != 0 else np.nan,
            "mean": mean,
            "resid_sd": resid_sd,
            "detectable_slope": detectable,
            "reading": _reading(sig, slope, float(ts.low_slope), float(ts.high_slope), detectable),
            "note": mk["note"],
        }
    )
    if (years[-1] - years[0] + 1) != n:
        row["note"] = (row["note"] + "; " if row["note"] else "") + (
            "years are not consecutive: MK uses the order only; detectable_slope assumes "
            "equally spaced years"
        )
    return row


# --------------------------------------------------------------------------- correlations
def correlations(panel: pd.DataFrame, variables: list[str], alpha: float = 0.95) -> pd.DataFrame:
    """Pearson correlations of ``variables``, pooled and within units (long format).

    For each pair the rows where both are present are used; ``within`` demeans both variables
    per unit on those rows. The Fisher-z interval uses ``n_eff - 3`` degrees of freedom with
    ``n_eff = n_obs`` (pooled) or ``n_obs - n_units + 1`` (within: one mean per unit removed).
    Serial correlation within units is ignored by the interval (it is too narrow then).

    Returns columns ``var1, var2, kind, r, ci_low, ci_high, p_value, n_obs, n_units, n_dropped,
    estimand, status``.
    """
    from scipy.stats import norm
    from scipy.stats import t as tdist

    z = float(norm.ppf(0.5 + alpha / 2))
    rows = []
    for i, a in enumerate(variables):
        for b in variables[i + 1:]:
            both = panel[["unit", "year", a, b]].dropna()
            n_dropped = int(len(panel) - len(both))
            for kind in ("pooled", "within"):
                d = both if kind == "pooled" else within_frame(both, [a, b], two_way=False)
                n_obs, n_units = int(len(d)), int(d["unit"].nunique())
                n_eff = n_obs if kind == "pooled" else n_obs - n_units + 1
                row = {"var1": a, "var2": b, "kind": kind, "r": np.nan, "ci_low": np.nan,
                       "ci_high": np.nan, "p_value": np.nan, "n_obs": n_obs, "n_units": n_units,
                       "n_dropped": n_dropped, "estimand": "association", "status": "ok"}
                if n_eff < 4:
                    row["status"] = f"insufficient_data: {n_eff} effective observations < 4"
                elif d[a].std() == 0 or d[b].std() == 0:
                    row["status"] = "insufficient_data: a constant variable"
                else:
                    r = float(np.corrcoef(d[a], d[b])[0, 1])
                    r = min(max(r, -1.0), 1.0)
                    fz, se = np.arctanh(np.clip(r, -0.999999, 0.999999)), 1 / np.sqrt(n_eff - 3)
                    df_t = n_eff - 2
                    tstat = r * np.sqrt(df_t / max(1e-300, 1 - r * r))
                    row.update({"r": r, "ci_low": float(np.tanh(fz - z * se)),
                                "ci_high": float(np.tanh(fz + z * se)),
                                "p_value": float(2 * tdist.sf(abs(tstat), df_t))})
                rows.append(row)
    cols = ["var1", "var2", "kind", "r", "ci_low", "ci_high", "p_value", "n_obs", "n_units",
            "n_dropped", "estimand", "status"]
    return pd.DataFrame(rows, columns=cols)


# --------------------------------------------------------------------------- stage
def compute(
    panel: pd.DataFrame, dictionary: pd.DataFrame, study: dict, options: dict | None = None
) -> dict[str, pd.DataFrame]:
    """Trend tests per unit and indicator, and correlations of the study variables.

    Parameters
    ----------
    panel : DataFrame
        Wide panel: ``unit``, ``year`` and one column per indicator.
    dictionary : DataFrame
        Indicator dictionary (``indicator, role, domain, measure, ...``).
    study : dict
        ``units``, ``years``, ``outcomes``, ``drivers``, ``impacts``, ``seed``, ``name``.
    options : dict
        Merged over :data:`DEFAULTS`.

    Returns
    -------
    dict with

    ``trends``: one row per unit and indicator: ``study, unit, indicator, role, domain,
    n_units (1), n_years, n_obs, n_missing, first_year, last_year, mk_variant, mk_variant_used,
    mk_s, mk_z, mk_tau, mk_p, mk_trend, significant, slope, intercept (Theil-Sen, units and
    units/yr, intercept at year 0), ci_low, ci_high, ci_level (slope interval), slope_per_decade,
    slope_pct_of_mean (% of the series mean per year), mean, resid_sd, detectable_slope
    (units/yr, 80 % power, MK 5 %), reading (increase | decrease | inconclusive |
    no_trend_larger_than_detectable), estimand ("trend"), status, note``.

    ``correlations``: see :func:`correlations`.

    References
    ----------
    Hamed, K.H. and Rao, A.R. (1998) J. Hydrol. 204:182-196. Sen, P.K. (1968) JASA 63:1379-1389.
    Yue, S., Pilon, P. and Cavadias, G. (2002) J. Hydrol. 259:254-271 (power of MK).
    """
    opt = {**DEFAULTS, **(options or {})}
    df = restrict(panel, study)
    variables = study_variables(study)
    trends = trend_table(df, dictionary, study, opt)
    present_vars = [v for v, _ in variables if v in df.columns]
    corr = correlations(df, present_vars, float(opt["corr_alpha"]))
    corr.insert(0, "study", study.get("name", ""))
    units_cond, cond = land_condition(trends, dictionary, df, list(opt["area"]))
    return {"trends": trends, "correlations": corr, "land_condition_units": units_cond,
            "land_condition": cond, "standardised": standardised_series(df, trends, variables)}


def trend_table(df: pd.DataFrame, dictionary: pd.DataFrame, study: dict, options: dict | None = None,
                *, detectable: bool = True) -> pd.DataFrame:
    """The ``trends`` table of :func:`compute` for a panel already restricted to the study
    (:func:`restrict`): one :func:`trend_row` per study variable and unit.

    ``detectable=False`` skips the Monte Carlo of ``detectable_slope`` (left NaN; ``reading``
    then never says ``no_trend_larger_than_detectable``); every other column is unchanged. The
    validation uses it: it scores slopes, intervals and MK decisions only, and its study seed
    changes with every run, so the cached Monte Carlo would be redone for every run.
    """
    opt = {**DEFAULTS, **(options or {})}
    seed = int(study.get("seed", 0) or 0)
    rows = []
    groups = list(df.groupby("unit", sort=True))
    for ind, role in study_variables(study):
        present = ind in df.columns
        domain = indicator_meta(dictionary, ind, "domain") or None
        for unit, g in groups:
            if present:
                row = trend_row(
                    g["year"].to_numpy(), g[ind].to_numpy(), mk_variant=opt["mk_variant"],
                    alpha=float(opt["alpha"]), min_years=int(opt["min_years"]),
                    mk_alpha=float(opt["mk_alpha"]), power=float(opt["power"]),
                    n_sim=int(opt["n_sim"]), seed=seed, detectable=detectable,
                )
            else:
                row = trend_row(np.array([]), np.array([]), min_years=int(opt["min_years"]))
                row["status"] = "missing: indicator not in panel"
            row = {"study": study.get("name", ""), "unit": unit, "indicator": ind, "role": role,
                   "domain": domain, "n_units": 1, "n_obs": row["n_years"],
                   **row, "estimand": "trend"}
            rows.append(row)
    trends = pd.DataFrame(rows)
    if not trends.empty:
        first = ["study", "unit", "indicator", "role", "domain", "n_units", "n_years", "n_obs"]
        trends = trends[first + [c for c in trends.columns if c not in first]]
    return trends


def standardised_series(panel: pd.DataFrame, trends: pd.DataFrame,
                        variables: list[tuple[str, str]]) -> pd.DataFrame:
    """Each study variable standardised within each unit, ``z = (x - mean) / sd`` over the unit's
    observed years (sample SD), so an outcome and its drivers share one axis; for the rows with
    a Theil-Sen trend, ``trend_z`` is that line (``intercept + slope * year`` from the trends
    table) on the same scale. Columns ``unit, year, indicator, role, value, mean, sd, z,
    trend_z``; a series with fewer than 3 values or no spread has empty ``z``."""
    cols = ["unit", "year", "indicator", "role", "value", "mean", "sd", "z", "trend_z"]
    if trends is None or trends.empty:
        return pd.DataFrame(columns=cols)
    fits = trends.set_index(["unit", "indicator"])
    frames = []
    for ind, role in variables:
        if ind not in panel.columns:
            continue
        for unit, g in panel[["unit", "year", ind]].groupby("unit", sort=True):
            v = g[ind].astype(float)
            n = int(v.notna().sum())
            mu = float(v.mean()) if n else np.nan
            sd = float(v.std(ddof=1)) if n >= 3 else np.nan
            ok = np.isfinite(sd) and sd > 0
            f = pd.DataFrame({"unit": unit, "year": g["year"].to_numpy(), "indicator": ind, "role": role,
                              "value": v.to_numpy(), "mean": mu, "sd": sd,
                              "z": (v.to_numpy() - mu) / sd if ok else np.nan, "trend_z": np.nan})
            key = (unit, ind)
            if ok and key in fits.index and str(fits.loc[key, "status"]).startswith("ok") \
                    and np.isfinite(fits.loc[key, "slope"]):
                r = fits.loc[key]
                line = r["intercept"] + r["slope"] * f["year"].to_numpy(float)
                inside = (f["year"] >= r["first_year"]) & (f["year"] <= r["last_year"])
                f["trend_z"] = np.where(inside, (line - mu) / sd, np.nan)
            frames.append(f)
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


def _better(dictionary: pd.DataFrame, indicator: str) -> str:
    if dictionary is None or "better" not in dictionary.columns:
        return ""
    v = str(indicator_meta(dictionary, indicator, "better") or "").strip().lower()
    return v if v in ("lower", "higher") else ""


def classify_condition(significant: bool, slope: float, better: str, ok: bool) -> str:
    """``improving`` / ``degrading`` for a significant trend the better / worse way, ``stable``
    for a non-significant one, ``no_data`` when the trend was not computed, ``unclassified``
    when the direction is unknown."""
    if not ok or not np.isfinite(slope):
        return "no_data"
    if better not in ("lower", "higher"):
        return "unclassified"
    if not significant or slope == 0:
        return "stable"
    return "improving" if (slope > 0) == (better == "higher") else "degrading"


def land_condition(trends: pd.DataFrame, dictionary: pd.DataFrame, panel: pd.DataFrame,
                   area_columns: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Trends.Earth-style classes per unit and their counts and area shares per indicator
    (outcomes and impacts); see the module docstring."""
    ucols = ["indicator", "role", "unit", "slope_per_decade", "mk_p", "significant", "better",
             "condition", "area_km2", "first_year", "last_year", "estimand", "status"]
    scols = ["indicator", "role", "better", "condition", "n_units", "unit_share", "area_km2",
             "area_share", "units", "n_units_total", "area_column", "estimand", "status"]
    if trends.empty:
        return pd.DataFrame(columns=ucols), pd.DataFrame(columns=scols)
    t = trends[trends["role"].isin(["outcome", "impact"]) & (trends["unit"].astype(str) != "pooled")]
    area_col = next((c for c in area_columns if c in panel.columns), None)
    # a unit's area: its median over the study years (areas are constant up to revisions)
    area = panel.groupby("unit")[area_col].median() if area_col else pd.Series(dtype=float)
    urows, srows = [], []
    for ind, g in t.groupby("indicator", sort=False):
        better = _better(dictionary, ind)
        for _, r in g.iterrows():
            ok = str(r["status"]).startswith("ok")
            cls = classify_condition(bool(r["significant"]) if ok else False, float(r["slope"]), better, ok)
            urows.append({"indicator": ind, "role": r["role"], "unit": r["unit"],
                          "slope_per_decade": r["slope_per_decade"], "mk_p": r["mk_p"],
                          "significant": r["significant"], "better": better or None, "condition": cls,
                          "area_km2": float(area.get(r["unit"], np.nan)), "first_year": r["first_year"],
                          "last_year": r["last_year"], "estimand": "trend", "status": r["status"]})
        u = pd.DataFrame(urows)
        u = u[u["indicator"] == ind]
        classed = u[u["condition"].isin(CONDITION_CLASSES)]
        tot_area = float(classed["area_km2"].sum(min_count=1)) if area_col else np.nan
        status = "ok"
        if not better:
            status = "unclassified: no 'better' direction for this indicator in the catalogue"
        elif (u["condition"] == "no_data").any():
            status = f"ok; {int((u['condition'] == 'no_data').sum())} units without a trend (no_data)"
        if not area_col:
            status += "; no area column in the panel (area shares empty)"
        elif classed["area_km2"].isna().any():
            status += f"; {int(classed['area_km2'].isna().sum())} units without an area (area shares of the rest)"
        for cls in (*CONDITION_CLASSES, "no_data", "unclassified"):
            m = u[u["condition"] == cls]
            if (cls in ("no_data", "unclassified") or not better) and m.empty:
                continue
            a = float(m["area_km2"].sum(min_count=1)) if area_col else np.nan
            srows.append({"indicator": ind, "role": g["role"].iloc[0], "better": better or None,
                          "condition": cls, "n_units": len(m),
                          "unit_share": len(m) / len(classed) if len(classed) and cls in CONDITION_CLASSES else np.nan,
                          "area_km2": a if np.isfinite(a) else (0.0 if area_col and m.empty else np.nan),
                          "area_share": a / tot_area if cls in CONDITION_CLASSES and np.isfinite(a) and tot_area
                          else (0.0 if area_col and m.empty and cls in CONDITION_CLASSES else np.nan),
                          "units": " ".join(sorted(m["unit"].astype(str))), "n_units_total": len(u),
                          "area_column": area_col, "estimand": "trend", "status": status})
    return pd.DataFrame(urows, columns=ucols), pd.DataFrame(srows, columns=scols)
