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
    Replace a driver by its value in year t - k (see ``paneltools.add_lags``).
min_units : int, 3
    Fewer units: no shares (status ``insufficient_data``).
few_units : int, 20
    Fewer units: ``status`` warns that the block bootstrap has few blocks.
variations : list[str], ["levels", "year_to_year"]
    Which estimands to decompose (each one block of rows, see "Two estimands" below).
placebo_draws : int, 200
    Surrogate draws per group for the placebo calibration (0 switches it off).
placebo_alpha : float, 0.05
    A group share is called distinguishable from placebos when its exceedance probability is
    below this.
min_obs : int, 30
    Pre-flight (:func:`._common.preflight`): a driver whose missing values bring the complete
    cases below ``min_units`` units or ``min_obs`` rows is left out and named in ``status``.
max_driver_loss : float, 0.5
    Pre-flight: a driver that alone removes more than this share of the rows is left out too.
    The counts per driver are in the ``preflight`` table.

Two estimands (column ``variation``)
------------------------------------
``levels`` (estimand ``share_of_explained_variance``): the two-way within R-squared of the
levels. Drivers that trend inside units take a large share of it whenever the outcome trends,
whether or not they act on it. ``year_to_year`` (estimand ``share_of_year_to_year_variance``):
a unit-specific linear trend is removed from the outcome and every driver before the two-way
demeaning (the projection on unit intercepts, unit trends and year effects), so only
fluctuations around each unit's own trend are decomposed: which drivers go with the outcome's
good and bad years.

