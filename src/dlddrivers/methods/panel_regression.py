"""Two-way fixed-effects panel regression of each outcome on the study drivers.

Model, per outcome::

    y_it = sum_k b_k x_kit + a_i + l_t + e_it      (unit effects a_i, year effects l_t)

estimated with ``linearmodels.PanelOLS(entity_effects=True, time_effects=True)``. Only
within-unit, within-year variation identifies ``b``; a coefficient is an **association**
(estimand ``association``): herds follow forage, dzud kills herds, so reverse causality and
omitted time-varying confounders are real.

Inference (every row carries all of it):

* ``se_clustered``/``p_clustered``: clustered by unit (linearmodels ``cov_type="clustered"``).
  Needs many clusters; with fewer than ``min_clusters`` (default 30) the numbers are left NaN
  and ``status_clustered`` says why (six countries or 21 aimags are too few).
* ``se_dk``/``p_dk``: Driscoll-Kraay (``cov_type="kernel"``, Bartlett kernel, linearmodels'
  automatic bandwidth), robust to cross-sectional and serial correlation (Driscoll & Kraay
  1998, REStat 80:549); it relies on many *years*.
* ``p_wild``: wild cluster bootstrap p-value with the null imposed (WCR; Cameron, Gelbach &
  Miller 2008, REStat 90:414), symmetric (``|t*| >= |t|``). Weights: Rademacher, or Webb's
  six-point weights when there are fewer than 12 clusters (Webb 2023, CJE 56:986). When all
  ``2**G`` Rademacher sign vectors are fewer than the requested draws they are enumerated.
* ``ci_low``/``ci_high``: wild cluster bootstrap-t (unrestricted, WCU) percentile-t interval
  at level ``ci`` (default 0.95), same weights and draws.
  Both bootstraps work on the two-way demeaned data (Frisch-Waugh-Lovell), clustered by unit,
  seeded from ``study["seed"]`` (:func:`dlddrivers.methods.inference.wild_cluster_bootstrap`).

``std_coef`` = ``coef * sd(x) / sd(y)`` with both SDs taken from the **two-way demeaned
(within) data** actually used for estimation (so: outcome SDs per within-driver SD);
``std_ci_low``/``std_ci_high`` are ``ci_low``/``ci_high`` scaled by the same factor.
``vif`` = variance inflation factor of the within-transformed drivers.

``per_unit``: for each unit, OLS of the outcome on the drivers (plus intercept) on its own
time series with Newey-West HAC errors (statsmodels ``cov_type="HAC"``); for a study with a
single unit these rows are also the ``coefficients`` table.

Options (``DEFAULTS``)
----------------------
bootstrap_draws : int, 999
    Wild bootstrap draws.
ci : float, 0.95
    Level of every interval.
lags : dict[str, int], {}
    ``{driver: k}`` replaces a driver by its value in year ``t - k`` (same unit); see
    :func:`dlddrivers.methods.paneltools.add_lags`.
detrend : bool, False
    Remove a unit-specific linear trend from outcome and drivers before fitting (against
    spurious fits between trending series).
first_difference : bool, False
    Fit on within-unit first differences (consecutive years) with year effects only.
min_clusters : int, 30
    Fewer units than this: clustered SE suppressed (NaN) with a status.
min_obs : int, 30
    Pre-flight (:func:`._common.preflight`): a driver whose missing values bring the complete
    cases below ``min_units`` units or ``min_obs`` rows is left out and named in ``status``.
max_driver_loss : float, 0.5
    Pre-flight: a driver that alone removes more than this share of the rows is left out too
    (counts per driver in the ``preflight`` table).
min_units : int, 2
    Fewer units: no fixed-effects fit (the per-unit time-series OLS is reported instead).
min_resid_df : int, 5
    Residual degrees of freedom below this: ``insufficient_data``.
weights : str, "auto"
    ``"auto"`` (Webb below 12 clusters, else Rademacher), ``"rademacher"`` or ``"webb"``.
hac_maxlags : int or None, None
    Newey-West lags for ``per_unit``; None = ``floor(4 (T/100)^(2/9))``.
min_years_per_unit : int, 8
    Fewer years: the per-unit rows are ``insufficient_data``.
engine : str, "arrays"
    ``"arrays"``: the Driscoll-Kraay and clustered fits share one within transform and one
    least-squares fit (:func:`panelols_fits`, linearmodels' own functions in the order of
    ``PanelOLS.fit``), and where it can without building the model (:func:`panelols_arrays`,
    the model's within transform on arrays); ``"linearmodels"``: ``PanelOLS.fit`` once per
    covariance. The numbers are identical bit for bit (tests/test_panel_regression.py); the
    first takes about a third of the time on small panels.

References
----------
Cameron, A. C., Gelbach, J. B., Miller, D. L. (2008). Bootstrap-based improvements for
inference with clustered errors. Review of Economics and Statistics 90(3), 414-427.
MacKinnon, J. G., Webb, M. D. (2018). The wild bootstrap for few (treated) clusters.
Econometrics Journal 21, 114-135.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from . import _common as C
from . import inference as I
from . import paneltools as P

DEFAULTS: dict = {
    "bootstrap_draws": 999,
    "ci": 0.95,
    "lags": {},
    "detrend": False,
    "first_difference": False,
    "min_clusters": 30,
    "min_obs": 30,
    "max_driver_loss": 0.5,
    "min_units": 2,
    "min_resid_df": 5,
    "weights": "auto",
    "hac_maxlags": None,
    "min_years_per_unit": 8,
    # Per-unit time-series regressions (the per_unit table). False leaves that table empty and
    # changes nothing else (the validation scores the pooled coefficients only).
    "unit_rows": True,
    # "arrays": both covariances (Driscoll-Kraay, clustered) from one within transform and fit
    # (panelols_fits); "linearmodels": one PanelOLS.fit per covariance. Identical numbers.
    "engine": "arrays",
}

COEF_COLUMNS = [
    "outcome", "driver", "domain", "coef", "se_clustered", "p_clustered", "se_dk", "p_dk",
    "p_wild", "ci_low", "ci_high", "ci_level", "std_coef", "std_ci_low", "std_ci_high", "vif", "n_units", "n_years", "n_obs",
    "n_dropped", "n_clusters", "bootstrap_weights", "bootstrap_draws", "within_r2", "model",
    "status", "status_clustered", "estimand",
]

PER_UNIT_COLUMNS = [
    "outcome", "unit", "driver", "domain", "coef", "se_hac", "p_hac", "ci_low", "ci_high",
    "ci_level", "hac_maxlags", "r2", "n_units", "n_years", "n_obs", "n_dropped", "status",
    "estimand",
]

# --------------------------------------------------------------------------- helpers
def vif(X: np.ndarray) -> np.ndarray:
    """Variance inflation factors of the columns of ``X`` (diag of the inverse correlation)."""
    X = np.asarray(X, float)
    if X.shape[1] == 1:
        return np.ones(1)
    R = np.corrcoef(X, rowvar=False)
    try:
        return np.diag(np.linalg.inv(R))
    except np.linalg.LinAlgError:
        return np.full(X.shape[1], np.inf)


def nw_maxlags(n: int) -> int:
    """Newey-West rule-of-thumb lag ``floor(4 (n/100)^(2/9))``."""
    return int(np.floor(4 * (n / 100.0) ** (2.0 / 9.0)))


def prepare(
    panel: pd.DataFrame,
    outcome: str,
    drivers: Sequence[str],
    *,
    detrend: bool = False,
    first_difference: bool = False,
) -> tuple[pd.DataFrame, int, str]:
    """Complete cases for (outcome, drivers), optionally detrended or differenced.

    Returns ``(frame, n_dropped, model_label)``; ``n_dropped`` counts incomplete rows plus rows
    lost to differencing.
    """
    if detrend and first_difference:
        raise ValueError("options 'detrend' and 'first_difference' are mutually exclusive")
    df, dropped = P.complete_cases(panel, [outcome, *drivers])
    label = "two-way FE"
    if detrend and len(df):
        df = P.detrend_within_unit(df, [outcome, *drivers])
        label = "two-way FE on unit-detrended data"
    if first_difference and len(df):
        df, lost = P.first_difference(df, [outcome, *drivers])
        dropped += lost
        label = "first differences + year FE"
    return df, dropped, label


ENGINES = ("arrays", "linearmodels")


def _engine_error(engine: object) -> Exception:
    from ..errors import ConfigError

    return ConfigError("methods.panel_regression.engine", engine, f"one of {ENGINES}")


def _fit_summary(res) -> dict[str, pd.Series]:
    """``params``, ``std_errors`` and ``pvalues`` of a linearmodels results object."""
    return {"params": res.params, "std_errors": res.std_errors, "pvalues": res.pvalues}


def panelols_fits(mod, specs: Mapping[str, tuple[str, Mapping]]) -> dict[str, dict[str, pd.Series]]:
    """Parameters, standard errors and p-values of a linearmodels ``PanelOLS`` model for several
    covariance estimators, from ONE within transform and ONE least-squares fit.

    ``specs`` maps a name to ``(cov_type, cov_config)`` as passed to ``PanelOLS.fit``; the
    result maps the name to ``{"params", "std_errors", "pvalues"}`` (Series by regressor).
    ``PanelOLS.fit`` repeats the demeaning, the fit and its post-estimation statistics (R2
    variants, F tests, effects) for every covariance; here the steps that the coefficients,
    standard errors and p-values depend on run once, with linearmodels' own functions in the
    order of ``PanelOLS.fit`` (linearmodels 7.1, unweighted, the default solver, absorbed
    regressors raise as in ``fit``), so every number is the same bit for bit as ``fit`` gives
    (tested against ``fit`` on random and study panels: ``engine: linearmodels`` runs ``fit``).
    """
    from linearmodels.panel.covariance import check_covariance_kwargs, setup_covariance_estimator
    from linearmodels.panel.model import _lstsq
    from linearmodels.panel.utility import check_absorbed

    if np.any(mod.weights.values2d != 1.0) or mod.other_effects or mod._drop_absorbed:
        raise ValueError("panelols_fits reproduces unweighted PanelOLS with entity/time effects "
                         "only (no weights, other_effects or drop_absorbed)")
    y, x, _ = mod._fast_path(low_memory=mod._choose_twoway_algo())
    neffects = 0
    drop_first = mod.has_constant
    if mod.entity_effects:
        neffects += mod.dependent.nentity - drop_first
        drop_first = True
    if mod.time_effects:
        neffects += mod.dependent.nobs - drop_first
        drop_first = True
    if (mod.entity_effects or mod.time_effects) and x.shape[1] > 0:
        x_orig = np.sqrt(mod.weights.values2d) * mod.exog.values2d
        check_absorbed(x, [str(var) for var in mod.exog.vars], x_orig)
    params = _lstsq(x, y, rcond=None)[0]
    nobs = mod.dependent.dataframe.shape[0]
    df_resid = nobs - (x.shape[1] + neffects)
    names = mod.exog.vars
    out = {}
    for key, (cov_type, cov_config) in specs.items():
        cov_type = str(cov_type).lower()
        check_covariance_kwargs(mod._cov_estimators, cov_type, cov_config, fit_options=())
        cfg = mod._setup_clusters(cov_config)
        extra_df = neffects if mod._determine_df_adjustment(cov_type, **cfg) else 0
        cov = setup_covariance_estimator(mod._cov_estimators, cov_type, y, x, params,
                                         mod.dependent.entity_ids, mod.dependent.time_ids,
                                         debiased=True, extra_df=extra_df, **cfg)
        out[key] = _fit_results(params, cov, names, df_resid)
    return out


def _fit_results(params: np.ndarray, cov, names: Sequence[str], df_resid: int) -> dict:
    """Parameters, standard errors and p-values as ``PanelEffectsResults`` reports them:
    params squeezed, SE = sqrt(diag(cov)), t = params / SE, p = 2 * t_sf(|t|, df_resid)
    (debiased)."""
    from scipy import stats

    b = params.squeeze()
    se = pd.Series(np.sqrt(np.diag(pd.DataFrame(cov.deferred_cov(), columns=names, index=names))),
                   names, name="std_error")
    tstat = pd.Series(b / se, name="tstat")
    pv = pd.Series(2 * stats.t.sf(np.abs(tstat), df_resid), index=names, name="pvalue")
    return {"params": pd.Series(b, index=names, name="parameter"), "std_errors": se, "pvalues": pv}


_COV_MANAGER = None


def _cov_manager():
    """The covariance manager of a ``PanelOLS`` model (the same estimator classes, built once)."""
    global _COV_MANAGER
    if _COV_MANAGER is None:
        from linearmodels.panel.covariance import (
            ACCovariance,
            ClusteredCovariance,
            CovarianceManager,
            DriscollKraay,
            HeteroskedasticCovariance,
            HomoskedasticCovariance,
        )
        from linearmodels.panel.model import PanelOLS

        _COV_MANAGER = CovarianceManager(PanelOLS.__name__, HomoskedasticCovariance,
                                         HeteroskedasticCovariance, ClusteredCovariance,
                                         DriscollKraay, ACCovariance)
    return _COV_MANAGER


def _frame_demean(a: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``a`` (n, k, F order) minus its group means by ``g`` as linearmodels' ``PanelData.demean``
    computes them (pandas ``groupby(...).transform("mean")``: the same grouped-mean kernel,
    which sums each group's rows in row order whatever the group labels), F order."""
    fr = pd.DataFrame(a)
    return np.asfortranarray(np.asarray(fr - fr.groupby(g).transform("mean")))


