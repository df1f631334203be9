"""Ground-truth validation: how far each attribution and causal method can be trusted.

Every scenario of the grid (``config/validation.yaml``) is simulated with
:mod:`dlddrivers.synthetic` (known truth) and run through the public functions of the
attribution and causal stages; each estimate is compared with its truth.

Methods and quantities (``recovery.csv`` rows)
----------------------------------------------
``lmg`` (:func:`dlddrivers.methods.relative_importance.compute`)
    ``anthropogenic_share_variance``: group row ``anthropogenic``; truth ``share_variance``.
``fixed_effects`` (:func:`dlddrivers.methods.panel_regression.compute`)
    ``coef_herd``, ``coef_mining`` (wild cluster bootstrap-t interval): truth the direct
    effects. ``anthropogenic_share_signal_variance`` = ``Var(b_h'h)/(Var(b_h'h)+Var(b_c'c))``
    from the FE coefficients and the sample within covariance (no covariance term); interval
    by parametric draws of the coefficients from independent normals with the Driscoll-Kraay SE
    (a harness construction, recorded in ``status``); truth ``share_signal_variance``.
``restrend`` (:func:`dlddrivers.methods.restrend.compute`)
    ``residual_change``: mean over units with an accepted VPR of the residual Theil-Sen change;
    interval mean +/- t SE across units; truth ``change_anthropogenic`` (everything non-climatic
    is anthropogenic in the simulator). ``unit_coverage`` is the share of unit intervals that
    cover the truth. ``residual_coef_herd``: residual-driver regression; truth ``b_herd``.
``trend_decomposition`` / ``counterfactual`` (:func:`dlddrivers.methods.attribution.compute`)
    pooled rows: ``anthropogenic_change`` (truth ``change_anthropogenic``),
    ``anthropogenic_share_trend`` (their ``anthropogenic_share_of_observed``; truth
    ``share_trend``), ``climate_share_predicted_change`` (truth ``cf_climate_share``).
``trend_test`` (:func:`dlddrivers.methods.trends.compute`)
    ``outcome_slope``: mean unit Theil-Sen slope of the outcome, interval across units, truth
    ``outcome_slope``; ``unit_coverage`` of the unit intervals; ``detection_rate`` in
    ``status``.
``dowhy`` (:func:`dlddrivers.causal.effects.estimate_pair`, the causal stage's per-pair
estimator with its refuters) ``effect_herd``, ``effect_mining``: total causal effects.

Detection power
---------------
:func:`power_curve` / :func:`detectable_effect`: a known degradation (``gradual`` linear decline
or ``abrupt`` step at mid-series) of total size ``effect`` is added to series of ``n_years`` with
Gaussian noise of SD ``noise_sd`` (and, for RESTREND, a climate signal that the VPR removes).
Detection = two-sided Mann-Kendall (original) at 5 % significant in the direction of the
degradation; for RESTREND additionally the VPR F-test must pass (p <= 0.10) and the MK test is
run on the VPR residuals, exactly as in :mod:`dlddrivers.methods.restrend` (vectorised here).

How the summary uses it: for a unit whose trend (or residual trend) is not significant, compute
``d = detectable_effect(n_years, resid_sd, kind)`` with the unit's series length and residual
SD; write "cannot detect a change smaller than d (80 % power)" -- never "no change" -- unless
the Theil-Sen interval of the change lies inside (-d, d).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from functools import lru_cache
from itertools import product

import numpy as np
import pandas as pd

from . import synthetic as S

#: Method options used for validation runs (fewer draws than the study defaults; recorded in
#: every output row's ``options`` column).
#: Draw counts: the finite-draw coverage shortfall of a percentile interval (about 1.8 / B) at
#: most half the Monte Carlo SE of the pooled coverage (see ``config/validation.yaml``), except
#: the attribution stage, whose draws dominate the validation's time.
VALIDATION_OPTIONS: dict[str, dict] = {
    "relative_importance": {"bootstrap_draws": 199},
    "panel_regression": {"bootstrap_draws": 199, "unit_rows": False},
    "restrend": {"bootstrap_draws": 199},
    "attribution": {"bootstrap_draws": 49, "unit_rows": False},
    "trends": {"mk_variant": "original", "n_sim": 500},
    "causal": {"refuter_simulations": 5, "sensitivity_strengths": [0.25, 0.5, 1.0]},
}

RECOVERY_COLUMNS = [
    "scenario", "seed", "method", "quantity", "true_value", "estimate", "bias", "abs_error",
    "ci_low", "ci_high", "covers", "unit_coverage", "status", "n_units", "n_years",
    "anthropogenic_share", "confounding", "noise", "hidden", "collinearity", "year_trend",
    "null_anthropogenic", "options",
]

SUMMARY_COLUMNS = [
    "scenario", "method", "quantity", "n_units", "n_years", "anthropogenic_share",
    "confounding", "noise", "hidden", "collinearity", "year_trend", "null_anthropogenic",
    "mean_bias", "rmse", "mean_abs_error",
    "coverage", "coverage_ci_low", "coverage_ci_high", "n_covers_defined", "mean_ci_width",
    "n_seeds", "n_ok",
]


def wilson_interval(k: float, n: float, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``k / n`` (NaN when ``n == 0``)."""
    from scipy import stats

    if not n:
        return float("nan"), float("nan")
    z = float(stats.norm.ppf(0.5 + level / 2))
    p = k / n
    den = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / den
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / den
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


