"""Machine-learning attribution on grid cells: gradient-boosted trees + SHAP, grouped shares.

A second, independent attribution beside the geodetector (same cells, same variables):

1. Model: ``sklearn`` pipeline = one-hot encoding of unordered class variables (ordered classes
   and continuous variables pass through as they are) + ``HistGradientBoostingRegressor``.
2. Out-of-sample skill: K-fold cross-validation (shuffled, seeded) of the *whole pipeline*, so the
   encoding is fitted inside each training fold (no preprocessing before the split); R2 and RMSE
   per fold, their mean and range. Cells are spatially autocorrelated and the data hold no
   coordinates, so random folds are optimistic (no spatial blocking possible): said in ``note``.
3. SHAP: ``shap.TreeExplainer`` on the model fitted to all cells, for ``n_explain`` cells drawn
   at random (seeded); the SHAP values of a variable's one-hot columns are summed back to the
   variable (SHAP is additive). Importance = mean |SHAP| per variable.
4. Grouped shares, estimand ``share_of_mean_abs_shap``: the sum of mean |SHAP| over the
   biophysical variables (catalogue domain ``climate``) or the anthropogenic ones (mining,
   economy, population, ...) over the total. Bootstrap interval: the explained cells resampled
   ``n_boot`` times (seeded); it reflects which cells are explained, not model refits.

A share of mean |SHAP| is the part of the model's average absolute deviation from its mean
prediction that the group accounts for: not a share of variance, of a trend or of a cause.

Options (``DEFAULTS``): ``folds`` (5), ``max_iter`` (200), ``learning_rate`` (0.1),
``max_leaf_nodes`` (31), ``n_explain`` (1000), ``n_boot`` (1000), ``ci_level`` (0.95).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..catalogue import ANTHROPOGENIC, BIOPHYSICAL

STAGE = "grid_ml"
ESTIMAND = "share_of_mean_abs_shap"
DEFAULTS: dict = {
    "folds": 5,
    "max_iter": 200,
    "learning_rate": 0.1,
    "max_leaf_nodes": 31,
    "n_explain": 1000,
    "n_boot": 1000,
    "ci_level": 0.95,
}
#: Option ranges checked when the workflow starts (dlddrivers.options).
OPTION_BOUNDS: dict = {"folds": (2, 20), "max_iter": (1, None), "max_leaf_nodes": (2, None),
                       "n_explain": (10, None), "n_boot": (1, None)}
NOTE = (
    "share of mean |SHAP| of a gradient-boosted tree model (association the model uses, not a "
    "cause, not a share of variance); CV folds are random cells, optimistic under spatial "
    "autocorrelation (no coordinates for spatial blocks); interval: explained cells resampled"
)


def _truthy(v: object) -> bool:
    return str(v).strip().lower() in ("true", "1", "yes")


def group_of(domain: str) -> str:
    """biophysical / anthropogenic / other, from a catalogue domain."""
    if domain in BIOPHYSICAL:
        return "biophysical"
    if domain in ANTHROPOGENIC:
        return "anthropogenic"
    return "other"


def make_pipeline(xs: list[str], unordered: list[str], opt: dict, seed: int):
    """One-hot encoding of ``unordered`` inside a Pipeline with a gradient-boosted regressor."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    pre = ColumnTransformer(
        [("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False), unordered)],
        remainder="passthrough", verbose_feature_names_out=False)
    model = HistGradientBoostingRegressor(
        max_iter=int(opt["max_iter"]), learning_rate=float(opt["learning_rate"]),
        max_leaf_nodes=int(opt["max_leaf_nodes"]), random_state=seed)
    return Pipeline([("pre", pre), ("model", model)])


def cv_skill(X: pd.DataFrame, y: np.ndarray, xs: list[str], unordered: list[str], opt: dict,
             seed: int) -> pd.DataFrame:
    """R2 and RMSE of each CV fold (pipeline refitted inside every training fold)."""
    from sklearn.metrics import mean_squared_error, r2_score
    from sklearn.model_selection import KFold

    rows = []
    kf = KFold(n_splits=int(opt["folds"]), shuffle=True, random_state=seed)
    for i, (tr, te) in enumerate(kf.split(X)):
        pipe = make_pipeline(xs, unordered, opt, seed).fit(X.iloc[tr], y[tr])
        pred = pipe.predict(X.iloc[te])
        rows.append({"fold": i + 1, "n_train": len(tr), "n_test": len(te),
                     "r2": float(r2_score(y[te], pred)),
                     "rmse": float(np.sqrt(mean_squared_error(y[te], pred)))})
    return pd.DataFrame(rows)


def shap_by_variable(pipe, X: pd.DataFrame, xs: list[str]) -> tuple[np.ndarray, float]:
    """SHAP values (rows x variables, one-hot columns summed back) and the expected value."""
    import shap

    Z = pipe.named_steps["pre"].transform(X)
    names = list(pipe.named_steps["pre"].get_feature_names_out())
    expl = shap.TreeExplainer(pipe.named_steps["model"])
    sv = np.asarray(expl.shap_values(Z))
    out = np.zeros((len(X), len(xs)))
    for j, name in enumerate(names):
        var = next(x for x in xs if name == x or name.startswith(x + "_"))
        out[:, xs.index(var)] += sv[:, j]
    return out, float(np.ravel(expl.expected_value)[0])


def compute(cells: pd.DataFrame, dictionary: pd.DataFrame, study: dict,
            options: dict | None = None, grid_km: int | None = None) -> dict[str, pd.DataFrame]:
    """CV skill, SHAP importance, grouped shares (with bootstrap interval) on one grid size.

    Returns ``cv`` (per fold + mean), ``importance`` (per variable), ``shares`` (per group) and
    ``shap_values`` (the explained cells' SHAP values and feature values, for the beeswarm).
    """
    opt = {**DEFAULTS, **(options or {})}
    seed = int(study.get("seed", 0) or 0)
    name = study.get("name", "")
    ys = list(study.get("outcomes") or [])
    xs = list(study.get("drivers") or [])
    meta = dictionary.set_index("indicator")
    cats = {}
    if "categories" in meta.columns:
        import json

        cats = {i: json.loads(c) for i, c in meta["categories"].items()
                if isinstance(c, str) and json.loads(c)}
    # unordered class variables are one-hot encoded; ordered classes keep their codes 1..K
    ordered = meta["ordered"] if "ordered" in meta.columns else pd.Series(False, index=meta.index)
    unordered = [x for x in xs if x in cats and not _truthy(ordered.get(x, False))]
    cv_rows, imp_rows, share_rows, sv_frames = [], [], [], []
    for y in ys:
        d = cells[[y, *xs]].dropna()
        n_dropped = int(len(cells) - len(d))
        X, yv = d[xs], d[y].to_numpy(float)
        base = {"study": name, "grid_km": grid_km, "y": y, "n_obs": len(d), "n_dropped": n_dropped}
        cv = cv_skill(X, yv, xs, unordered, opt, seed)
        for _, r in cv.iterrows():
            cv_rows.append({**base, **r.to_dict(), "estimand": "out_of_sample_skill"})
        cv_rows.append({**base, "fold": "mean", "n_train": np.nan, "n_test": np.nan,
                        "r2": float(cv["r2"].mean()), "rmse": float(cv["rmse"].mean()),
                        "r2_min": float(cv["r2"].min()), "r2_max": float(cv["r2"].max()),
                        "estimand": "out_of_sample_skill"})
        pipe = make_pipeline(xs, unordered, opt, seed).fit(X, yv)
        rng = np.random.default_rng(seed)
        n_exp = min(int(opt["n_explain"]), len(d))
        pick = np.sort(rng.choice(len(d), size=n_exp, replace=False))
        sv, ev = shap_by_variable(pipe, X.iloc[pick], xs)
        # additivity check: SHAP values + expected value = prediction
        pred = pipe.predict(X.iloc[pick])
        add_err = float(np.max(np.abs(sv.sum(axis=1) + ev - pred)))
        mabs = np.abs(sv).mean(axis=0)
        groups = np.array([group_of(str(meta.loc[x, "domain"])) for x in xs])
        B, level = int(opt["n_boot"]), float(opt["ci_level"])
        a = (1 - level) / 2
        boot = np.empty((B, len(xs)))
        for b in range(B):
            rows = rng.integers(0, n_exp, n_exp)
            boot[b] = np.abs(sv[rows]).mean(axis=0)
        bshare = boot / boot.sum(axis=1, keepdims=True)
        total = mabs.sum()
        q_rank = pd.Series(mabs, index=xs).rank(ascending=False, method="min")
        for j, x in enumerate(xs):
            imp_rows.append({**base, "x": x, "domain": meta.loc[x, "domain"], "group": groups[j],
                             "mean_abs_shap": float(mabs[j]), "share": float(mabs[j] / total),
                             "ci_low": float(np.quantile(bshare[:, j], a)),
                             "ci_high": float(np.quantile(bshare[:, j], 1 - a)),
                             "ci_level": level, "rank": int(q_rank[x]), "n_explained": n_exp,
                             "estimand": ESTIMAND, "status": "ok", "note": NOTE})
        for g in ("biophysical", "anthropogenic", "other"):
            m = groups == g
            if not m.any():
                continue
            gs = bshare[:, m].sum(axis=1)
            share_rows.append({**base, "group": g, "variables": ", ".join(np.array(xs)[m]),
                               "share": float(mabs[m].sum() / total),
                               "ci_low": float(np.quantile(gs, a)),
                               "ci_high": float(np.quantile(gs, 1 - a)), "ci_level": level,
                               "cv_r2": float(cv["r2"].mean()), "n_explained": n_exp,
                               "n_boot": B, "additivity_error": add_err,
                               "estimand": ESTIMAND, "status": "ok", "note": NOTE})
        f = pd.DataFrame(sv, columns=[f"shap_{x}" for x in xs])
        for x in xs:
            f[x] = X[x].to_numpy()[pick]
        sv_frames.append(f.assign(study=name, grid_km=grid_km, y=y, expected_value=ev))
    return {
        "cv": pd.DataFrame(cv_rows),
        "importance": pd.DataFrame(imp_rows),
        "shares": pd.DataFrame(share_rows),
        "shap_values": pd.concat(sv_frames, ignore_index=True) if sv_frames else pd.DataFrame(),
    }


def ranking_agreement(factor: pd.DataFrame, importance: pd.DataFrame) -> pd.DataFrame:
    """Where the geodetector (q) and the ML (mean |SHAP|) rankings agree, per variable.

    ``agree`` is True when the two ranks differ by at most one place; the Spearman correlation
    of the two rankings and whether both put the same variable first are on every row.
    """
    from scipy.stats import spearmanr

    rows = []
    for (km, y), imp in importance.groupby(["grid_km", "y"], sort=False):
        fac = factor[(factor["grid_km"] == km) & (factor["y"] == y) & factor["q"].notna()]
        m = imp.merge(fac[["x", "q", "method", "k"]], on="x", how="inner")
        if m.empty:
            continue
        m["rank_geodetector"] = m["q"].rank(ascending=False, method="min").astype(int)
        m["rank_shap"] = m["mean_abs_shap"].rank(ascending=False, method="min").astype(int)
        rho = float(spearmanr(m["rank_geodetector"], m["rank_shap"]).statistic) if len(m) > 2 else np.nan
        top_same = bool(m.loc[m["rank_geodetector"].idxmin(), "x"] == m.loc[m["rank_shap"].idxmin(), "x"])
        for _, r in m.iterrows():
            rows.append({"study": r["study"], "grid_km": km, "y": y, "x": r["x"],
                         "group": r["group"], "q": r["q"], "rank_geodetector": r["rank_geodetector"],
                         "share_of_mean_abs_shap": r["share"], "rank_shap": r["rank_shap"],
                         "rank_difference": int(r["rank_shap"] - r["rank_geodetector"]),
                         "agree": bool(abs(r["rank_shap"] - r["rank_geodetector"]) <= 1),
                         "spearman_rho": rho, "same_top_variable": top_same,
                         "n_variables": len(m)})
    return pd.DataFrame(rows)
