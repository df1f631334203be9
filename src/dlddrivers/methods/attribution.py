"""Attribution table: how much of an outcome goes with climate vs people, by three estimands.

For each outcome, every unit and a pooled row (``unit="pooled"``), in long format (one row per
quantity, every row naming its ``estimand``):

(a) **LMG shares** (``method="lmg"``, estimand ``share_of_explained_variance``): biophysical vs
    anthropogenic share of R-squared. Pooled: the two-way within R-squared with the unit block
    bootstrap of :mod:`.relative_importance`; per unit: the unit's time series (means removed)
    with a circular moving-block bootstrap in time (block ``ceil(T^(1/3))``).

(b) **Trend decomposition** (``method="trend_decomposition"``, estimand ``share_of_trend``),
    additive as in TSS.RESTREND's ``TSSRattribution`` (Burrell et al. 2019, Nature Sust.): a
    within-unit model ``y_it = a_i + b_c' c_it + b_h' h_it + e_it`` is fitted on the pooled panel
    (unit fixed effects, *no* year effects -- year effects would absorb the common climate
    signal), with ``c`` the climate drivers and ``h`` the anthropogenic drivers. Per unit, with
    ``TS(.)`` the Theil-Sen change over the unit's period (median pairwise slope x span):

    * ``observed_change``      = TS(y)
    * ``climate_change``       = sum_k b_k TS(c_k) (``climate_change="trend"``: the fit driven by
      the climate drivers' own trends) or TS(b_c' rolling_mean(c)) (``"rolling"``: trailing
      mean over ``rolling_window`` years, expanding over the first years)
    * ``climate_variability``  = TS(b_c' c) - climate_change (the rest of the climate fit)
    * ``anthropogenic``        = TS(b_h' h) (fitted contribution of the anthropogenic drivers)
    * ``remainder``            = observed - (the three above); never folded into "human".

    The four components add up to the observed change (asserted). Shares of the observed
    change (``*_share_of_observed``) are reported too. Pooled row = mean over units of each
    component; a pooled share is the ratio of the pooled components (not a mean of per-unit
    ratios).

(c) **Counterfactual** (``method="counterfactual"``, estimand ``share_of_trend``; model-based
    from the same association model, not a causal design): predicted change = mean predicted
    outcome over the last ``baseline_years`` minus over the first ``baseline_years``, with the
    observed climate and with climate held at its baseline (first ``baseline_years``) mean;
    ``climate_attributable_change`` is their difference and
    ``climate_share_of_predicted_change`` its share of the predicted change.

(d) **Agreement** (columns on every row of an outcome x unit block): ``larger_group_lmg``,
    ``larger_group_trend`` (|climate change + variability| vs |anthropogenic|),
    ``larger_group_counterfactual`` (|climate-attributable| vs |predicted change with climate
    at baseline|); ``ranking_agreement`` = ``agree`` if all available methods name the same
    larger group, ``disagree`` otherwise, ``undetermined`` if fewer than two are available;
    ``sign_agreement`` = whether the trend decomposition's anthropogenic component and the
    counterfactual change without climate change have the same sign.

Intervals (level ``ci``): pooled rows by the unit block bootstrap (units resampled, model
refitted); per-unit rows by a residual moving-block bootstrap in time (the model's residuals of
every unit resampled in circular blocks of ``block_length`` years, default ``ceil(T^(1/3))``,
added to the fit, model refitted, all components recomputed). Seeds from ``study["seed"]``.

Options (``DEFAULTS``)
----------------------
baseline_years : int, 5
bootstrap_draws : int, 499
    Draws for the trend/counterfactual bootstraps (and the LMG bootstraps).
ci : float, 0.95
climate_change : str, "trend"  ("trend" or "rolling")
rolling_window : int, 10
block_length : int or None, None  (None: ceil(T^(1/3)))
min_years : int, 8
    Units with fewer complete years get ``insufficient_data`` rows.
min_units : int, 3
    Fewer units: no pooled block bootstrap (pooled intervals NaN, status says so).
lags : dict[str, int], {}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from . import _common as C

DEFAULTS: dict = {
    "baseline_years": 5,
    "bootstrap_draws": 499,
    "ci": 0.95,
    "climate_change": "trend",
    "rolling_window": 10,
    "block_length": None,
    "min_years": 8,
    "min_units": 3,
    "lags": {},
}

COLUMNS = [
    "outcome", "unit", "method", "quantity", "value", "ci_low", "ci_high", "ci_level",
    "value_unit", "estimand", "n_units", "n_years", "n_obs", "n_dropped", "status",
    "larger_group_lmg", "larger_group_trend", "larger_group_counterfactual",
    "ranking_agreement", "sign_agreement", "note",
]

TREND_Q = ["observed_change", "climate_change", "climate_variability", "anthropogenic", "remainder"]
CF_Q = ["predicted_change", "predicted_change_climate_at_baseline", "climate_attributable_change",
        "climate_share_of_predicted_change"]


def ts_change(Y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Theil-Sen change (median pairwise slope x (t_max - t_min)) of each row of ``Y`` (m, n).

    Equals ``scipy.stats.theilslopes(y, t).slope * span`` for each row; vectorised.
    """
    Y = np.atleast_2d(np.asarray(Y, float))
    t = np.asarray(t, float)
    i, j = np.triu_indices(len(t), k=1)
    dt = t[j] - t[i]
    ok = dt > 0
    slopes = (Y[:, j[ok]] - Y[:, i[ok]]) / dt[ok]
    return np.median(slopes, axis=1) * (t.max() - t.min())