# --------------------------------------------------------------------------- grid
def scenario_grid(cfg: Mapping) -> list[S.Scenario]:
    """Scenarios of the validation config: the full factorial of ``grid`` plus ``extra``.

    ``cfg["grid"]`` maps ``anthropogenic_share, confounding, noise, n_units, n_years`` to lists;
    ``cfg.get("extra")`` lists named scenarios (any :class:`~dlddrivers.synthetic.Scenario`
    field). Names encode the factors: ``s0.5_conf1_nlow_u21_y30``.
    """
    g = cfg["grid"]
    out = []
    for sh, conf, noise, nu, ny in product(g["anthropogenic_share"], g["confounding"], g["noise"],
                                           g["n_units"], g["n_years"]):
        name = f"s{sh}_conf{int(bool(conf))}_n{noise}_u{nu}_y{ny}"
        out.append(S.Scenario(name=name, anthropogenic_share=float(sh), confounding=bool(conf),
                              noise=str(noise), n_units=int(nu), n_years=int(ny)))
    for spec in cfg.get("extra") or []:
        spec = {k: v for k, v in dict(spec).items() if k != "seeds"}
        out.append(S.Scenario(**spec))
    return out


def run_jobs(cfg: Mapping) -> list[tuple[str, int]]:
    """Every (scenario, seed) job: grid scenarios with the global seeds; an ``extra`` scenario
    may ask for its own number of seeds (``seeds: 5``), from the same ``base_seed``."""
    base = seeds_of(cfg)
    own = {str(s["name"]): int(s["seeds"]) for s in (cfg.get("extra") or []) if "seeds" in s}
    b0 = int(cfg.get("base_seed", 20261125))
    return [(sc.name, seed) for sc in scenario_grid(cfg)
            for seed in ([b0 + k for k in range(own[sc.name])] if sc.name in own else base)]


def seeds_of(cfg: Mapping, base_seed: int = 20261125) -> list[int]:
    """Seeds of every scenario: ``base_seed + k`` for k < ``cfg["seeds"]``."""
    return [int(cfg.get("base_seed", base_seed)) + k for k in range(int(cfg["seeds"]))]


def method_options(cfg: Mapping | None = None) -> dict[str, dict]:
    """:data:`VALIDATION_OPTIONS` updated by ``cfg["methods"]`` (per stage)."""
    out = {k: dict(v) for k, v in VALIDATION_OPTIONS.items()}
    for k, v in ((cfg or {}).get("methods") or {}).items():
        out.setdefault(k, {}).update(dict(v or {}))
    return out


# --------------------------------------------------------------------------- runners
def _row(method: str, quantity: str, truth: float, est: float, lo: float = np.nan,
         hi: float = np.nan, status: str = "ok", unit_coverage: float = np.nan) -> dict:
    est = float(est) if est is not None and pd.notna(est) else np.nan
    lo = float(lo) if pd.notna(lo) else np.nan
    hi = float(hi) if pd.notna(hi) else np.nan
    covers = bool(lo <= truth <= hi) if np.isfinite(lo) and np.isfinite(hi) else pd.NA
    return {"method": method, "quantity": quantity, "true_value": float(truth), "estimate": est,
            "bias": est - truth, "abs_error": abs(est - truth), "ci_low": lo, "ci_high": hi,
            "covers": covers, "unit_coverage": unit_coverage, "status": status}