def _panelols_demean(a: np.ndarray, ent: np.ndarray, tim: np.ndarray, n_ent: int, n_tim: int,
                     time_effects: bool) -> np.ndarray:
    """linearmodels' ``PanelData.demean("entity")`` or, with ``time_effects``, ``demean("both")``
    (``_demean_both``: demean by the larger grouping, then remove the demeaned dummies of the
    other, first dropped, by least squares), on arrays: the same steps and functions."""
    if not time_effects:
        return _frame_demean(a, ent)
    g, other, n_other = (ent, tim, n_tim) if n_ent > n_tim else (tim, ent, n_ent)
    e = _frame_demean(a, g)
    if n_other <= 1:  # a single entity or period: no dummies to remove
        return e
    # PanelData.dummies(drop_first=True): the first label dropped, the columns in the order in
    # which the labels first appear in the rows
    cols = pd.unique(other)
    cols = cols[cols != 0]
    d = _frame_demean(np.asfortranarray((other[:, None] == cols[None, :]).astype(np.float64)), g)
    return np.asfortranarray(e - d @ np.linalg.lstsq(d, e, rcond=None)[0])


def panelols_arrays(df: pd.DataFrame, outcome: str, drivers: Sequence[str],
                    specs: Mapping[str, tuple[str, Mapping]], *, entity_effects: bool = True,
                    time_effects: bool = True) -> dict[str, dict[str, pd.Series]] | None:
    """:func:`panelols_fits` of ``PanelOLS(df[outcome], df[drivers], entity_effects,
    time_effects)`` (``df`` indexed by unit and year in its columns, sorted by unit and year)
    without building the model: the within transform of ``PanelOLS._fast_path`` on arrays
    (:func:`_panelols_demean`, the same pandas and numpy calls on arrays of the same layout),
    then linearmodels' least squares and covariance estimators as :func:`panelols_fits` calls
    them. The numbers are the same bit for bit (tests/test_panel_regression.py compares with
    ``PanelOLS.fit``).

    Returns None for what it does not reproduce (the caller then builds the model): time
    effects without unit effects, non-numeric years, unsorted or repeated (unit, year) rows,
    missing or non-finite values, a regressor set spanning a constant, more than 2**10 MiB of
    dummies (linearmodels' low-memory algorithm), cluster options other than
    ``cluster_entity``.
    """
    from linearmodels.panel.covariance import check_covariance_kwargs, setup_covariance_estimator
    from linearmodels.panel.model import PanelOLS, _lstsq
    from linearmodels.panel.utility import check_absorbed
    from linearmodels.shared.linalg import has_constant

    names = list(drivers)
    if not entity_effects or not names or any(set(cfg) - {"cluster_entity"} for _, cfg in specs.values()):
        return None
    if not pd.api.types.is_numeric_dtype(df["year"]):  # PanelData refuses it (ValueError)
        return None
    mi = pd.MultiIndex.from_arrays([df["unit"], df["year"]])
    if not mi.is_unique or not mi.is_monotonic_increasing:
        return None
    Y = np.asfortranarray(df[[outcome]].to_numpy(np.float64))
    X = np.asfortranarray(df[names].to_numpy(np.float64))
    if not (np.isfinite(Y).all() and np.isfinite(X).all()):
        return None
    if has_constant(X, int(np.linalg.matrix_rank(X)))[0]:
        return None
    ent = np.asarray(mi.codes[0])
    tim = np.asarray(mi.codes[1])
    n_ent, n_tim = len(mi.levels[0]), len(mi.levels[1])
    if time_effects and 8 * n_ent * n_tim * min(n_ent, n_tim) // 2**20 > 2**10:
        return None
    y = _panelols_demean(Y, ent, tim, n_ent, n_tim, time_effects)
    x = _panelols_demean(X, ent, tim, n_ent, n_tim, time_effects)
    neffects = n_ent + (n_tim - 1 if time_effects else 0)
    check_absorbed(x, names, X)
    params = _lstsq(x, y, rcond=None)[0]
    df_resid = len(df) - (x.shape[1] + neffects)
    entity_ids, time_ids = ent[:, None], tim[:, None]
    manager = _cov_manager()
    out = {}
    for key, (cov_type, cov_config) in specs.items():
        cov_type = str(cov_type).lower()
        check_covariance_kwargs(manager, cov_type, cov_config, fit_options=())
        cfg = {"clusters": entity_ids} if cov_config.get("cluster_entity") else {}
        # PanelOLS._determine_df_adjustment: clustered by unit with unit effects only is nested
        nested = (cov_type == "clustered" and "clusters" in cfg and not time_effects
                  and PanelOLS._is_effect_nested(entity_ids, entity_ids))
        cov = setup_covariance_estimator(manager, cov_type, y, x, params, entity_ids, time_ids,
                                         debiased=True, extra_df=0 if nested else neffects, **cfg)
        out[key] = _fit_results(params, cov, names, df_resid)
    return out


