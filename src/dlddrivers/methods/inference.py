"""Inference helpers shared by the methods and the causal stage.

Seeded generators (:func:`rng_from`, :func:`stable_offset`), percentile intervals of bootstrap
draws (:func:`percentile_ci`), cluster-robust standard errors (:func:`cluster_se`, CR1, and
:func:`cluster_se_draws`, vectorised over bootstrap draws) and the wild cluster bootstrap
(:func:`wild_cluster_bootstrap`: WCR p-values and WCU percentile-t intervals, Rademacher or
Webb weights) used by panel regression, RESTREND and impacts.

References
----------
Cameron, A. C., Gelbach, J. B., Miller, D. L. (2008). Bootstrap-based improvements for
inference with clustered errors. Review of Economics and Statistics 90(3), 414-427.
MacKinnon, J. G., Webb, M. D. (2018). The wild bootstrap for few (treated) clusters.
Econometrics Journal 21, 114-135. Webb, M. D. (2023). Reworking wild bootstrap-based
inference for clustered errors. Canadian Journal of Economics 56, 986.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from . import paneltools as P

#: Webb's six-point wild bootstrap weights.
WEBB_WEIGHTS = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])


def bootstrap_weights(
    n_clusters: int, draws: int, rng: np.random.Generator, kind: str = "auto"
) -> tuple[np.ndarray, str]:
    """Cluster-level wild bootstrap weights, shape ``(draws, n_clusters)``.

    ``kind="auto"``: Webb six-point weights when ``n_clusters < 12``, else Rademacher. For
    Rademacher, if ``2**G <= draws`` all sign vectors are enumerated (exact bootstrap
    distribution) and fewer rows are returned. Returns ``(weights, label)``.
    """
    if kind == "auto":
        kind = "webb" if n_clusters < 12 else "rademacher"
    if kind == "rademacher":
        if 2**n_clusters <= draws:
            grid = ((np.arange(2**n_clusters)[:, None] >> np.arange(n_clusters)) & 1) * 2.0 - 1.0
            return grid, "rademacher (all 2^G enumerated)"
        return rng.choice([-1.0, 1.0], size=(draws, n_clusters)), "rademacher"
    if kind == "webb":
        return rng.choice(WEBB_WEIGHTS, size=(draws, n_clusters)), "webb"
    raise ValueError(f"weights must be 'auto', 'rademacher' or 'webb'; got {kind!r}")


def cluster_se_draws(E: np.ndarray, c: np.ndarray, cl: np.ndarray, n_cl: int) -> np.ndarray:
    """Cluster-robust SE of one coefficient for each row of residual matrix ``E`` (B x n).

    ``c`` is row j of ``(X'X)^{-1} X'``; the SE is ``sqrt(sum_g (sum_{i in g} c_i e_i)^2)``
    (no small-sample factor: it cancels in bootstrap-t comparisons).
    """
    return _cluster_se_rows(E, c, _cluster_index(cl, n_cl))


def _cluster_index(cl: np.ndarray, n_cl: int) -> list[np.ndarray]:
    """Positions of each cluster's rows (``np.nonzero(cl == g)`` for g = 0..n_cl-1)."""
    return [np.nonzero(cl == g)[0] for g in range(n_cl)]


def _cluster_se_rows(E: np.ndarray, c: np.ndarray, index: list[np.ndarray]) -> np.ndarray:
    """:func:`cluster_se_draws` with the cluster positions computed once (same sums: selecting
    a cluster's columns by position or by boolean mask gives the same array)."""
    S = np.zeros((E.shape[0], len(index)))
    W = E * c[None, :]
    for g, idx in enumerate(index):  # G is small (units); loop over clusters, vectorised over draws
        S[:, g] = W[:, idx].sum(axis=1)
    return np.sqrt((S**2).sum(axis=1))


def absorb_effects(M: np.ndarray, absorb: tuple[np.ndarray, ...]) -> np.ndarray:
    """Within-transform each row of ``M`` (B x n) by the effect codes in ``absorb``."""
    if not absorb:
        return M
    if len(absorb) == 1:
        return P.within(M.T, absorb[0]).T
    return P.within(M.T, absorb[0], absorb[1]).T


def wild_cluster_bootstrap(
    y: np.ndarray,
    X: np.ndarray,
    cluster: np.ndarray,
    *,
    absorb: tuple[np.ndarray, ...] = (),
    draws: int = 999,
    rng: np.random.Generator | None = None,
    weights: str = "auto",
    ci: float = 0.95,
) -> pd.DataFrame:
    """Wild cluster bootstrap p-values (WCR) and percentile-t intervals (WCU) for OLS of y on X.

    Pass already demeaned data (within transform) for fixed-effects models, and the integer
    codes of the absorbed effects in ``absorb`` (``(unit,)`` or ``(unit, year)``): each
    bootstrap outcome is within-transformed the same way before refitting, so the bootstrap
    residuals are those of the dummy regression (the cluster-weighted residuals are not
    orthogonal to the year effects). No intercept is added. Returns one row per column of ``X`` with ``coef, se, t, p_wild,
    ci_low, ci_high, draws, weights``.

    Parameters
    ----------
    y : (n,) array; X : (n, k) array; cluster : (n,) labels.
    draws : number of bootstrap draws (fewer if Rademacher enumeration is exact).
    rng : numpy Generator (seeded by the caller).
    weights : ``"auto"``, ``"rademacher"`` or ``"webb"``.
    ci : interval level.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    y = np.asarray(y, float)
    X = np.asarray(X, float)
    if X.ndim == 1:
        X = X[:, None]
    cl = P.codes(cluster)
    G = int(cl.max()) + 1
    V, wlabel = bootstrap_weights(G, int(draws), rng, weights)
    Vobs = V[:, cl]  # B x n
    XtX_inv = np.linalg.inv(X.T @ X)
    A = XtX_inv @ X.T  # k x n
    beta = A @ y
    u = y - X @ beta
    rows = []
    a = (1 - ci) / 2
    index = _cluster_index(cl, G)
    # WCU bootstrap samples do not depend on the coefficient: transform and refit them once
    Ys_u = (X @ beta)[None, :] + absorb_effects(u[None, :] * Vobs, absorb)
    Bs_u = Ys_u @ A.T
    Es_u = Ys_u - Bs_u @ X.T
    for j in range(X.shape[1]):
        c = A[j]
        se = float(_cluster_se_rows(u[None, :], c, index)[0])
        t = beta[j] / se if se > 0 else np.nan
        # WCR: impose b_j = 0
        Xr = np.delete(X, j, axis=1)
        if Xr.shape[1]:
            br = np.linalg.lstsq(Xr, y, rcond=None)[0]
            fr = Xr @ br
        else:
            fr = np.zeros_like(y)
        ur = y - fr
        Ys = fr[None, :] + absorb_effects(ur[None, :] * Vobs, absorb)
        Bs = Ys @ A.T
        Es = Ys - Bs @ X.T
        ses = _cluster_se_rows(Es, c, index)
        with np.errstate(divide="ignore", invalid="ignore"):
            ts = Bs[:, j] / ses
        p = float(np.mean(np.abs(ts[np.isfinite(ts)]) >= abs(t) - 1e-12)) if np.isfinite(t) else np.nan
        # WCU: percentile-t interval (samples and refits computed once above)
        ses = _cluster_se_rows(Es_u, c, index)
        with np.errstate(divide="ignore", invalid="ignore"):
            tu = (Bs_u[:, j] - beta[j]) / ses
        tu = tu[np.isfinite(tu)]
        if len(tu) and se > 0:
            qlo, qhi = np.quantile(tu, [a, 1 - a])
            lo, hi = beta[j] - qhi * se, beta[j] - qlo * se
        else:
            lo = hi = np.nan
        rows.append(
            {"coef": beta[j], "se": se, "t": t, "p_wild": p, "ci_low": lo, "ci_high": hi,
             "draws": int(V.shape[0]), "weights": wlabel}
        )
    return pd.DataFrame(rows)



def cluster_se(X: np.ndarray, resid: np.ndarray, XtX_inv: np.ndarray, cluster: np.ndarray,
               n_absorbed: int) -> np.ndarray:
    """CR1 cluster-robust standard errors (Stata's small-sample factor
    ``G/(G-1) * (n-1)/(n-k)`` with ``k`` counting the absorbed effects too)."""
    codes = pd.factorize(np.asarray(cluster), sort=True)[0]
    G = int(codes.max()) + 1
    n, k = X.shape
    S = np.zeros((G, k))
    np.add.at(S, codes, X * resid[:, None])
    V = XtX_inv @ (S.T @ S) @ XtX_inv
    c = G / (G - 1) * (n - 1) / max(n - k - n_absorbed, 1) if G > 1 else np.nan
    return np.sqrt(np.clip(np.diag(V) * c, 0, None))


# --------------------------------------------------------------------------- seeds, intervals
def rng_from(study: Mapping, offset: int = 0) -> np.random.Generator:
    """Seeded generator from ``study["seed"]`` (default 0) plus a stage-specific ``offset``."""
    seed = int(study.get("seed", 0) or 0)
    return np.random.default_rng([seed, offset])


def stable_offset(*parts: object) -> int:
    """A deterministic non-negative integer from strings (for per-outcome/unit sub-seeds)."""
    import zlib

    return zlib.crc32("|".join(map(str, parts)).encode()) & 0x7FFFFFFF


def position_p(draws: np.ndarray, estimate: float, rel_tol: float = 1e-9) -> float:
    """Two-sided position of ``estimate`` among resampled ``draws``:
    ``min(1, 2 * min(share of draws <= estimate, share >= estimate))``; NaN without draws.

    A draw within ``rel_tol * max(|estimate|, max |draw|)`` of the estimate counts as equal, on
    both sides: a resample that reproduces the sample (every unit drawn once) gives the
    estimate itself, and rounding in its last bits must not decide on which side it falls.
    """
    v = np.asarray(draws, float)
    v = v[np.isfinite(v)]
    if not len(v):
        return float("nan")
    tol = rel_tol * max(abs(float(estimate)), float(np.abs(v).max()))
    below = float(np.mean(v <= estimate + tol))
    above = float(np.mean(v >= estimate - tol))
    return float(min(1.0, 2 * min(below, above)))


def percentile_ci(draws: np.ndarray, level: float, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of bootstrap ``draws`` along ``axis`` at ``level`` (NaN draws ignored)."""
    a = (1.0 - level) / 2.0
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            lo = np.nanquantile(draws, a, axis=axis)
            hi = np.nanquantile(draws, 1.0 - a, axis=axis)
    return lo, hi