def _mean_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    from scipy import stats

    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if len(v) < 2:
        return (float(v.mean()) if len(v) else np.nan), np.nan, np.nan
    m = float(v.mean())
    h = float(stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return m, m - h, m + h


def run_lmg(panel, dic, study, truth: S.Truth, opts) -> list[dict]:
    from .methods import relative_importance as RI

    t = RI.compute(panel, dic, study, opts)["shares"]
    if "variation" in t.columns:
        t = t[t["variation"].fillna("levels") == "levels"]
    r = t[(t["level"] == "group") & (t["predictor"] == "anthropogenic")].iloc[0]
    rows = [_row("lmg", "anthropogenic_share_variance", truth.share_variance, r["share"],
                 r["share_ci_low"], r["share_ci_high"], f"{r['status']}; flag={r.get('flag', '')}")]
    cal = str(r.get("calibration", ""))
    if cal in ("exceeds_placebo", "indistinguishable_from_placebo"):
        # 1 = the calibrated statement calls the anthropogenic share a finding; truth 1 when the
        # anthropogenic drivers act on the outcome, 0 in a placebo scenario (mean = error rate)
        rows.append(_row("lmg", "anthropogenic_share_exceeds_placebo",
                         float(truth.share_variance > 0.01), float(cal == "exceeds_placebo"),
                         status=f"ok; exceedance={r['placebo_exceedance']:.3g}; "
                                f"placebo_p95={r['placebo_p95']:.3g}"))
    return rows


def run_fixed_effects(panel, dic, study, truth: S.Truth, opts, seed: int) -> list[dict]:
    from .methods import panel_regression as PR
    from .methods import paneltools as P

    t = PR.compute(panel, dic, study, opts)["coefficients"].set_index("driver")
    rows = [_row("fixed_effects", f"coef_{d}", truth.effect_direct[d], t.loc[d, "coef"],
                 t.loc[d, "ci_low"], t.loc[d, "ci_high"], str(t.loc[d, "status"]))
            for d in S.ANTHRO]
    # share of signal variance implied by the FE coefficients
    df, _ = P.complete_cases(panel, list(S.DRIVERS))
    W = P.within(df[list(S.DRIVERS)].to_numpy(float), P.codes(df["unit"]), P.codes(df["year"]))
    cov = np.cov(W.T, bias=True)
    b = t.loc[list(S.DRIVERS), "coef"].to_numpy(float)
    se = t.loc[list(S.DRIVERS), "se_dk"].to_numpy(float)

    def share(bb: np.ndarray) -> np.ndarray:
        bb = np.atleast_2d(bb)
        h = np.einsum("bi,ij,bj->b", bb[:, 2:], cov[2:, 2:], bb[:, 2:])
        c = np.einsum("bi,ij,bj->b", bb[:, :2], cov[:2, :2], bb[:, :2])
        return h / (h + c)

    rng = np.random.default_rng([seed, 61])
    draws = share(b + se * rng.standard_normal((2000, 4)))
    lo, hi = np.nanquantile(draws, [0.025, 0.975])
    rows.append(_row("fixed_effects", "anthropogenic_share_signal_variance",
                     truth.share_signal_variance, float(share(b)[0]), lo, hi,
                     "ok; interval: parametric draws from independent normals with DK SE "
                     "(validation harness)"))
    return rows


def run_restrend(panel, dic, study, truth: S.Truth, opts) -> list[dict]:
    from .methods import restrend as RT

    # the scored columns (residual change, its interval, refusals) do not depend on the Chow
    # break scan, which is left out here
    out = RT.compute(panel, dic, study, opts, break_scan=False)
    t = out["restrend"]
    ok = t[t["status"].astype(str).str.startswith("ok")]
    n_ref = int(len(t) - len(ok))
    status = f"ok; {len(ok)} of {len(t)} units with accepted VPR ({n_ref} refused)"
    rows = []
    if len(ok):
        span = float(t["n_years"].max() - 1)
        m, lo, hi = _mean_ci(ok["residual_change"].to_numpy(float))
        uc = float(((ok["ci_low"] * span <= truth.change_anthropogenic)
                    & (truth.change_anthropogenic <= ok["ci_high"] * span)).mean())
        rows.append(_row("restrend", "residual_change", truth.change_anthropogenic, m, lo, hi,
                         status, uc))
    else:
        rows.append(_row("restrend", "residual_change", truth.change_anthropogenic, np.nan,
                         status=f"refused: all {len(t)} units"))
    rd = out["residual_drivers"]
    rd = rd[rd["driver"] == "herd"]
    if len(rd):
        r = rd.iloc[0]
        rows.append(_row("restrend", "residual_coef_herd", truth.effect_direct["herd"], r["coef"],
                         r["ci_low"], r["ci_high"], str(r["status"])))
    return rows


def run_attribution(panel, dic, study, truth: S.Truth, opts) -> list[dict]:
    from .methods import attribution as AT

    # the scored rows (trend decomposition, counterfactual) do not depend on the stage's LMG
    # rows, which are left out here (the LMG is validated by run_lmg)
    t = AT.compute(panel, dic, study, opts, lmg=False)["attribution"]
    p = t[t["unit"] == "pooled"].set_index("quantity")
    rows = []
    for method, q, src, tv in (
        ("trend_decomposition", "anthropogenic_change", "anthropogenic", truth.change_anthropogenic),
        ("trend_decomposition", "anthropogenic_share_trend", "anthropogenic_share_of_observed",
         truth.share_trend),
        ("counterfactual", "climate_share_predicted_change", "climate_share_of_predicted_change",
         truth.cf_climate_share),
    ):
        if src in p.index:
            r = p.loc[src]
            rows.append(_row(method, q, tv, r["value"], r["ci_low"], r["ci_high"], str(r["status"])))
        else:
            rows.append(_row(method, q, tv, np.nan, status="missing: no pooled row"))
    return rows


def run_trend_test(panel, dic, study, truth: S.Truth, opts) -> list[dict]:
    from .methods import trends as TR

    st = {**study, "drivers": [], "impacts": []}
    # the trends table of TR.compute (the other tables and detectable_slope are not scored)
    t = TR.trend_table(TR.restrict(panel, st), dic, st, opts, detectable=False)
    t = t[(t["indicator"] == S.OUTCOME) & (t["status"] == "ok")]
    m, lo, hi = _mean_ci(t["slope"].to_numpy(float))
    uc = float(((t["ci_low"] <= truth.outcome_slope) & (truth.outcome_slope <= t["ci_high"])).mean())
    det = float((t["significant"].astype(bool) & (np.sign(t["slope"]) == np.sign(truth.outcome_slope))).mean())
    return [_row("trend_test", "outcome_slope", truth.outcome_slope, m, lo, hi,
                 f"ok; detection_rate={det:.3f} (units with a significant MK trend of the true sign)",
                 uc)]


def run_dowhy(panel, dic, study, truth: S.Truth, opts, graph) -> list[dict]:
    from .causal.effects import estimate_pair, pair_seed
    from .causal.stage import merge_options

    o = merge_options(opts)
    rows = []
    for d in S.ANTHRO:
        r, _ = estimate_pair(panel, graph, d, S.OUTCOME, o, pair_seed(int(study["seed"]), d, S.OUTCOME))
        st = f"{r['status']}; refuters passed {r.get('refuters_passed', '')}; adjustment {{{r['adjustment_set']}}}"
        rows.append(_row("dowhy", f"effect_{d}", truth.effect_total[d], r["effect"], r["ci_low"],
                         r["ci_high"], st))
    return rows


METHODS = ("lmg", "fixed_effects", "restrend", "attribution", "trend_test", "dowhy")


def run_scenario(sc: S.Scenario, seed: int, options: Mapping[str, Mapping] | None = None,
                 methods: Sequence[str] = METHODS, graph=None) -> pd.DataFrame:
    """Simulate scenario ``sc`` with ``seed`` and run ``methods``; rows of ``recovery.csv``.

    ``graph`` overrides the causal graph given to DoWhy (default: the true graph). A method
    that raises gets one row with ``status="error: ..."`` (the validation records failures,
    it does not hide them). :func:`run_scenario_seeds` does the same for several seeds.
    """
    return run_scenario_seeds(sc, [seed], options, methods, graph)[0]


def run_scenario_seeds(sc: S.Scenario, seeds: Sequence[int],
                       options: Mapping[str, Mapping] | None = None,
                       methods: Sequence[str] = METHODS, graph=None) -> list[pd.DataFrame]:
    """:func:`run_scenario` for every seed in ``seeds`` (same order), with the per-scenario work
    done once: the scenario is calibrated once and the panels of all seeds are simulated as one
    array (:func:`dlddrivers.synthetic.simulate_seeds`, identical panels). Each table equals
    ``run_scenario(sc, seed, ...)``."""
    opts = method_options({"methods": options or {}})
    panels, truth = S.simulate_seeds(sc, [int(s) for s in seeds], S.calibrate(sc))
    dic = S.dictionary()
    g = graph if graph is not None else S.graph()
    opt_text = ";".join(f"{k}={v}" for k, v in sorted(opts.items()))
    return [_run_panel(sc, int(seed), panel, truth, dic, opts, opt_text, methods, g)
            for seed, panel in zip(seeds, panels, strict=True)]


def _run_panel(sc: S.Scenario, seed: int, panel: pd.DataFrame, truth: S.Truth,
               dic: pd.DataFrame, opts: Mapping[str, Mapping], opt_text: str,
               methods: Sequence[str], g) -> pd.DataFrame:
    """Every method in ``methods`` on one simulated panel; rows of ``recovery.csv``."""
    study = S.study(sc, seed)
    calls = {
        "lmg": lambda: run_lmg(panel, dic, study, truth, opts["relative_importance"]),
        "fixed_effects": lambda: run_fixed_effects(panel, dic, study, truth, opts["panel_regression"], seed),
        "restrend": lambda: run_restrend(panel, dic, study, truth, opts["restrend"]),
        "attribution": lambda: run_attribution(panel, dic, study, truth, opts["attribution"]),
        "trend_test": lambda: run_trend_test(panel, dic, study, truth, opts["trends"]),
        "dowhy": lambda: run_dowhy(panel, dic, study, truth, opts["causal"], g),
    }
    rows = []
    for m in methods:
        t0 = time.perf_counter()
        try:
            rs = calls[m]()
        except Exception as exc:  # recorded, not hidden
            rs = [{"method": m, "quantity": "all", "status": f"error: {type(exc).__name__}: {exc}"}]
        # timings go to the job's log, never into the table (tables repeat bit for bit)
        logging.getLogger("dlddrivers.validation").info(
            "%s %s seed %d: %s in %.3f s", sc.name, m, int(seed), m, time.perf_counter() - t0)
        rows.extend(rs)
    df = pd.DataFrame(rows)
    df = df.assign(scenario=sc.name, seed=int(seed), n_units=sc.n_units, n_years=sc.n_years,
                   anthropogenic_share=sc.anthropogenic_share, confounding=sc.confounding,
                   noise=str(sc.noise), hidden=sc.hidden, collinearity=sc.collinearity,
                   year_trend=sc.year_trend, null_anthropogenic=bool(sc.null_anthropogenic),
                   options=opt_text)
    return df.reindex(columns=RECOVERY_COLUMNS)


# --------------------------------------------------------------------------- summaries
def summarise(recovery: pd.DataFrame) -> pd.DataFrame:
    """Per scenario, method and quantity: mean bias, RMSE, mean |error|, interval coverage,
    mean interval width, ``n_seeds`` and ``n_ok`` (seeds with a finite estimate)."""
    keys = ["scenario", "method", "quantity", "n_units", "n_years", "anthropogenic_share",
            "confounding", "noise", "hidden", "collinearity", "year_trend", "null_anthropogenic"]
    r = recovery.copy()
    for k, v in (("year_trend", 0.0), ("null_anthropogenic", False)):
        if k not in r.columns:
            r[k] = v
    r["width"] = r["ci_high"] - r["ci_low"]
    r["cov_num"] = pd.to_numeric(r["covers"].astype("object").where(r["covers"].notna()),
                                 errors="coerce").astype(float)
    out = []
    for k, g in r.groupby(keys, dropna=False, sort=True):
        fin = g[np.isfinite(g["estimate"].astype(float))]
        cov = g["cov_num"].dropna()
        wlo, whi = wilson_interval(float(cov.sum()), float(len(cov)))
        out.append({**dict(zip(keys, k, strict=True)),
                    "coverage_ci_low": wlo, "coverage_ci_high": whi,
                    "n_covers_defined": int(len(cov)),
                    "mean_bias": float(fin["bias"].mean()) if len(fin) else np.nan,
                    "rmse": float(np.sqrt((fin["bias"] ** 2).mean())) if len(fin) else np.nan,
                    "mean_abs_error": float(fin["abs_error"].mean()) if len(fin) else np.nan,
                    "coverage": float(g["cov_num"].mean()) if g["cov_num"].notna().any() else np.nan,
                    "mean_ci_width": float(fin["width"].mean()) if len(fin) else np.nan,
                    "n_seeds": int(g["seed"].nunique()), "n_ok": int(len(fin))})
    return pd.DataFrame(out, columns=SUMMARY_COLUMNS)


def by_factor(recovery: pd.DataFrame, factor: str = "n_units") -> pd.DataFrame:
    """Pooled over all other factors: mean bias, RMSE, coverage per method, quantity and
    ``factor`` level (what the figure shows), with the number of runs ``n_runs``."""
    r = recovery.copy()
    r["cov_num"] = pd.to_numeric(r["covers"].astype("object").where(r["covers"].notna()),
                                 errors="coerce").astype(float)
    r = r[np.isfinite(r["estimate"].astype(float))]
    g = r.groupby(["method", "quantity", factor])
    out = g.agg(mean_bias=("bias", "mean"), mean_abs_error=("abs_error", "mean"),
                coverage=("cov_num", "mean"), n_covers=("cov_num", "sum"),
                n_covers_defined=("cov_num", "count"), n_runs=("bias", "size")).reset_index()
    out["rmse"] = g["bias"].apply(lambda b: float(np.sqrt((b**2).mean()))).to_numpy()
    ci = [wilson_interval(k, n) for k, n in zip(out["n_covers"], out["n_covers_defined"], strict=True)]
    out["coverage_ci_low"] = [c[0] for c in ci]
    out["coverage_ci_high"] = [c[1] for c in ci]
    return out


def study_shapes(cfg: Mapping) -> dict[str, tuple[int, int]]:
    """Units x years of every panel study the config runs (the shapes ``expected_error.csv``
    reports): the number of configured units and the length of the configured period."""
    out: dict[str, tuple[int, int]] = {}
    for name in cfg.get("run") or []:
        st = (cfg.get("studies") or {}).get(name) or {}
        if st.get("level") in ("grid", "pixel") or not st.get("years") or not st.get("units"):
            continue
        y0, y1 = (int(y) for y in st["years"])
        out[name] = (len(st["units"]), y1 - y0 + 1)
    return out


def expected_error(summary: pd.DataFrame, shapes: Mapping[str, tuple[int, int]],
                   *, confounding: bool = True, noise: str | None = None) -> pd.DataFrame:
    """Expected absolute error and interval coverage per study shape and method quantity.

    The nearest grid shape is chosen by distance in ``(log units, log years)``; rows of that
    shape (with ``confounding``; all noise levels and shares unless ``noise`` is given) are
    pooled, weighting scenarios by ``n_ok``. Columns: ``study, n_units, n_years, grid_n_units,
    grid_n_years, method, quantity, expected_abs_error, rmse, mean_bias, coverage,
    coverage_ci_low, coverage_ci_high (Wilson, over the pooled runs with an interval),
    n_scenarios, n_runs, note``.
    """
    s = summary[(summary["hidden"] == 0) & (summary["collinearity"] == S.Scenario().collinearity)]
    s = s[_standard(s)]
    s = s[s["confounding"].astype(bool) == bool(confounding)]
    if noise is not None:
        s = s[s["noise"] == noise]
    shapes_grid = s[["n_units", "n_years"]].drop_duplicates().to_numpy(float)
    rows = []
    for study, (nu, ny) in shapes.items():
        if not len(shapes_grid):
            break
        d = np.hypot(np.log(shapes_grid[:, 0] / nu), np.log(shapes_grid[:, 1] / ny))
        gu, gy = shapes_grid[int(np.argmin(d))]
        sub = s[(s["n_units"] == gu) & (s["n_years"] == gy)]
        for (m, q), g in sub.groupby(["method", "quantity"]):
            w = g["n_ok"].to_numpy(float)
            if w.sum() == 0:
                continue

            def wmean(col, g=g, w=w):
                v = g[col].to_numpy(float)
                ok = np.isfinite(v) & (w > 0)
                return float(np.average(v[ok], weights=w[ok])) if ok.any() else np.nan

            rows.append({"study": study, "n_units": nu, "n_years": ny, "grid_n_units": int(gu),
                         "grid_n_years": int(gy), "method": m, "quantity": q,
                         "expected_abs_error": wmean("mean_abs_error"),
                         "rmse": float(np.sqrt(wmean_sq_of(g, w))),
                         "mean_bias": wmean("mean_bias"), "coverage": wmean("coverage"),
                         **_pooled_wilson(g),
                         "n_scenarios": int(len(g)), "n_runs": int(w.sum()),
                         "note": (f"nearest grid shape {int(gu)}x{int(gy)}; confounding "
                                  f"{'on' if confounding else 'off'}; pooled over shares"
                                  f"{'' if noise else ' and noise levels'}")})
    return pd.DataFrame(rows)


def _standard(t: pd.DataFrame) -> pd.Series:
    """Rows of the standard grid (no trending year effects, not a placebo world): the special
    scenarios are reported per scenario (``summary.csv``), not pooled into the expected error."""
    ok = pd.Series(True, index=t.index)
    if "year_trend" in t.columns:
        ok &= t["year_trend"].fillna(0).astype(float) == 0
    if "null_anthropogenic" in t.columns:
        ok &= ~t["null_anthropogenic"].fillna(False).astype(str).str.lower().isin(["true", "1", "1.0"])
    return ok


def _pooled_wilson(g: pd.DataFrame) -> dict[str, float]:
    """Wilson interval of the coverage pooled over summary rows (runs with an interval)."""
    if "n_covers_defined" not in g.columns:
        return {"coverage_ci_low": np.nan, "coverage_ci_high": np.nan}
    n = g["n_covers_defined"].to_numpy(float)
    c = g["coverage"].to_numpy(float)
    ok = np.isfinite(c) & (n > 0)
    lo, hi = wilson_interval(float((c[ok] * n[ok]).sum()), float(n[ok].sum()))
    return {"coverage_ci_low": lo, "coverage_ci_high": hi}


def wmean_sq_of(g: pd.DataFrame, w: np.ndarray) -> float:
    """Weighted mean of squared RMSE (pooled mean squared error) of summary rows."""
    v = g["rmse"].to_numpy(float) ** 2
    ok = np.isfinite(v) & (w > 0)
    return float(np.average(v[ok], weights=w[ok])) if ok.any() else float("nan")


# --------------------------------------------------------------------------- power
def _mk_z(Y: np.ndarray) -> np.ndarray:
    """Original Mann-Kendall Z (no tie correction) of each row of ``Y`` (continuous data):
    :func:`dlddrivers.methods.trends.mk_z_rows`."""
    from .methods.trends import mk_z_rows

    return mk_z_rows(Y)


def degradation(n_years: int, effect: float, kind: str) -> np.ndarray:
    """Degradation path of total size ``effect`` (a decline): ``gradual`` linear from 0 to
    ``-effect`` over the series, ``abrupt`` a step of ``-effect`` from the middle year on."""
    t = np.arange(n_years, dtype=float)
    if kind == "gradual":
        return -effect * t / max(n_years - 1, 1)
    if kind == "abrupt":
        return -effect * (t >= n_years // 2)
    raise ValueError(f"kind must be 'gradual' or 'abrupt'; got {kind!r}")


def detection_rate(n_years: int, effect: float, kind: str, *, noise_sd: float = 1.0,
                   method: str = "mann_kendall", n_sim: int = 2000, alpha: float = 0.05,
                   climate_r2: float = 0.5, vpr_alpha: float = 0.10, seed: int = 0) -> float:
    """Share of simulated series in which ``method`` detects the injected degradation.

    Series: ``y = climate + degradation + e`` with ``e ~ N(0, noise_sd^2)`` iid. For
    ``mann_kendall`` there is no climate term (``noise_sd`` is the SD around the trend that
    the test sees). For ``restrend`` a climate driver ``c ~ N(0,1)`` enters with coefficient
    such that the climate signal explains ``climate_r2`` of the non-trend variance; the VPR
    (OLS of y on c with intercept) must pass its F-test at ``vpr_alpha`` and the MK test runs
    on its residuals (refused series count as not detected).
    """
    from scipy import stats

    rng = np.random.default_rng([seed, n_years, 11])
    zc = float(stats.norm.ppf(1 - alpha / 2))
    D = degradation(n_years, effect, kind)[None, :]
    e = noise_sd * rng.standard_normal((n_sim, n_years))
    if method == "mann_kendall":
        z = _mk_z(D + e)
        return float(np.mean(z < -zc))
    if method != "restrend":
        raise ValueError(f"method must be 'mann_kendall' or 'restrend'; got {method!r}")
    c = rng.standard_normal((n_sim, n_years))
    beta = noise_sd * np.sqrt(climate_r2 / (1 - climate_r2))
    y = beta * c + D + e
    cc = c - c.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    b = (cc * yc).sum(axis=1) / (cc**2).sum(axis=1)
    resid = yc - b[:, None] * cc
    ssr = (resid**2).sum(axis=1)
    sst = (yc**2).sum(axis=1)
    f = (sst - ssr) / (ssr / (n_years - 2))
    vpr_ok = stats.f.sf(f, 1, n_years - 2) <= vpr_alpha
    z = _mk_z(resid)
    return float(np.mean(vpr_ok & (z < -zc)))


@lru_cache(maxsize=512)
def _detectable_std(n_years: int, kind: str, method: str, power: float, n_sim: int,
                    climate_r2: float, seed: int) -> float:
    lo, hi = 0.0, 1.0
    while detection_rate(n_years, hi, kind, method=method, n_sim=n_sim, climate_r2=climate_r2,
                         seed=seed) < power:
        lo, hi = hi, hi * 2
        if hi > 64:  # never reached on 1..64 noise SDs
            return float("inf")
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        if detection_rate(n_years, mid, kind, method=method, n_sim=n_sim, climate_r2=climate_r2,
                          seed=seed) >= power:
            hi = mid
        else:
            lo = mid
        if hi - lo < 0.005 * hi:
            break
    return float(hi)


def detectable_effect(n_years: int, noise_sd: float, kind: str, *, method: str = "mann_kendall",
                      power: float = 0.8, n_sim: int = 2000, climate_r2: float = 0.5,
                      seed: int = 0) -> float:
    """Smallest total degradation (outcome units) detected with ``power`` (default 80 %).

    Parameters
    ----------
    n_years : length of the annual series.
    noise_sd : SD of the year-to-year noise around the degradation path (for
        ``method="restrend"``: of the VPR residual noise), in outcome units.
    kind : ``"gradual"`` (linear decline of that total size over the series) or ``"abrupt"``
        (a step of that size at mid-series).
    method : ``"mann_kendall"`` (two-sided MK at 5 % on the series) or ``"restrend"`` (VPR
        accepted and MK on the residuals).

    Returns
    -------
    float: the effect size (total change, same units as ``noise_sd``); the smallest effect on a
    bisection grid whose detection rate (common random numbers, seeded) reaches ``power``.
    MK is scale-invariant, so this is ``noise_sd`` times a factor that depends on
    ``n_years``, ``kind`` and ``method`` only. Serial correlation of the noise lowers power
    further (not modelled here). ``inf`` when the power is not reached for any total change up
    to 64 noise SDs: RESTREND on short series, where its power *falls* again for large
    degradations because the degradation swamps the climate relation and the VPR is refused
    (14 years: at most about 60 % power). The search is by doubling from 1 noise SD and then
    bisection, so it returns the smallest effect on the rising part of the power curve.
    """
    return float(noise_sd) * _detectable_std(int(n_years), str(kind), str(method), float(power),
                                             int(n_sim), float(climate_r2), int(seed))


def power_table(n_years: Sequence[int] = (14, 15, 29, 30, 33),
                effects: Sequence[float] = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0),
                kinds: Sequence[str] = ("gradual", "abrupt"),
                methods: Sequence[str] = ("mann_kendall", "restrend"), *, n_sim: int = 2000,
                seed: int = 0) -> pd.DataFrame:
    """Detection rates on a grid (effect in noise SDs, ``noise_sd = 1``) plus one row per
    (method, kind, n_years) with ``quantity="detectable_effect_80"``.

    Columns: ``method, kind, n_years, quantity (power | detectable_effect_80), effect_sd,
    value, n_sim, estimand``.
    """
    rows = []
    for m, k, n in product(methods, kinds, n_years):
        for e in effects:
            rows.append({"method": m, "kind": k, "n_years": n, "quantity": "power",
                         "effect_sd": e, "value": detection_rate(n, e, k, method=m, n_sim=n_sim,
                                                                 seed=seed),
                         "n_sim": n_sim, "estimand": "detection"})
        d = detectable_effect(n, 1.0, k, method=m, n_sim=n_sim, seed=seed)
        rows.append({"method": m, "kind": k, "n_years": n, "quantity": "detectable_effect_80",
                     "effect_sd": d, "value": 0.8, "n_sim": n_sim, "estimand": "detection"})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- file-level jobs
def load_config(path: str = "config/validation.yaml", preset: str | None = None) -> dict:
    """Read the validation config; keys of ``presets[preset]`` replace the top-level ones."""
    from .yamlio import load_yaml

    cfg = load_yaml(path)
    presets = cfg.pop("presets", {}) or {}
    if preset:
        if preset not in presets:
            raise KeyError(f"validation preset {preset!r} not in {path} (have {sorted(presets)})")
        cfg.update(presets[preset])
    return cfg


def scenario_by_name(cfg: Mapping, name: str) -> S.Scenario:
    """The grid scenario called ``name`` (KeyError naming the known ones otherwise)."""
    for sc in scenario_grid(cfg):
        if sc.name == name:
            return sc
    raise KeyError(f"scenario {name!r} is not in the validation grid")


def run_job(cfg: Mapping, scenario: str, seed: int, out: str) -> pd.DataFrame:
    """One Snakemake job: simulate ``scenario`` with ``seed``, run every method, write CSV."""
    from pathlib import Path

    df = run_scenario(scenario_by_name(cfg, scenario), int(seed), cfg.get("methods"))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False)
    return df