def fit_twoway(
    df: pd.DataFrame,
    outcome: str,
    drivers: Sequence[str],
    *,
    entity_effects: bool = True,
    time_effects: bool = True,
    draws: int = 999,
    ci: float = 0.95,
    rng: np.random.Generator | None = None,
    weights: str = "auto",
    min_clusters: int = 30,
    min_resid_df: int = 5,
    engine: str = "arrays",
) -> tuple[pd.DataFrame, dict]:
    """Fit the FE panel regression on a complete-case frame and return one row per driver.

    ``engine``: ``"arrays"`` computes the Driscoll-Kraay and clustered fits from one within
    transform (:func:`panelols_fits`), ``"linearmodels"`` calls ``PanelOLS.fit`` once per
    covariance; the numbers are identical (tested).

    Drivers without within variation (absorbed by the effects) are reported with status
    ``refused: no within variation`` and left out of the fit.

    Returns ``(rows, info)`` where rows has the statistics columns of :data:`COEF_COLUMNS`
    (without outcome/counts) and info holds ``within_r2``, ``n_clusters`` and ``status``.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    u = P.codes(df["unit"])
    t = P.codes(df["year"])
    Z = df[[outcome, *drivers]].to_numpy(float)
    if entity_effects and time_effects:
        W = P.within(Z, u, t)
    elif entity_effects:
        W = P.within(Z, u)
    elif time_effects:
        W = P.within(Z, t)
    else:
        W = Z - Z.mean(axis=0)
    yw, Xw = W[:, 0], W[:, 1:]
    G = int(df["unit"].nunique())
    scale = np.maximum(np.abs(Z[:, 1:]).max(axis=0), 1e-300) if len(Z) else np.ones(len(drivers))
    keep = [j for j, _ in enumerate(drivers) if np.std(Xw[:, j]) > 1e-9 * scale[j]]
    rows = {d: {"driver": d, "status": "refused: no within variation (absorbed by fixed effects)"}
            for d in drivers}
    info = {"within_r2": np.nan, "n_clusters": G, "status": "ok"}
    n_abs = (G if entity_effects else 0) + (df["year"].nunique() - (1 if entity_effects else 0) if time_effects else 0)
    resid_df = len(df) - len(keep) - n_abs
    if not keep:
        info["status"] = "refused: no driver with within variation"
        return pd.DataFrame(list(rows.values())), info
    if resid_df < min_resid_df:
        msg = f"insufficient_data: residual df {resid_df} < {min_resid_df}"
        for j in keep:
            rows[drivers[j]]["status"] = msg
        info["status"] = msg
        return pd.DataFrame(list(rows.values())), info
    kd = [drivers[j] for j in keep]
    Xk = Xw[:, keep]
    if np.linalg.matrix_rank(Xk) < Xk.shape[1]:
        msg = "refused: singular design (collinear drivers after the within transform)"
        for d in kd:
            rows[d]["status"] = msg
        info["status"] = msg
        return pd.DataFrame(list(rows.values())), info

    specs = {"dk": ("kernel", {}), "cl": ("clustered", {"cluster_entity": True})}
    if engine not in ENGINES:
        raise _engine_error(engine)
    # engine arrays: without the model where panelols_arrays reproduces it, else from the model
    fits = (panelols_arrays(df, outcome, kd, specs, entity_effects=entity_effects,
                            time_effects=time_effects) if engine == "arrays" else None)
    if fits is None:
        from linearmodels import PanelOLS

        data = df.set_index(["unit", "year"])[[outcome, *kd]]
        mod = PanelOLS(data[outcome], data[kd], entity_effects=entity_effects,
                       time_effects=time_effects)
        if engine == "linearmodels":
            fits = {k: _fit_summary(mod.fit(cov_type=ct, **cfg)) for k, (ct, cfg) in specs.items()}
        else:
            fits = panelols_fits(mod, specs)
    res_dk, res_cl = fits["dk"], fits["cl"]
    absorb = tuple(a for a, on in ((u, entity_effects), (t, time_effects)) if on)
    boot = I.wild_cluster_bootstrap(yw, Xk, df["unit"].to_numpy(), absorb=absorb, draws=draws,
                                    rng=rng, weights=weights, ci=ci)
    ssr = float(np.sum((yw - Xk @ boot["coef"].to_numpy()) ** 2))
    tss = float(np.sum(yw**2))
    info["within_r2"] = 1 - ssr / tss if tss > 0 else np.nan
    sdy = float(np.std(yw, ddof=1))
    v = vif(Xk)
    cl_ok = G >= min_clusters
    cl_status = "ok" if cl_ok else (
        f"insufficient_data: {G} clusters < {min_clusters} (clustered SE unreliable; see wild bootstrap)"
    )
    for j, d in enumerate(kd):
        b = float(res_cl["params"][d])
        se_cl = float(res_cl["std_errors"][d])
        rows[d].update(
            coef=b,
            se_clustered=se_cl if cl_ok else np.nan,
            p_clustered=float(res_cl["pvalues"][d]) if cl_ok else np.nan,
            se_dk=float(res_dk["std_errors"][d]),
            p_dk=float(res_dk["pvalues"][d]),
            p_wild=float(boot.loc[j, "p_wild"]),
            ci_low=float(boot.loc[j, "ci_low"]),
            ci_high=float(boot.loc[j, "ci_high"]),
            std_coef=b * float(np.std(Xk[:, j], ddof=1)) / sdy if sdy > 0 else np.nan,
            # the interval scaled like the coefficient (sd(x)/sd(y) > 0 keeps its order)
            std_ci_low=float(boot.loc[j, "ci_low"]) * float(np.std(Xk[:, j], ddof=1)) / sdy if sdy > 0 else np.nan,
            std_ci_high=float(boot.loc[j, "ci_high"]) * float(np.std(Xk[:, j], ddof=1)) / sdy if sdy > 0 else np.nan,
            vif=float(v[j]),
            bootstrap_weights=str(boot.loc[j, "weights"]),
            bootstrap_draws=int(boot.loc[j, "draws"]),
            status="ok" if G >= 2 else "insufficient_data: 1 cluster",
            status_clustered=cl_status,
        )
        if G < 6:
            rows[d]["status"] = (
                f"ok; caution: wild bootstrap with only {G} clusters has few distinct draws"
            )
    info["n_clusters"] = G
    return pd.DataFrame(list(rows.values())), info


def fit_timeseries(
    df: pd.DataFrame,
    outcome: str,
    drivers: Sequence[str],
    *,
    ci: float = 0.95,
    maxlags: int | None = None,
    min_years: int = 8,
) -> tuple[pd.DataFrame, dict]:
    """OLS of ``outcome`` on ``drivers`` (+ intercept) for one unit's series, Newey-West HAC SE.

    Returns ``(rows, info)``; rows have ``driver, coef, se_hac, p_hac, ci_low, ci_high,
    status``; info has ``r2``, ``hac_maxlags``, ``status``.
    """
    import statsmodels.api as sm

    n = len(df)
    keep = [d for d in drivers if df[d].std(ddof=0) > 0] if n else []
    L = nw_maxlags(n) if maxlags is None else int(maxlags)
    info = {"r2": np.nan, "hac_maxlags": L, "status": "ok"}
    rows = {d: {"driver": d, "status": "refused: driver constant in this unit"} for d in drivers}
    if n < max(min_years, len(keep) + 3) or not keep:
        msg = f"insufficient_data: {n} years < {max(min_years, len(keep) + 3)}"
        for d in keep:
            rows[d]["status"] = msg
        info["status"] = msg
        return pd.DataFrame(list(rows.values())), info
    X = sm.add_constant(df[keep].to_numpy(float), has_constant="add")
    if np.linalg.matrix_rank(X) < X.shape[1]:
        msg = "refused: singular design"
        for d in keep:
            rows[d]["status"] = msg
        info["status"] = msg
        return pd.DataFrame(list(rows.values())), info
    res = sm.OLS(df[outcome].to_numpy(float), X).fit(cov_type="HAC", cov_kwds={"maxlags": L})
    cis = res.conf_int(alpha=1 - ci)
    for j, d in enumerate(keep, start=1):
        rows[d].update(coef=float(res.params[j]), se_hac=float(res.bse[j]), p_hac=float(res.pvalues[j]),
                       ci_low=float(cis[j, 0]), ci_high=float(cis[j, 1]), status="ok")
    info["r2"] = float(res.rsquared)
    return pd.DataFrame(list(rows.values())), info


# --------------------------------------------------------------------------- stage
def regress_outcome(
    panel: pd.DataFrame,
    dictionary: pd.DataFrame,
    outcome: str,
    drivers: Sequence[str],
    opts: Mapping,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Coefficients and per-unit rows for one outcome (used by ``compute`` and ``impacts``).

    ``drivers`` are the column names in ``panel`` (already lagged if wanted). ``opts`` are
    this module's options plus the internal key ``time_effects`` (default True; RESTREND's
    residual regression uses unit effects only); ``unit_rows`` False skips the per-unit fits
    (an empty per-unit table; the coefficients are unchanged).
    """
    ci = float(opts.get("ci", 0.95))
    if opts.get("engine", "arrays") not in ENGINES:  # before any work, not at the first fit
        raise _engine_error(opts.get("engine"))
    df, dropped, label = prepare(panel, outcome, drivers, detrend=bool(opts.get("detrend")),
                                 first_difference=bool(opts.get("first_difference")))
    cnt = P.counts(df)
    doms = C.driver_domains(dictionary, drivers)
    fd = bool(opts.get("first_difference"))
    if cnt["n_units"] >= int(opts.get("min_units", 2)):
        rows, info = fit_twoway(
            df, outcome, list(drivers), entity_effects=not fd,
            time_effects=bool(opts.get("time_effects", True)),
            draws=int(opts.get("bootstrap_draws", 999)), ci=ci, rng=rng,
            weights=str(opts.get("weights", "auto")), min_clusters=int(opts.get("min_clusters", 30)),
            min_resid_df=int(opts.get("min_resid_df", 5)),
            engine=str(opts.get("engine", "arrays")),
        )
        model = label if opts.get("time_effects", True) else label.replace("two-way FE", "unit FE")
    else:
        rows, info = fit_timeseries(df, outcome, list(drivers), ci=ci, maxlags=opts.get("hac_maxlags"),
                                    min_years=int(opts.get("min_years_per_unit", 8)))
        rows = rows.rename(columns={"se_hac": "se_dk", "p_hac": "p_dk"})
        rows["status_clustered"] = "not applicable: single unit (time-series OLS, Newey-West HAC in se_dk)"
        info["within_r2"] = info.pop("r2")
        info["n_clusters"] = cnt["n_units"]
        model = "time-series OLS (single unit), Newey-West HAC"
    rows = rows.assign(outcome=outcome, domain=rows["driver"].map(doms), ci_level=ci,
                       n_dropped=dropped, n_clusters=info.get("n_clusters"),
                       within_r2=info.get("within_r2"), model=model, estimand="association", **cnt)
    coef = rows.reindex(columns=COEF_COLUMNS)
    # per unit
    pu = []
    for unit, g in (df.groupby("unit") if len(df) and opts.get("unit_rows", True) else []):
        r, inf = fit_timeseries(g, outcome, list(drivers), ci=ci, maxlags=opts.get("hac_maxlags"),
                                min_years=int(opts.get("min_years_per_unit", 8)))
        n_all = int((panel["unit"].astype(str) == unit).sum())
        pu.append(r.assign(outcome=outcome, unit=unit, domain=r["driver"].map(doms), ci_level=ci,
                           hac_maxlags=inf["hac_maxlags"], r2=inf["r2"], n_units=1,
                           n_years=int(g["year"].nunique()), n_obs=len(g), n_dropped=n_all - len(g),
                           estimand="association"))
    per_unit = pd.concat(pu, ignore_index=True) if pu else pd.DataFrame(columns=PER_UNIT_COLUMNS)
    return coef, per_unit.reindex(columns=PER_UNIT_COLUMNS)