def fit_unit_fe(y: np.ndarray, X: np.ndarray, unit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit fixed-effects OLS: returns (coefficients (k,), fitted values incl. unit effects)."""
    if X.shape[1] == 0:
        mu = y - C.demean_by(y, unit)
        return np.zeros(0), mu
    Xw = C.demean_by(X, unit)
    yw = C.demean_by(y, unit)
    b = np.linalg.lstsq(Xw, yw, rcond=None)[0]
    a = (y - yw) - (X - Xw) @ b  # unit mean of y minus unit mean of X b
    return b, a + X @ b


def unit_components(
    t: np.ndarray,
    y: np.ndarray,
    Xc: np.ndarray,
    Xh: np.ndarray,
    bc: np.ndarray,
    bh: np.ndarray,
    *,
    climate_change: str = "trend",
    rolling_window: int = 10,
    baseline_years: int = 5,
) -> dict[str, float]:
    """Trend components and counterfactual for one unit (sorted by year), given coefficients.

    Returns a dict with :data:`TREND_Q` and :data:`CF_Q` keys. The trend components are
    checked to add up to ``observed_change``.
    """
    Fc = Xc @ bc if len(bc) else np.zeros_like(y)
    Fh = Xh @ bh if len(bh) else np.zeros_like(y)
    if climate_change == "rolling":
        roll = pd.DataFrame(Xc).rolling(int(rolling_window), min_periods=1).mean()
        ccser = roll.to_numpy() @ bc if len(bc) else np.zeros_like(y)
        rows = np.vstack([y, Fc, Fh, ccser])
        obs, fc, fh, cc = ts_change(rows, t)
    elif climate_change == "trend":
        rows = np.vstack([y, Fc, Fh, *(Xc.T if len(bc) else [])])
        ch = ts_change(rows, t)
        obs, fc, fh = ch[:3]
        cc = float(ch[3:] @ bc) if len(bc) else 0.0
    else:
        raise ValueError(f"climate_change must be 'trend' or 'rolling'; got {climate_change!r}")
    cv = fc - cc
    rem = obs - cc - cv - fh
    assert np.isclose(cc + cv + fh + rem, obs, rtol=0, atol=1e-9 * max(1.0, abs(obs))), "components must add up"
    k = max(1, min(int(baseline_years), len(y) // 2))
    base_c = Xc[:k].mean(axis=0) if len(bc) else np.zeros(0)
    d_pred = float((Fc[-k:].mean() + Fh[-k:].mean()) - (Fc[:k].mean() + Fh[:k].mean()))
    d_cf = float(Fh[-k:].mean() - Fh[:k].mean())  # climate fixed at base_c: its term is constant
    clim = float(bc @ (Xc[-k:].mean(axis=0) - base_c)) if len(bc) else 0.0
    return {
        "observed_change": float(obs), "climate_change": float(cc), "climate_variability": float(cv),
        "anthropogenic": float(fh), "remainder": float(rem), "predicted_change": d_pred,
        "predicted_change_climate_at_baseline": d_cf, "climate_attributable_change": clim,
        "climate_share_of_predicted_change": clim / d_pred if d_pred != 0 else np.nan,
    }


def _unit_arrays(df: pd.DataFrame, climate: Sequence[str], anthro: Sequence[str]) -> dict:
    """Per unit: (row index, years, climate matrix, anthropogenic matrix), computed once."""
    out = {}
    for u, idx in df.groupby("unit").indices.items():
        g = df.iloc[idx]
        out[u] = (idx, g["year"].to_numpy(float), g[list(climate)].to_numpy(float),
                  g[list(anthro)].to_numpy(float))
    return out


def _all_components(arrays: dict, yv: np.ndarray, b: np.ndarray, nc: int, units, opts) -> pd.DataFrame:
    """Components for each unit in ``units`` given coefficients ``b`` (climate first)."""
    out = {}
    for u in units:
        idx, t, Xc, Xh = arrays[u]
        out[u] = unit_components(
            t, yv[idx], Xc, Xh, b[:nc], b[nc:], climate_change=opts["climate_change"],
            rolling_window=int(opts["rolling_window"]), baseline_years=int(opts["baseline_years"]),
        )
    return pd.DataFrame.from_dict(out, orient="index")


def _with_shares(comp: pd.DataFrame) -> pd.DataFrame:
    comp = comp.copy()
    with np.errstate(all="ignore"):
        for q in TREND_Q[1:]:
            comp[f"{q}_share_of_observed"] = comp[q] / comp["observed_change"]
    return comp


def _pooled_ratios(values: pd.Series) -> pd.Series:
    """Recompute the share quantities of a pooled (mean over units) row from its pooled
    components, so that each pooled share is the ratio of the pooled numbers shown beside it
    (a mean of per-unit ratios is undefined as soon as one unit has a zero change, and is
    dominated by units whose change is near zero)."""
    v = values.copy()
    with np.errstate(all="ignore"):
        for q in TREND_Q[1:]:
            v[f"{q}_share_of_observed"] = (v[q] / v["observed_change"]
                                           if v["observed_change"] != 0 else np.nan)
        v["climate_share_of_predicted_change"] = (
            v["climate_attributable_change"] / v["predicted_change"]
            if v["predicted_change"] != 0 else np.nan)
    return v


def _larger(bio: float, anth: float) -> str | None:
    if not (np.isfinite(bio) and np.isfinite(anth)):
        return None
    return "anthropogenic" if abs(anth) > abs(bio) else "biophysical"


def _lmg_rows(res, climate, anthro, ci) -> list[dict]:
    phi, tot, pb, tb = res["phi"], res["total"], res["phi_boot"], res["total_boot"]
    nc = len(climate)
    rows = []
    for name, sl in (("biophysical_share", slice(0, nc)), ("anthropogenic_share", slice(nc, nc + len(anthro)))):
        with np.errstate(all="ignore"):
            draws = pb[:, sl].sum(axis=1) / tb
        lo, hi = C.percentile_ci(draws, ci)
        rows.append({"method": "lmg", "quantity": name, "value": float(phi[sl].sum() / tot) if tot > 0 else np.nan,
                     "ci_low": float(lo), "ci_high": float(hi), "value_unit": "fraction of R2",
                     "estimand": "share_of_explained_variance"})
    rows.append({"method": "lmg", "quantity": "total_r2", "value": tot,
                 "ci_low": float(C.percentile_ci(tb, ci)[0]), "ci_high": float(C.percentile_ci(tb, ci)[1]),
                 "value_unit": "R2", "estimand": "share_of_explained_variance"})
    return rows


def attribute_outcome(
    panel: pd.DataFrame,
    dictionary: pd.DataFrame,
    y: str,
    climate: Sequence[str],
    anthro: Sequence[str],
    opts: Mapping,
    study: Mapping,
) -> pd.DataFrame:
    """All attribution rows for one outcome (see module docstring)."""
    from . import relative_importance as RI

    ci = float(opts["ci"])
    draws = int(opts["bootstrap_draws"])
    measure = C.indicator_meta(dictionary, y, "measure", "outcome units")
    xs = [*climate, *anthro]
    df_all, dropped = C.complete_cases(panel, [y, *xs])
    n_all = panel.groupby(panel["unit"].astype(str)).size()
    ny = df_all.groupby("unit")["year"].nunique()
    good = sorted(ny[ny >= int(opts["min_years"])].index)
    df = df_all[df_all["unit"].isin(good)].reset_index(drop=True)
    rows: list[dict] = []
    for u in sorted(set(panel["unit"].astype(str)) - set(good)):
        rows.append({"unit": u, "method": "all", "quantity": "all", "n_units": 1,
                     "n_years": int(ny.get(u, 0)), "n_obs": int(ny.get(u, 0)),
                     "n_dropped": int(n_all.get(u, 0) - ny.get(u, 0)), "estimand": "share_of_trend",
                     "status": f"insufficient_data: {int(ny.get(u, 0))} complete years < {opts['min_years']}"})
    if not good:
        return pd.DataFrame(rows)
    unit_codes = C.codes(df["unit"])
    yv = df[y].to_numpy(float)
    X = df[xs].to_numpy(float)
    b, fitted = fit_unit_fe(yv, X, unit_codes)
    arrays = _unit_arrays(df, climate, anthro)
    nc = len(climate)
    comp = _all_components(arrays, yv, b, nc, good, opts)
    resid = yv - fitted
    seed_off = C.stable_offset("attribution", y)
    # ---- per-unit residual moving-block bootstrap
    rng = C.rng_from(study, seed_off)
    L = opts.get("block_length")
    unit_idx = {u: df.index[df["unit"] == u].to_numpy() for u in good}
    boot_units = []
    for _ in range(draws):
        ystar = fitted.copy()
        for idx in unit_idx.values():
            Lu = L or int(np.ceil(len(idx) ** (1 / 3)))
            ystar[idx] += resid[idx][RI.block_indices(len(idx), Lu, rng)]
        bs, _ = fit_unit_fe(ystar, X, unit_codes)
        boot_units.append(_with_shares(_all_components(arrays, ystar, bs, nc, good, opts)))
    comp_s = _with_shares(comp)
    # ---- pooled: mean over units, unit block bootstrap
    rng_p = C.rng_from(study, seed_off + 1)
    G = len(good)
    pooled_boot = []
    if G >= int(opts["min_units"]):
        for _ in range(draws):
            pick = rng_p.integers(0, G, size=G)
            idx = np.concatenate([unit_idx[good[k]] for k in pick])
            codes_b = np.repeat(np.arange(G), [len(unit_idx[good[k]]) for k in pick])
            bs, _ = fit_unit_fe(yv[idx], X[idx], codes_b)
            cb = _with_shares(_all_components(arrays, yv, bs, nc, sorted({good[k] for k in pick}), opts))
            weights = pd.Series(pick).map(lambda k: good[k]).value_counts()
            pooled_boot.append(_pooled_ratios(
                cb.mul(weights.reindex(cb.index), axis=0).sum() / weights.sum()))
    pooled = _pooled_ratios(comp_s.mean())
    pooled_boot_df = pd.DataFrame(pooled_boot)
    quantities = [*TREND_Q, *[f"{q}_share_of_observed" for q in TREND_Q[1:]], *CF_Q]

    def trend_rows(values: pd.Series, bootdf: pd.DataFrame | None) -> list[dict]:
        out = []
        for q in quantities:
            if bootdf is not None and len(bootdf):
                lo, hi = C.percentile_ci(bootdf[q].to_numpy(float), ci)
            else:
                lo = hi = np.nan
            method = "counterfactual" if q in CF_Q else "trend_decomposition"
            frac = q.endswith("share_of_observed") or q.endswith("share_of_predicted_change")
            out.append({"method": method, "quantity": q, "value": float(values[q]), "ci_low": float(lo),
                        "ci_high": float(hi), "value_unit": "fraction" if frac else measure,
                        "estimand": "share_of_trend"})
        return out

    # ---- LMG
    lmg_draws = draws
    lmg_pooled = None
    lmg_ok = len(xs) <= RI.MAX_PREDICTORS
    if not lmg_ok:
        rows.append({"unit": "pooled", "method": "lmg", "quantity": "all", "n_dropped": dropped,
                     "estimand": "share_of_explained_variance", **C.counts(df),
                     "status": f"refused: LMG handles at most MAX_PREDICTORS={RI.MAX_PREDICTORS} "
                               f"predictors; got p={len(xs)}"})
    if G >= int(opts["min_units"]) and lmg_ok:
        lmg_pooled = RI.lmg_panel(df, y, xs, within=True, draws=lmg_draws, rng=C.rng_from(study, seed_off + 2))
    note_cf = "model-based counterfactual from a unit-FE association model (not a causal design)"
    cnt = C.counts(df)
    blocks: list[tuple[str, list[dict], dict]] = []
    # pooled block
    prow = trend_rows(pooled, pooled_boot_df if len(pooled_boot_df) else None)
    if lmg_pooled is not None:
        prow = _lmg_rows(lmg_pooled, climate, anthro, ci) + prow
    pstatus = "ok"
    if G < int(opts["min_units"]):
        pstatus = f"insufficient_data: {G} units < {opts['min_units']} (no unit block bootstrap; intervals NaN)"
    elif G < 20:
        pstatus = f"ok; caution: unit block bootstrap over only {G} units; intervals are rough"
    blocks.append(("pooled", prow, {**cnt, "n_dropped": dropped, "status": pstatus}))
    for k, u in enumerate(good):
        g = df[df["unit"] == u]
        bu = pd.DataFrame([bd.loc[u] for bd in boot_units])
        urows = trend_rows(comp_s.loc[u], bu)
        if lmg_ok:
            res_u = RI.lmg_timeseries(g, y, xs, draws=lmg_draws,
                                      rng=C.rng_from(study, seed_off + 10 + k), block_length=L)
            urows = _lmg_rows(res_u, climate, anthro, ci) + urows
        st = "ok"
        if len(g) < 3 * len(xs):
            st = f"ok; caution: {len(xs)} drivers on {len(g)} years (per-unit LMG overfits)"
        blocks.append((u, urows, {"n_units": 1, "n_years": int(g["year"].nunique()), "n_obs": len(g),
                                  "n_dropped": int(n_all.get(u, 0) - len(g)), "status": st}))
    for unit, brow, meta in blocks:
        vals = {(r["method"], r["quantity"]): r["value"] for r in brow}
        lg_lmg = _larger(vals.get(("lmg", "biophysical_share"), np.nan), vals.get(("lmg", "anthropogenic_share"), np.nan))
        lg_tr = _larger(vals[("trend_decomposition", "climate_change")] + vals[("trend_decomposition", "climate_variability")],
                        vals[("trend_decomposition", "anthropogenic")])
        lg_cf = _larger(vals[("counterfactual", "climate_attributable_change")],
                        vals[("counterfactual", "predicted_change_climate_at_baseline")])
        named = [x for x in (lg_lmg, lg_tr, lg_cf) if x]
        ranking = "undetermined" if len(named) < 2 else ("agree" if len(set(named)) == 1 else "disagree")
        a, c = vals[("trend_decomposition", "anthropogenic")], vals[("counterfactual", "predicted_change_climate_at_baseline")]
        sign = ("undetermined" if not (np.isfinite(a) and np.isfinite(c)) or a == 0 or c == 0
                else ("agree" if np.sign(a) == np.sign(c) else "disagree"))
        for r in brow:
            rows.append({**r, **meta, "unit": unit, "larger_group_lmg": lg_lmg, "larger_group_trend": lg_tr,
                         "larger_group_counterfactual": lg_cf, "ranking_agreement": ranking,
                         "sign_agreement": sign,
                         "note": note_cf if r["method"] == "counterfactual" else (
                             "remainder = observed change not explained by the model; not human"
                             if r["quantity"].startswith("remainder") else "")})
    return pd.DataFrame(rows)


def compute(
    panel: pd.DataFrame, dictionary: pd.DataFrame, study: Mapping, options: Mapping | None = None
) -> dict[str, pd.DataFrame]:
    """Attribution table for every study outcome: ``{"attribution": ...}`` (:data:`COLUMNS`)."""
    opts = C.merge_options(DEFAULTS, options)
    outcomes = C.study_columns(study, dictionary, panel, "outcomes", "outcome")
    drivers = C.study_columns(study, dictionary, panel, "drivers", "driver")
    lagged, mapping = C.add_lags(panel, opts.get("lags"))
    xs = [mapping.get(d, d) for d in drivers]
    climate, anthro = C.split_drivers(dictionary, xs)
    out = []
    for y in outcomes:
        t = attribute_outcome(lagged, dictionary, y, climate, anthro, opts, study)
        out.append(t.assign(outcome=y, ci_level=float(opts["ci"])))
    if not out:
        return {"attribution": pd.DataFrame(columns=COLUMNS)}
    return {"attribution": pd.concat(out, ignore_index=True).reindex(columns=COLUMNS)}