def scenario_slice(cfg: Mapping, name: str) -> dict:
    """What one validation job depends on (its Snakemake ``params``): the scenario's fields and
    the method options, nothing else of the validation config."""
    from dataclasses import asdict

    return {"scenario": asdict(scenario_by_name(cfg, name)), "methods": method_options(cfg)}


def run_slice_job(slice_: Mapping, seed: int, out: str) -> pd.DataFrame:
    """One Snakemake job from its slice (:func:`scenario_slice`): simulate, run, write CSV."""
    from pathlib import Path

    sc = S.Scenario(**dict(slice_["scenario"]))
    df = run_scenario(sc, int(seed), slice_["methods"])
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False)
    return df


#: Fixed cost of one run in unit-years (see :func:`run_cost`).
RUN_OVERHEAD_UNIT_YEARS = 400


def run_cost(sc: S.Scenario) -> int:
    """Relative cost of one run of ``sc`` for balancing batches: ``n_units * n_years`` plus a
    fixed :data:`RUN_OVERHEAD_UNIT_YEARS` (every method has a per-run cost that does not grow
    with the panel; measured on the default grid, 2026-11-30: about 2.7 s a run at 6 x 15,
    5 s at 21 x 30, 20 s at 100 x 30 under a load of 4 on 2 cores)."""
    return int(sc.n_units) * int(sc.n_years) + RUN_OVERHEAD_UNIT_YEARS