def compute(
    panel: pd.DataFrame, dictionary: pd.DataFrame, study: Mapping, options: Mapping | None = None
) -> dict[str, pd.DataFrame]:
    """Two-way FE regression of each study outcome on the study drivers.

    Returns ``{"coefficients": ..., "per_unit": ...}`` with columns :data:`COEF_COLUMNS` and
    :data:`PER_UNIT_COLUMNS`. See the module docstring for the inference and options.
    """
    opts = C.merge_options(DEFAULTS, options)
    outcomes = C.study_columns(study, dictionary, panel, "outcomes", "outcome")
    drivers = C.study_columns(study, dictionary, panel, "drivers", "driver")
    lagged, mapping = P.add_lags(panel, opts.get("lags"))
    xs = [mapping.get(d, d) for d in drivers]
    coefs, units, pre = [], [], []
    for y in outcomes:
        rng = I.rng_from(study, I.stable_offset("panel_regression", y))
        kept, ptab, pnote = C.preflight(lagged, y, xs, min_units=int(opts["min_units"]),
                                        min_obs=int(opts["min_obs"]),
                                        max_loss=float(opts["max_driver_loss"]))
        pre.append(ptab)
        c, p = regress_outcome(lagged, dictionary, y, kept, opts, rng)
        if pnote:
            c = c.assign(status=c["status"].astype(str) + f"; {pnote}")
            p = p.assign(status=p["status"].astype(str) + f"; {pnote}") if len(p) else p
        coefs.append(c)
        units.append(p)
    coef = pd.concat(coefs, ignore_index=True) if coefs else pd.DataFrame(columns=COEF_COLUMNS)
    per = pd.concat(units, ignore_index=True) if units else pd.DataFrame(columns=PER_UNIT_COLUMNS)
    preflight = pd.concat(pre, ignore_index=True) if pre else pd.DataFrame(columns=C.PREFLIGHT_COLUMNS)
    return {"coefficients": coef, "per_unit": per, "preflight": preflight}
