"""Relative importance of drivers: LMG / Shapley decomposition of R-squared.

A predictor's LMG share (Lindeman, Merenda & Gold 1980; Groemping 2006, J. Stat. Softw. 17(1))
is its increment in R-squared averaged over all orders of entry, i.e. the Shapley value of the
R-squared game::

    phi_j = sum_{S not containing j} |S|! (p - |S| - 1)! / p!  * (R2(S + j) - R2(S))

The subset R-squared comes from the correlation matrix with no model refits::

    R2(S) = r_S' R_SS^{-1} r_S

(``r_S``: correlations of the outcome with the predictors in S; ``R_SS``: their correlation
matrix). All ``2**p`` subsets are evaluated exactly with batched linear algebra (one batched
solve per subset size, over all bootstrap draws at once), so the method is exact up to
``MAX_PREDICTORS`` predictors and refuses beyond (:class:`TooManyPredictorsError`).

Panels: by default (``within=True``) the **within R-squared** is decomposed: outcome and
drivers are two-way demeaned (unit and year effects removed, exact for unbalanced panels by
alternating projections) so unit-mean differences and common year shocks do not dominate. With
``within=False`` the pooled R-squared (grand mean removed only) is decomposed.

Intervals: seeded block bootstrap resampling whole units with replacement (a unit drawn twice
enters as two units; the within transform is redone in each draw), percentile intervals at
level ``ci``. With few units there are few blocks: the ``status`` says so and the interval is
rough; with fewer than ``min_units`` units nothing is reported.

Group shares are sums of member shares: ``biophysical`` (domain climate), ``anthropogenic``
(grazing, agriculture, mining, land use, population) and each domain separately.
``share`` is normalised (fraction of the total R-squared, sums to 1 over predictors);
``r2_contribution`` is the raw contribution (sums to ``total_r2``). Estimand:
``share_of_explained_variance`` -- variance explained in a linear model, not a causal share.

Options (``DEFAULTS``)
----------------------
within : bool, True
    Decompose the two-way within R-squared (True) or the pooled R-squared (False).
bootstrap_draws : int, 1000
    Unit block bootstrap draws.
ci : float, 0.95
    Interval level.
lags : dict[str, int], {}
    Replace a driver by its value in year t - k (see ``_common.add_lags``).
min_units : int, 3
    Fewer units: no shares (status ``insufficient_data``).
few_units : int, 20
    Fewer units: ``status`` warns that the block bootstrap has few blocks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from math import factorial

import numpy as np
import pandas as pd

from ..errors import DLDError
from . import _common as C

#: Largest number of predictors decomposed exactly (2**15 = 32768 subsets per draw).
MAX_PREDICTORS = 15

DEFAULTS: dict = {
    "within": True,
    "bootstrap_draws": 1000,
    "ci": 0.95,
    "lags": {},
    "min_units": 3,
    "few_units": 20,
}

SHARE_COLUMNS = [
    "outcome", "predictor", "level", "domain", "share", "share_ci_low", "share_ci_high",
    "r2_contribution", "r2_ci_low", "r2_ci_high", "total_r2", "total_r2_ci_low",
    "total_r2_ci_high", "ci_low", "ci_high", "ci_level", "within", "n_predictors", "n_units",
    "n_years", "n_obs", "n_dropped", "bootstrap_draws", "estimand", "status",
]

_MEM_BYTES = 64 * 2**20  # budget for one batched solve


class TooManyPredictorsError(DLDError, ValueError):
    """More predictors than the exact LMG decomposition handles (``MAX_PREDICTORS``)."""


def check_p(p: int) -> None:
    """Raise :class:`TooManyPredictorsError` if ``p > MAX_PREDICTORS``."""
    if p > MAX_PREDICTORS:
        raise TooManyPredictorsError(
            f"LMG is computed exactly over all 2^p subsets and handles at most "
            f"MAX_PREDICTORS={MAX_PREDICTORS} predictors; got p={p}. Reduce the drivers "
            f"(e.g. one per domain) or group them."
        )


@lru_cache(maxsize=32)
def _subsets(p: int) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """For each size k = 1..p: (bitmasks (n_k,), member indices (n_k, k)) of all subsets."""
    masks = np.arange(1, 2**p)
    bits = (masks[:, None] >> np.arange(p)) & 1
    size = bits.sum(axis=1)
    out = []
    for k in range(1, p + 1):
        m = masks[size == k]
        idx = np.nonzero(bits[size == k])[1].reshape(-1, k)
        out.append((m, idx))
    return tuple(out)


def subset_r2(corr: np.ndarray) -> np.ndarray:
    """R-squared of every predictor subset from correlation matrices.

    Parameters
    ----------
    corr : array (B, p+1, p+1) or (p+1, p+1)
        Correlation matrices with the outcome first.

    Returns
    -------
    array (B, 2**p) (or (2**p,)): entry ``m`` is R2 of the subset with bitmask ``m``
    (bit j = predictor j); entry 0 (empty set) is 0.
    """
    corr = np.asarray(corr, float)
    single = corr.ndim == 2
    if single:
        corr = corr[None]
    B, q, _ = corr.shape
    p = q - 1
    check_p(p)
    R2 = np.zeros((B, 2**p))
    Rxx = corr[:, 1:, 1:]
    rxy = corr[:, 0, 1:]
    for m, idx in _subsets(p):
        n_k, k = idx.shape
        per_draw = n_k * k * (k + 1) * 8 * 3
        step = max(1, _MEM_BYTES // max(per_draw, 1))
        for b0 in range(0, B, step):
            b1 = min(B, b0 + step)
            A = Rxx[b0:b1][:, idx[:, :, None], idx[:, None, :]]  # (b, n_k, k, k)
            r = rxy[b0:b1][:, idx]  # (b, n_k, k)
            try:
                sol = np.linalg.solve(A, r[..., None])[..., 0]
            except np.linalg.LinAlgError:
                sol = (np.linalg.pinv(A) @ r[..., None])[..., 0]
            R2[b0:b1, m] = np.einsum("bnk,bnk->bn", r, sol)
    return R2[0] if single else R2


@lru_cache(maxsize=32)
def _shapley_plan(p: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Masks without j, masks with j, and Shapley weights, each (p, 2**(p-1))."""
    masks = np.arange(2**p)
    size = ((masks[:, None] >> np.arange(p)) & 1).sum(axis=1)
    w_of = np.array([factorial(s) * factorial(p - s - 1) / factorial(p) for s in range(p)])
    without, with_, weights = [], [], []
    for j in range(p):
        m = masks[(masks >> j) & 1 == 0]
        without.append(m)
        with_.append(m | (1 << j))
        weights.append(w_of[size[m]])
    return np.array(without), np.array(with_), np.array(weights)