def batches_of(cfg: Mapping) -> list[list[tuple[str, int]]]:
    """Every (scenario, seed) run of the validation config split into ``cfg["batches"]``
    batches (default 4) of about equal cost, so a few jobs pay the interpreter start-up and
    imports once each instead of once per run.

    All seeds of a scenario go to the same batch (it is calibrated and simulated once for all
    of them, :func:`run_scenario_seeds`). Cost is :func:`run_cost` times the number of seeds;
    scenarios go, largest first (ties by name), to
    the batch with the least cost so far (longest-processing-time rule), and each batch keeps
    the grid's order. Deterministic: the same config gives the same batches. Empty batches are
    dropped.
    """
    by_name = {sc.name: sc for sc in scenario_grid(cfg)}
    groups: dict[str, list[int]] = {}
    for name, seed in run_jobs(cfg):
        groups.setdefault(name, []).append(seed)
    n = max(1, int(cfg.get("batches", 4)))
    order = {name: i for i, name in enumerate(groups)}

    def cost(name: str) -> int:
        return run_cost(by_name[name]) * len(groups[name])

    loads = [0] * n
    members: list[list[str]] = [[] for _ in range(n)]
    for name in sorted(groups, key=lambda nm: (-cost(nm), nm)):
        b = min(range(n), key=lambda i: (loads[i], i))
        loads[b] += cost(name)
        members[b].append(name)
    return [[(name, seed) for name in sorted(m, key=order.__getitem__) for seed in groups[name]]
            for m in members if m]