Placebo calibration (group rows)
--------------------------------
For each group (biophysical, anthropogenic, each anthropogenic domain) the group's drivers are
replaced by surrogate series and the same decomposition is rerun ``placebo_draws`` times. A
surrogate keeps each real driver's persistence and trend per unit: ``x*_it = a_i + b_i t + e*_it``
with ``a_i, b_i`` the unit's OLS line and ``e*`` a simulated AR(1) with the unit's residual
lag-1 autocorrelation and variance (:func:`surrogate_drivers`), independent of the outcome. The
placebo distribution of the group share answers "what share would drivers with the same trends
and persistence but no relation with the outcome take?". Columns: ``placebo_median``,
``placebo_p95``, ``placebo_exceedance`` (Monte Carlo p-value ``(1 + #{placebo >= observed}) /
(draws + 1)``), ``share_above_placebo`` (observed share minus the placebo median) and
``calibration``: ``exceeds_placebo`` when the exceedance is below ``placebo_alpha``, else
``indistinguishable_from_placebo`` (then the split cannot be told apart from trending noise).

Shares near zero
----------------
LMG shares are non-negative and biased upward near zero, so a percentile interval never reaches
0. The reported lower end is the smaller of the percentile and the basic (reverse-percentile,
``2 * share - upper percentile``) lower ends, floored at 0; when it reaches 0 the row's ``flag``
is ``near_zero`` (the share cannot be told apart from zero).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from math import factorial

import numpy as np
import pandas as pd

from ..catalogue import ANTHROPOGENIC, group_of_domain
from ..errors import DLDError
from . import _common as C
from . import inference as I
from . import paneltools as P

#: Largest number of predictors decomposed exactly (2**15 = 32768 subsets per draw).
MAX_PREDICTORS = 15

DEFAULTS: dict = {
    "within": True,
    "bootstrap_draws": 1000,
    "ci": 0.95,
    "lags": {},
    "min_units": 3,
    "few_units": 20,
    "variations": ["levels", "year_to_year"],
    "placebo_draws": 200,
    "placebo_alpha": 0.05,
    "min_obs": 30,
    "max_driver_loss": 0.5,
}

#: estimand of each ``variation``
ESTIMAND_OF = {"levels": "share_of_explained_variance",
               "year_to_year": "share_of_year_to_year_variance"}

SHARE_COLUMNS = [
    "outcome", "predictor", "level", "domain", "share", "share_ci_low", "share_ci_high",
    "r2_contribution", "r2_ci_low", "r2_ci_high", "total_r2", "total_r2_ci_low",
    "total_r2_ci_high", "ci_low", "ci_high", "ci_level", "within", "n_predictors", "n_units",
    "n_years", "n_obs", "n_dropped", "bootstrap_draws", "variation", "placebo_median",
    "placebo_p95", "placebo_exceedance", "share_above_placebo", "placebo_draws", "calibration",
    "flag", "estimand", "status",
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
    # the same operations as np.clip / np.outer / np.diag_indices_from, without their call
    # overhead (this runs once per bootstrap and placebo draw)
    d = np.sqrt(np.maximum(S.diagonal(), 0.0))
    tiny = d <= 1e-12 * max(float(d.max()) if d.size else 0.0, 1e-300)
    degenerate = bool(tiny.any())
    dd = np.where(tiny, 1.0, d) if degenerate else d
    R = S / (dd[:, None] * dd[None, :])
    if degenerate:
        R[tiny, :] = 0.0
        R[:, tiny] = 0.0
    R.flat[:: R.shape[0] + 1] = 1.0
    if degenerate and tiny[0]:
        R[:] = np.nan
    return R, degenerate


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


def _transform(Z: np.ndarray, unit: np.ndarray, year: np.ndarray, within: bool,
               t: np.ndarray | None = None, variation: str = "levels") -> np.ndarray:
    """The data the decomposition sees: ``levels`` removes unit and year effects (``within``)
    or only the pooled mean; ``year_to_year`` also removes a unit-specific linear trend in the
    calendar years ``t`` (:func:`.paneltools.within` with ``trend``)."""
    if variation not in ("levels", "year_to_year"):
        raise ValueError(f"relative_importance option 'variations': unknown value {variation!r}; "
                         f"expected one of {sorted(ESTIMAND_OF)}")
    if variation == "year_to_year" and t is None:
        raise ValueError("variation='year_to_year' needs the calendar years t")
    trend = t if variation == "year_to_year" else None
    if within:
        return P.within(Z, unit, year, trend=trend)
    if trend is not None:
        return P.within(Z, unit, trend=trend)
    return Z - Z.mean(axis=0)


def _design(df: pd.DataFrame, outcome: str, predictors: Sequence[str]
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(Z, unit codes, year codes, calendar years)`` of a complete-case panel: ``Z`` holds the
    outcome then the predictors (at most :data:`MAX_PREDICTORS`)."""
    check_p(len(predictors))
    Z = df[[outcome, *predictors]].to_numpy(float)
    return Z, P.codes(df["unit"]), P.codes(df["year"]), df["year"].to_numpy(float)


def share_interval(share: float, draws: np.ndarray, ci: float) -> tuple[float, float, bool]:
    """Interval of a non-negative share from its bootstrap draws that can reach 0.

    Lower end: the smaller of the percentile and the basic (``2 * share - q_hi``) lower ends,
    floored at 0; upper end: the percentile upper end. Returns ``(low, high, near_zero)`` with
    ``near_zero`` True when the lower end is 0 (the share is not distinguishable from zero).
    """
    lo, hi = I.percentile_ci(np.asarray(draws, float), ci)
    lo, hi = float(lo), float(hi)
    if not (np.isfinite(share) and np.isfinite(lo) and np.isfinite(hi)):
        return lo, hi, False
    low = max(0.0, min(lo, 2.0 * float(share) - hi))
    return low, hi, bool(low <= 0.0)


def ar1_trend_params(t: np.ndarray, x: np.ndarray) -> tuple[float, float, float, float]:
    """``(a, b, phi, sd)`` of ``x_t = a + b t + e_t`` with ``e_t`` AR(1) (lag-1 autocorrelation
    ``phi`` of the OLS residuals, clipped to [-0.95, 0.95]; ``sd`` their standard deviation).
    Fewer than 3 values: no trend (``b = 0``) and no persistence."""
    t = np.asarray(t, float)
    x = np.asarray(x, float)
    # the arithmetic of np.ptp, np.clip and the repeated means, each computed once
    if len(x) < 3 or t.max() - t.min() == 0:
        return float(x.mean()), 0.0, 0.0, float(x.std())
    t_mean, x_mean = t.mean(), x.mean()
    tc = t - t_mean
    b = float(tc @ (x - x_mean) / (tc @ tc))
    a = float(x_mean - b * t_mean)
    e = x - a - b * t
    den = float(e @ e)
    phi = float(min(max(e[1:] @ e[:-1] / den, -0.95), 0.95)) if den > 0 else 0.0
    return a, b, phi, float(np.sqrt(den / len(e)))


def surrogate_drivers(df: pd.DataFrame, columns: Sequence[str], draws: int,
                      rng: np.random.Generator, params: dict | None = None) -> np.ndarray:
    """Surrogate series for ``columns`` of a complete-case panel sorted by (unit, year):
    per unit and driver the fitted line ``a + b t`` plus a simulated stationary AR(1) with the
    residuals' lag-1 autocorrelation and standard deviation (:func:`ar1_trend_params`).

    ``params``: a dict the caller keeps for one ``df`` (the groups of one placebo calibration
    share drivers): each (driver, unit)'s :func:`ar1_trend_params` are computed once.

    Returns an array ``(draws, n_rows, len(columns))``, independent of any outcome.
    """
    n, k = len(df), len(columns)
    out = np.empty((draws, n, k))
    t_all = df["year"].to_numpy(float)
    X = df[list(columns)].to_numpy(float) if k else np.empty((n, 0))
    units = list(df.groupby("unit", sort=True).indices.items())
    # one draw of all innovations, in the order of the per-unit, per-driver draws they replace
    # (unit by unit, driver by driver, each (draws, years)): the same numbers
    U = rng.standard_normal(draws * k * sum(len(idx) for _, idx in units))
    # the units of one series length are simulated together: the same elementwise arithmetic
    # on each unit's own innovations, one pass over the years for all of them
    by_len: dict[int, list[tuple[object, np.ndarray, int]]] = {}
    pos = 0
    for unit, idx in units:
        by_len.setdefault(len(idx), []).append((unit, idx, pos))
        pos += draws * len(idx) * k
    params = {} if params is None else params

    def pars_of(col: int, unit: object, t: np.ndarray, idx: np.ndarray) -> tuple:
        key = (columns[col], unit)
        if key not in params:
            params[key] = ar1_trend_params(t, X[idx, col])
        return params[key]

    for m, members in by_len.items():
        IDX = np.array([idx for _, idx, _ in members]).reshape(len(members), m)  # (units, years)
        T = t_all[IDX]
        pars = np.array([[pars_of(j, unit, T[r], idx) for j in range(k)]
                         for r, (unit, idx, _) in enumerate(members)]).reshape(len(members), k, 4)
        u = np.stack([U[p0 : p0 + draws * m * k].reshape(k, draws, m) for _, _, p0 in members])
        phi = pars[:, :, 2, None]  # (units, driver, 1)
        sd = pars[:, :, 3, None]
        s_innov = sd * np.sqrt(1.0 - phi**2)
        e = np.empty((len(members), k, draws, m))  # (unit, driver, draw, year)
        e[..., 0] = sd * u[..., 0]
        for i in range(1, m):
            e[..., i] = phi * e[..., i - 1] + s_innov * u[..., i]
        line = pars[:, :, 0, None] + pars[:, :, 1, None] * T[:, None, :]  # (unit, driver, year)
        vals = line[:, :, None, :] + e
        out[:, IDX, :] = vals.transpose(2, 0, 3, 1)  # (draw, unit, year, driver)
    return out


def placebo_group_shares(
    df: pd.DataFrame,
    outcome: str,
    predictors: Sequence[str],
    groups: Mapping[str, Sequence[int]],
    *,
    within: bool = True,
    variation: str = "levels",
    draws: int = 200,
    rng: np.random.Generator | None = None,
) -> dict[str, np.ndarray]:
    """Placebo distribution of each group's LMG share: the group's drivers replaced by
    :func:`surrogate_drivers` (the other drivers and the outcome kept), the same transform and
    decomposition rerun. Returns group -> array ``(draws,)`` of shares."""
    rng = rng if rng is not None else np.random.default_rng(0)
    p = len(predictors)
    Z, u, yr, t = _design(df, outcome, predictors)
    Z0 = _transform(Z, u, yr, within, t, variation)
    out: dict[str, np.ndarray] = {}
    params: dict = {}  # each driver's per-unit line and AR(1), shared by the groups
    for name, members in groups.items():
        members = list(members)
        if not members:
            continue
        cols = [predictors[m] for m in members]
        S = surrogate_drivers(df, cols, draws, rng, params)  # (draws, n, km)
        km = len(cols)
        flat = S.transpose(1, 0, 2).reshape(len(df), draws * km)
        St = _transform(flat, u, yr, within, t, variation).reshape(len(df), draws, km)
        corrs = np.empty((draws, p + 1, p + 1))
        Zb = Z0.copy()  # each draw overwrites the same member columns: the rest stays Z0
        cols_b = [1 + m for m in members]
        for b in range(draws):
            Zb[:, cols_b] = St[:, b, :]
            corrs[b], _ = _corr(Zb)
        R2 = subset_r2(corrs)
        phi = shapley_from_r2(R2, p)
        with np.errstate(all="ignore"):
            out[name] = phi[:, members].sum(axis=1) / R2[:, -1]
    return out


def placebo_columns(observed: float, placebo: np.ndarray, alpha: float, *,
                    two_sided: bool = False) -> dict:
    """``placebo_median``, ``placebo_p95``, ``placebo_exceedance``, ``share_above_placebo``,
    ``placebo_draws`` and ``calibration`` of an observed share against its placebo draws.

    ``two_sided`` (for signed shares such as a share of a trend): the exceedance counts placebo
    draws at least as large in absolute value, and ``placebo_p95`` is the 95th percentile of
    the absolute placebo shares."""
    pl = np.asarray(placebo, float)
    pl = pl[np.isfinite(pl)]
    if not len(pl) or not np.isfinite(observed):
        return {"placebo_draws": int(len(pl)), "calibration": "not_calibrated"}
    if two_sided:
        med = float(np.median(pl))
        exc = float((1 + np.sum(np.abs(pl) >= abs(observed))) / (len(pl) + 1))
        return {"placebo_median": med, "placebo_p95": float(np.quantile(np.abs(pl), 0.95)),
                "placebo_exceedance": exc, "share_above_placebo": float(observed) - med,
                "placebo_draws": int(len(pl)),
                "calibration": "exceeds_placebo" if exc < alpha else "indistinguishable_from_placebo"}
    exc = float((1 + np.sum(pl >= observed)) / (len(pl) + 1))
    med = float(np.median(pl))
    return {"placebo_median": med, "placebo_p95": float(np.quantile(pl, 0.95)),
            "placebo_exceedance": exc, "share_above_placebo": float(observed) - med,
            "placebo_draws": int(len(pl)),
            "calibration": "exceeds_placebo" if exc < alpha else "indistinguishable_from_placebo"}


def lmg_panel(
    df: pd.DataFrame,
    outcome: str,
    predictors: Sequence[str],
    *,
    within: bool = True,
    draws: int = 1000,
    rng: np.random.Generator | None = None,
    variation: str = "levels",
) -> dict:
    """LMG on a complete-case panel with a unit block bootstrap.

    ``variation="year_to_year"`` removes a unit-specific linear trend before the decomposition
    (see the module docstring).

    Returns a dict with ``phi`` (p,), ``total`` (float), ``phi_boot`` (draws, p),
    ``total_boot`` (draws,) and ``degenerate_draws`` (draws where a predictor lost all
    variation in the resample).
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    p = len(predictors)
    Z, u, t, cal = _design(df, outcome, predictors)
    R, _ = _corr(_transform(Z, u, t, within, cal, variation))
    G = int(u.max()) + 1
    rows_of = [np.nonzero(u == g)[0] for g in range(G)]
    corrs = np.empty((draws, p + 1, p + 1))
    degenerate = 0
    for b in range(draws):
        pick = rng.integers(0, G, size=G)
        idx = np.concatenate([rows_of[g] for g in pick])
        ub = np.repeat(np.arange(G), [len(rows_of[g]) for g in pick])
        corrs[b], deg = _corr(_transform(Z[idx], ub, t[idx], within, cal[idx], variation))
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
        groups.setdefault(group_of_domain(doms[pr_]), []).append(i)
    out = {g: groups.get(g, []) for g in ("biophysical", "anthropogenic")}
    if "other" in groups:
        out["other"] = groups["other"]
    for i, pr_ in enumerate(predictors):
        if doms[pr_] in ANTHROPOGENIC:
            out.setdefault(doms[pr_], []).append(i)
    return out


def shares_table(
    res: dict, predictors: Sequence[str], dictionary: pd.DataFrame, ci: float,
    placebo: Mapping[str, np.ndarray] | None = None, alpha: float = 0.05,
) -> pd.DataFrame:
    """Predictor and group rows (share, r2_contribution and intervals) from :func:`lmg_panel`
    output. Group values are sums of member values, per draw. Share intervals come from
    :func:`share_interval` (they can reach 0; ``flag`` says ``near_zero``); group rows get the
    placebo columns (:func:`placebo_columns`) when ``placebo`` holds the group."""
    doms = C.driver_domains(dictionary, predictors)
    phi, tot = res["phi"], res["total"]
    pb, tb = res["phi_boot"], res["total_boot"]
    with np.errstate(all="ignore"):
        sb = pb / tb[:, None]
    tlo, thi = I.percentile_ci(tb, ci)
    rows = []

    def add(name, level, domain, members):
        r2c = float(phi[members].sum()) if members else 0.0
        r2b = pb[:, members].sum(axis=1)
        shb = sb[:, members].sum(axis=1)
        share = r2c / tot if tot > 0 else np.nan
        slo, shi, near0 = share_interval(share, shb, ci)
        rlo, rhi, _ = share_interval(r2c, r2b, ci)
        row = {
            "predictor": name, "level": level, "domain": domain,
            "share": share, "share_ci_low": slo,
            "share_ci_high": shi, "r2_contribution": r2c, "r2_ci_low": rlo,
            "r2_ci_high": rhi, "total_r2": tot, "total_r2_ci_low": float(tlo),
            "total_r2_ci_high": float(thi), "ci_low": slo, "ci_high": shi,
            "flag": "near_zero" if near0 else "",
        }
        if level == "group" and placebo is not None and name in placebo:
            row.update(placebo_columns(share, placebo[name], alpha))
        rows.append(row)

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
    lagged, mapping = P.add_lags(panel, opts.get("lags"))
    xs = [mapping.get(d, d) for d in drivers]
    variations = list(opts.get("variations") or ["levels"])
    for v in variations:
        if v not in ESTIMAND_OF:
            raise ValueError(f"methods.relative_importance.variations: unknown value {v!r}; "
                             f"expected a list of {sorted(ESTIMAND_OF)}")
    n_placebo = int(opts.get("placebo_draws") or 0)
    alpha = float(opts.get("placebo_alpha", 0.05))
    out, pre = [], []
    all_xs = xs
    for y in outcomes:
        xs, ptab, pnote = C.preflight(lagged, y, all_xs, min_units=int(opts["min_units"]),
                                      min_obs=int(opts["min_obs"]),
                                      max_loss=float(opts["max_driver_loss"]))
        pre.append(ptab)
        df, dropped = P.complete_cases(lagged, [y, *xs])
        cnt = P.counts(df)
        for variation in variations:
            base = {"outcome": y, "ci_level": ci, "within": bool(opts["within"]),
                    "n_predictors": len(xs), "n_dropped": dropped, "bootstrap_draws": draws,
                    "variation": variation, "estimand": ESTIMAND_OF[variation], **cnt}
            try:
                check_p(len(xs))
            except TooManyPredictorsError as exc:
                out.append(pd.DataFrame([{**base, "predictor": "all", "level": "group",
                                          "status": f"refused: {exc}"}]))
                continue
            min_years = 4 if variation == "year_to_year" else 3
            if cnt["n_units"] < int(opts["min_units"]) or cnt["n_years"] < min_years or not xs:
                status = (f"insufficient_data: {cnt['n_units']} units < {opts['min_units']} "
                          f"(unit block bootstrap impossible)" if cnt["n_units"] < int(opts["min_units"])
                          else f"insufficient_data: {cnt['n_years']} years < {min_years}" if xs
                          else "insufficient_data: no driver left")
                if pnote:
                    status += f"; {pnote}"
                rows = [{"predictor": x, "level": "predictor", "domain": d}
                        for x, d in C.driver_domains(dictionary, xs).items()]
                out.append(pd.DataFrame(rows).assign(**base, status=status))
                continue
            off = I.stable_offset("relative_importance", y)
            if variation != "levels":
                off = I.stable_offset("relative_importance", y, variation)
            rng = I.rng_from(study, off)
            try:
                res = lmg_panel(df, y, xs, within=bool(opts["within"]), draws=draws, rng=rng,
                                variation=variation)
            except np.linalg.LinAlgError as exc:  # never a bare numerical crash
                rows = [{"predictor": x, "level": "predictor", "domain": d}
                        for x, d in C.driver_domains(dictionary, xs).items()]
                out.append(pd.DataFrame(rows).assign(**base, status=(
                    f"refused: numerical failure ({exc}) on {cnt['n_obs']} rows in "
                    f"{cnt['n_units']} units" + (f"; {pnote}" if pnote else ""))))
                continue
            placebo = None
            if n_placebo > 0:
                placebo = placebo_group_shares(
                    df, y, xs, groups_of(dictionary, xs), within=bool(opts["within"]),
                    variation=variation, draws=n_placebo,
                    rng=I.rng_from(study, I.stable_offset("relative_importance_placebo", y, variation)))
            status = "ok"
            if cnt["n_units"] < int(opts["few_units"]):
                status = (f"ok; caution: unit block bootstrap over only {cnt['n_units']} units "
                          f"(blocks); interval is rough")
            if res["degenerate_draws"]:
                status += (f"; {res['degenerate_draws']} of {draws} draws had a predictor without "
                           f"variation (contributes 0 there)")
            if pnote:
                status += f"; {pnote}"
            out.append(shares_table(res, xs, dictionary, ci, placebo, alpha).assign(**base, status=status))
    preflight = (pd.concat(pre, ignore_index=True) if pre
                 else pd.DataFrame(columns=C.PREFLIGHT_COLUMNS))
    if not out:
        return {"shares": pd.DataFrame(columns=SHARE_COLUMNS), "preflight": preflight}
    return {"shares": pd.concat(out, ignore_index=True).reindex(columns=SHARE_COLUMNS),
            "preflight": preflight}