def shapley_from_r2(R2: np.ndarray, p: int) -> np.ndarray:
    """Shapley values (LMG contributions) from subset R2 ``(B, 2**p)`` -> ``(B, p)``."""
    R2 = np.atleast_2d(R2)
    without, with_, w = _shapley_plan(p)
    return np.stack([(R2[:, with_[j]] - R2[:, without[j]]) @ w[j] for j in range(p)], axis=1)


def _corr(Z: np.ndarray) -> tuple[np.ndarray, bool]:
    """Correlation matrix of centred columns; zero-variance predictors get zero correlations.

    Returns ``(corr, degenerate)``; ``degenerate`` is True if the outcome or any predictor had
    no variance (such a predictor then contributes exactly 0).
    """
    S = Z.T @ Z
    d = np.sqrt(np.clip(np.diag(S), 0, None))
    tiny = d <= 1e-12 * max(float(d.max()) if d.size else 0.0, 1e-300)
    dd = np.where(tiny, 1.0, d)
    R = S / np.outer(dd, dd)
    R[tiny, :] = 0.0
    R[:, tiny] = 0.0
    R[np.diag_indices_from(R)] = 1.0
    if tiny[0]:
        R[:] = np.nan
    return R, bool(tiny.any())


def lmg(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """LMG contributions of the columns of ``X`` to the R-squared of OLS of ``y`` on ``X``.

    Data are centred here (an intercept is implied). Returns ``(contributions (p,), R2)``;
    the contributions sum to R2.

    Raises
    ------
    TooManyPredictorsError
        If ``X`` has more than ``MAX_PREDICTORS`` columns.
    """
    X = np.asarray(X, float)
    check_p(X.shape[1])
    Z = np.column_stack([y, X])
    Z = Z - Z.mean(axis=0)
    R, _ = _corr(Z)
    R2 = subset_r2(R)
    return shapley_from_r2(R2, X.shape[1])[0], float(R2[-1])


def _transform(Z: np.ndarray, unit: np.ndarray, year: np.ndarray, within: bool) -> np.ndarray:
    if within:
        return C.within(Z, unit, year)
    return Z - Z.mean(axis=0)


def lmg_panel(
    df: pd.DataFrame,
    outcome: str,
    predictors: Sequence[str],
    *,
    within: bool = True,
    draws: int = 1000,
    rng: np.random.Generator | None = None,
) -> dict:
    """LMG on a complete-case panel with a unit block bootstrap.

    Returns a dict with ``phi`` (p,), ``total`` (float), ``phi_boot`` (draws, p),
    ``total_boot`` (draws,) and ``degenerate_draws`` (draws where a predictor lost all
    variation in the resample).
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    p = len(predictors)
    check_p(p)
    Z = df[[outcome, *predictors]].to_numpy(float)
    u = C.codes(df["unit"])
    t = C.codes(df["year"])
    R, _ = _corr(_transform(Z, u, t, within))
    G = int(u.max()) + 1
    rows_of = [np.nonzero(u == g)[0] for g in range(G)]
    corrs = np.empty((draws, p + 1, p + 1))
    degenerate = 0
    for b in range(draws):
        pick = rng.integers(0, G, size=G)
        idx = np.concatenate([rows_of[g] for g in pick])
        ub = np.repeat(np.arange(G), [len(rows_of[g]) for g in pick])
        corrs[b], deg = _corr(_transform(Z[idx], ub, t[idx], within))
        degenerate += int(deg)
    R2_all = subset_r2(np.concatenate([R[None], corrs]))
    phi_all = shapley_from_r2(R2_all, p)
    return {
        "phi": phi_all[0],
        "total": float(R2_all[0, -1]),
        "phi_boot": phi_all[1:],
        "total_boot": R2_all[1:, -1],
        "degenerate_draws": degenerate,
    }


def block_indices(n: int, block_length: int, rng: np.random.Generator) -> np.ndarray:
    """Circular moving-block bootstrap indices of length ``n`` (Politis & Romano 1992)."""
    L = max(1, min(int(block_length), n))
    starts = rng.integers(0, n, size=int(np.ceil(n / L)))
    return ((starts[:, None] + np.arange(L)[None, :]) % n).ravel()[:n]


def lmg_timeseries(
    g: pd.DataFrame,
    outcome: str,
    predictors: Sequence[str],
    *,
    draws: int = 1000,
    rng: np.random.Generator | None = None,
    block_length: int | None = None,
) -> dict:
    """LMG for one unit's time series (means removed) with a moving-block bootstrap in time.

    ``block_length`` defaults to ``ceil(T ** (1/3))``. Same return keys as :func:`lmg_panel`.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    p = len(predictors)
    check_p(p)
    Z = g[[outcome, *predictors]].to_numpy(float)
    n = len(Z)
    L = block_length or int(np.ceil(n ** (1 / 3)))
    R, _ = _corr(Z - Z.mean(axis=0))
    corrs = np.empty((draws, p + 1, p + 1))
    degenerate = 0
    for b in range(draws):
        Zb = Z[block_indices(n, L, rng)]
        corrs[b], deg = _corr(Zb - Zb.mean(axis=0))
        degenerate += int(deg)
    R2_all = subset_r2(np.concatenate([R[None], corrs]))
    phi_all = shapley_from_r2(R2_all, p)
    return {"phi": phi_all[0], "total": float(R2_all[0, -1]), "phi_boot": phi_all[1:],
            "total_boot": R2_all[1:, -1], "degenerate_draws": degenerate}


def groups_of(dictionary: pd.DataFrame, predictors: Sequence[str]) -> dict[str, list[int]]:
    """Group name -> member indices: biophysical, anthropogenic, then each domain present."""
    doms = C.driver_domains(dictionary, predictors)
    groups: dict[str, list[int]] = {}
    for i, pr_ in enumerate(predictors):
        groups.setdefault(C.group_of_domain(doms[pr_]), []).append(i)
    out = {g: groups.get(g, []) for g in ("biophysical", "anthropogenic")}
    if "other" in groups:
        out["other"] = groups["other"]
    for i, pr_ in enumerate(predictors):
        if doms[pr_] in C.ANTHROPOGENIC_DOMAINS:
            out.setdefault(doms[pr_], []).append(i)
    return out


def shares_table(
    res: dict, predictors: Sequence[str], dictionary: pd.DataFrame, ci: float
) -> pd.DataFrame:
    """Predictor and group rows (share, r2_contribution and percentile intervals) from
    :func:`lmg_panel` output. Group values are sums of member values, per draw."""
    doms = C.driver_domains(dictionary, predictors)
    phi, tot = res["phi"], res["total"]
    pb, tb = res["phi_boot"], res["total_boot"]
    with np.errstate(all="ignore"):
        sb = pb / tb[:, None]
    tlo, thi = C.percentile_ci(tb, ci)
    rows = []

    def add(name, level, domain, members):
        r2c = float(phi[members].sum()) if members else 0.0
        r2b = pb[:, members].sum(axis=1)
        shb = sb[:, members].sum(axis=1)
        slo, shi = C.percentile_ci(shb, ci)
        rlo, rhi = C.percentile_ci(r2b, ci)
        rows.append({
            "predictor": name, "level": level, "domain": domain,
            "share": r2c / tot if tot > 0 else np.nan, "share_ci_low": float(slo),
            "share_ci_high": float(shi), "r2_contribution": r2c, "r2_ci_low": float(rlo),
            "r2_ci_high": float(rhi), "total_r2": tot, "total_r2_ci_low": float(tlo),
            "total_r2_ci_high": float(thi), "ci_low": float(slo), "ci_high": float(shi),
        })

    for i, pr_ in enumerate(predictors):
        add(pr_, "predictor", doms[pr_], [i])
    for g, members in groups_of(dictionary, predictors).items():
        add(g, "group", g, members)
    return pd.DataFrame(rows)


def compute(
    panel: pd.DataFrame, dictionary: pd.DataFrame, study: Mapping, options: Mapping | None = None
) -> dict[str, pd.DataFrame]:
    """LMG shares of the (within) R-squared for each study outcome.

    Returns ``{"shares": ...}`` with columns :data:`SHARE_COLUMNS`. A study with more than
    ``MAX_PREDICTORS`` drivers gets one ``refused`` row per outcome naming p and the limit.
    """
    opts = C.merge_options(DEFAULTS, options)
    ci = float(opts["ci"])
    draws = int(opts["bootstrap_draws"])
    outcomes = C.study_columns(study, dictionary, panel, "outcomes", "outcome")
    drivers = C.study_columns(study, dictionary, panel, "drivers", "driver")
    lagged, mapping = C.add_lags(panel, opts.get("lags"))
    xs = [mapping.get(d, d) for d in drivers]
    out = []
    for y in outcomes:
        df, dropped = C.complete_cases(lagged, [y, *xs])
        cnt = C.counts(df)
        base = {"outcome": y, "ci_level": ci, "within": bool(opts["within"]), "n_predictors": len(xs),
                "n_dropped": dropped, "bootstrap_draws": draws,
                "estimand": "share_of_explained_variance", **cnt}
        try:
            check_p(len(xs))
        except TooManyPredictorsError as exc:
            out.append(pd.DataFrame([{**base, "predictor": "all", "level": "group",
                                      "status": f"refused: {exc}"}]))
            continue
        if cnt["n_units"] < int(opts["min_units"]) or cnt["n_years"] < 3 or not xs:
            status = (f"insufficient_data: {cnt['n_units']} units < {opts['min_units']} "
                      f"(unit block bootstrap impossible)" if cnt["n_units"] < int(opts["min_units"])
                      else f"insufficient_data: {cnt['n_years']} years")
            rows = [{"predictor": x, "level": "predictor", "domain": d}
                    for x, d in C.driver_domains(dictionary, xs).items()]
            out.append(pd.DataFrame(rows).assign(**base, status=status))
            continue
        rng = C.rng_from(study, C.stable_offset("relative_importance", y))
        res = lmg_panel(df, y, xs, within=bool(opts["within"]), draws=draws, rng=rng)
        status = "ok"
        if cnt["n_units"] < int(opts["few_units"]):
            status = (f"ok; caution: unit block bootstrap over only {cnt['n_units']} units "
                      f"(blocks); interval is rough")
        if res["degenerate_draws"]:
            status += (f"; {res['degenerate_draws']} of {draws} draws had a predictor without "
                       f"variation (contributes 0 there)")
        out.append(shares_table(res, xs, dictionary, ci).assign(**base, status=status))
    if not out:
        return {"shares": pd.DataFrame(columns=SHARE_COLUMNS)}
    return {"shares": pd.concat(out, ignore_index=True).reindex(columns=SHARE_COLUMNS)}