def batch_slice(cfg: Mapping, runs: Sequence[tuple[str, int]]) -> dict:
    """What one batch job depends on (its Snakemake ``params``): each run's scenario fields and
    seed, and the method options."""
    from dataclasses import asdict

    by_name = {sc.name: asdict(sc) for sc in scenario_grid(cfg)}  # the grid built once
    unknown = sorted({name for name, _ in runs} - set(by_name))
    if unknown:
        raise KeyError(f"scenario {unknown[0]!r} is not in the validation grid")
    return {"runs": [{"scenario": dict(by_name[name]), "seed": int(seed)} for name, seed in runs],
            "methods": method_options(cfg)}


def run_batch_job(slice_: Mapping, out: str | None = None) -> pd.DataFrame:
    """One batch job (:func:`batch_slice`): every run in the slice's order, one run's rows
    after the other in one table (each run's rows are those :func:`run_slice_job` writes for
    it, with its ``scenario`` and ``seed`` columns), written to ``out`` when given.

    One file per batch, not per run: a workflow with 290 run files spent more time on their
    bookkeeping (Snakemake's job graph and metadata, one read each in the summary) than on
    writing them. The seeds of a scenario (consecutive in the slice) are run together by
    :func:`run_scenario_seeds`.
    """
    runs = list(slice_["runs"])
    if not runs:
        raise ValueError("validation batch: the slice holds no runs")
    tables: list[pd.DataFrame] = []
    # consecutive runs of one scenario share its calibration and one vectorised simulation
    i = 0
    while i < len(runs):
        j = i + 1
        while j < len(runs) and runs[j]["scenario"] == runs[i]["scenario"]:
            j += 1
        sc = S.Scenario(**dict(runs[i]["scenario"]))
        tables += run_scenario_seeds(sc, [int(r["seed"]) for r in runs[i:j]], slice_["methods"])
        i = j
    df = pd.concat(tables, ignore_index=True)
    if out is not None:
        from pathlib import Path

        Path(out).parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(out, index=False)
    return df


def summary_job(run_files: Sequence[str], outdir: str,
                shapes: Mapping[str, Sequence[int]],
                runs: Sequence[Sequence] | None = None) -> dict[str, str]:
    """Gather the run tables (the batch CSVs of :func:`run_batch_job`, or one CSV per run) into
    ``recovery.csv``, ``summary.csv``, ``by_units.csv``, ``by_years.csv`` and
    ``expected_error.csv`` in ``outdir``; ``shapes`` are the studies' units x years
    (:func:`study_shapes`).

    ``runs``: the (scenario, seed) pairs the tables must hold (:func:`run_jobs`); a run that
    is missing, or one that is not in the list, is an error naming it and the files read.
    """
    from pathlib import Path

    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    frames = [pd.read_csv(f) for f in run_files]
    rec = pd.concat(frames, ignore_index=True)
    if runs is not None:
        want = {(str(n), int(s)) for n, s in runs}
        per_file = [set(zip(f["scenario"].astype(str), f["seed"].astype(int), strict=True))
                    for f in frames]
        seen: dict[tuple[str, int], str] = {}
        for f, pairs in zip(run_files, per_file, strict=True):
            for pair in sorted(pairs):
                if pair in seen:
                    raise ValueError(f"validation summary: run {pair} is in two run tables, "
                                     f"{seen[pair]} and {f} (expected each run once)")
                seen[pair] = str(f)
        have = set(seen)
        missing, extra = sorted(want - have), sorted(have - want)
        if missing or extra:
            raise ValueError(
                f"validation summary: the run tables {list(map(str, run_files))} "
                + (f"lack {len(missing)} run(s) of the config, first {missing[0]}" if missing else "")
                + ("; " if missing and extra else "")
                + (f"hold {len(extra)} run(s) not in it, first {extra[0]}" if extra else "")
                + " (expected one table per (scenario, seed) of the validation config)")
    rec = rec.sort_values(["scenario", "seed", "method", "quantity"]).reset_index(drop=True)
    summ = summarise(rec)
    paths = {"recovery": out / "recovery.csv", "summary": out / "summary.csv",
             "by_units": out / "by_units.csv", "by_years": out / "by_years.csv",
             "expected_error": out / "expected_error.csv"}
    rec.to_csv(paths["recovery"], index=False)
    summ.to_csv(paths["summary"], index=False)
    base = rec[(rec["hidden"] == 0) & (rec["collinearity"] == S.Scenario().collinearity)]
    base = base[_standard(base)]
    by_factor(base, "n_units").to_csv(paths["by_units"], index=False)
    by_factor(base, "n_years").to_csv(paths["by_years"], index=False)
    sh = {k: (int(v[0]), int(v[1])) for k, v in shapes.items()}
    ee = pd.concat([expected_error(summ, sh, confounding=True), expected_error(summ, sh, confounding=False)],
                   ignore_index=True)
    ee.to_csv(paths["expected_error"], index=False)
    return {k: str(v) for k, v in paths.items()}


def power_job(cfg: Mapping, out: str) -> pd.DataFrame:
    """``power.csv`` from ``cfg["power"]`` (see :func:`power_table`)."""
    from pathlib import Path

    p = dict(cfg.get("power") or {})
    df = power_table(n_years=p.get("n_years", (14, 15, 29, 30, 33)),
                     effects=p.get("effects", (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)),
                     kinds=p.get("kinds", ("gradual", "abrupt")),
                     methods=p.get("methods", ("mann_kendall", "restrend")),
                     n_sim=int(p.get("n_sim", 2000)), seed=int(cfg.get("base_seed", 0)))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False)
    return df
