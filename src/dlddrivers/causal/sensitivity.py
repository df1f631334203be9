"""Sensitivity of a linear effect to an unobserved confounder, as numbers (Cinelli and Hazlett
2020), unit-clustered inference and refuters that resample units.

Cinelli, C. and Hazlett, C. (2020). Making sense of sensitivity: extending omitted variable bias.
Journal of the Royal Statistical Society B 82(1):39-67. With ``t`` the treatment's t-value and
``dof`` the residual degrees of freedom of the linear fit (here corrected for the absorbed unit
and year effects):

* partial R2 of the treatment with the outcome: ``R2_{Y~D|X} = t^2 / (t^2 + dof)``;
* robustness value ``RV_q``: the partial R2 a confounder must have with *both* treatment and
  outcome to reduce the estimate by ``100 q %`` (``q = 1``: to zero):
  ``f_q = q |t| / sqrt(dof)``, ``RV_q = (sqrt(f_q^4 + 4 f_q^2) - f_q^2) / 2``;
* ``RV_{q,alpha}``: the same for the interval to include the reduced value at level
  ``1 - alpha``: ``f = f_q - |t*_{alpha/2, dof-1}| / sqrt(dof - 1)``; 0 when ``f <= 0``;
* benchmarking (their section 6.2): a confounder ``k`` times as strong as an observed covariate
  ``X_j`` (``k`` times its partial R2 with the treatment, ``k`` times its partial R2 with the
  outcome) has ``R2_{D~Z|X} = k r_d / (1 - r_d)`` and ``R2_{Y~Z|D,X} <= k r_y / (1 - r_y) *
  ((1 + sqrt(k r_d^2 / ((1 - k r_d)(1 - r_d)))) ...)`` (exact expression in
  :func:`benchmark_bounds`); the bias it can cause is
  ``se * sqrt(dof) * sqrt(R2_{Y~Z|D,X} R2_{D~Z|X} / (1 - R2_{D~Z|X}))``. :func:`k_to_erase`
  finds the smallest ``k`` whose bias reaches the estimate ("a confounder k times as strong as
  X_j would erase it").

Checked against the published Darfur example (``sensemakr``: estimate 0.097, se 0.023, t 4.18,
dof 783, partial R2 0.022, RV 0.139, RV_alpha 0.076).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from dlddrivers.methods.inference import cluster_se, position_p


def partial_r2(t: float, dof: float) -> float:
    """Partial R2 of a regressor with the outcome from its t-value: ``t^2 / (t^2 + dof)``."""
    t2 = float(t) ** 2
    return t2 / (t2 + float(dof)) if dof > 0 else float("nan")


def robustness_value(t: float, dof: float, q: float = 1.0, alpha: float | None = None) -> float:
    """Robustness value ``RV_q`` (``alpha=None``) or ``RV_{q,alpha}`` (Cinelli and Hazlett 2020,
    eq. 18-19, with the extreme-case branch of ``sensemakr``)."""
    from scipy import stats

    if not (np.isfinite(t) and dof > 1):
        return float("nan")
    fq = q * abs(float(t)) / np.sqrt(dof)
    if alpha is None:
        return float(0.5 * (np.sqrt(fq**4 + 4 * fq**2) - fq**2))
    fcrit = abs(float(stats.t.ppf(alpha / 2, dof - 1))) / np.sqrt(dof - 1)
    fqa = fq - fcrit
    if fqa <= 0:
        return 0.0
    if fq > 1 / fcrit:
        return float((fq**2 - fcrit**2) / (1 + fq**2))
    return float(0.5 * (np.sqrt(fqa**4 + 4 * fqa**2) - fqa**2))


def bias_bound(se: float, dof: float, r2yz_dx: float, r2dz_x: float) -> float:
    """Largest absolute bias from a confounder with partial R2 ``r2yz_dx`` (outcome, given
    treatment and covariates) and ``r2dz_x`` (treatment, given covariates)."""
    if not r2dz_x < 1:
        return float("inf")
    return float(se * np.sqrt(dof) * np.sqrt(r2yz_dx * r2dz_x / (1 - r2dz_x)))


def benchmark_bounds(k: float, r2dxj_x: float, r2yxj_dx: float) -> tuple[float, float]:
    """``(R2_{D~Z|X}, R2_{Y~Z|D,X})`` of a confounder ``k`` times as strong as covariate ``X_j``
    (``kd = ky = k``; ``sensemakr::ovb_partial_r2_bound``), with ``r2dxj_x`` the partial R2 of
    ``X_j`` with the treatment and ``r2yxj_dx`` with the outcome. The second is capped at 1."""
    kd = ky = float(k)
    if not kd * r2dxj_x < 1:
        return float("inf"), float("inf")
    r2dz_x = kd * r2dxj_x / (1 - r2dxj_x)
    r2zxj_xd = kd * r2dxj_x**2 / ((1 - kd * r2dxj_x) * (1 - r2dxj_x))
    if not r2zxj_xd < 1:
        return r2dz_x, float("inf")
    r2yz_dx = ((np.sqrt(ky) + np.sqrt(r2zxj_xd)) / np.sqrt(1 - r2zxj_xd)) ** 2 * (r2yxj_dx / (1 - r2yxj_dx))
    return float(r2dz_x), float(min(1.0, r2yz_dx))


def k_to_erase(estimate: float, se: float, dof: float, r2dxj_x: float, r2yxj_dx: float,
               *, k_max: float = 1000.0) -> float:
    """Smallest ``k`` such that a confounder ``k`` times as strong as ``X_j`` could bring the
    estimate to zero (bisection on the bias bound); ``inf`` if none up to ``k_max`` or the
    covariate has no association with treatment or outcome."""
    if not (np.isfinite(estimate) and se > 0 and r2dxj_x > 0 and r2yxj_dx > 0):
        return float("inf")

    def erased(k: float) -> bool:
        r2d, r2y = benchmark_bounds(k, r2dxj_x, r2yxj_dx)
        return bias_bound(se, dof, r2y, r2d) >= abs(estimate)

    hi = min(k_max, (1 / r2dxj_x) * (1 - 1e-12))
    if not erased(hi):
        return float("inf")
    lo = 0.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if erased(mid) else (mid, hi)
    return float(hi)


def ols(y: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """OLS without intercept (demeaned data): coefficients, residuals and ``(X'X)^{-1}``."""
    XtX_inv = np.linalg.pinv(X.T @ X)
    b = XtX_inv @ X.T @ y
    return b, y - X @ b, XtX_inv


def robustness_table(data: pd.DataFrame, treatment: str, outcome: str, adjust: Sequence[str],
                     dof: int, level: float, q: float = 1.0) -> dict:
    """Cluster-robust inference and Cinelli-Hazlett robustness numbers for one linear effect on
    two-way demeaned ``data`` (``unit`` column = clusters); ``dof`` residual df corrected for
    the absorbed unit and year effects.

    Returns ``se_cluster``, ``ci_low_cluster``, ``ci_high_cluster`` (t with ``G - 1`` df),
    ``n_clusters``, ``partial_r2_yd`` (treatment with outcome), ``rv_q1``, ``rv_q1_alpha``,
    ``benchmark`` (strongest observed covariate by its partial R2 with the treatment times
    with the outcome), ``benchmark_r2_d``, ``benchmark_r2_y`` and ``k_erase`` (how many times
    as strong as the benchmark a confounder must be to erase the estimate)."""
    from scipy import stats

    cols = [treatment, *adjust]
    X = data[cols].to_numpy(float)
    y = data[outcome].to_numpy(float)
    b, e, XtX_inv = ols(y, X)
    n, k = X.shape
    n_abs = n - k - int(dof)
    se_iid = float(np.sqrt(e @ e / dof * XtX_inv[0, 0])) if dof > 0 else np.nan
    t = float(b[0] / se_iid) if se_iid > 0 else np.nan
    se_cl = cluster_se(X, e, XtX_inv, data["unit"].to_numpy(), n_abs)
    G = int(data["unit"].nunique())
    qt = float(stats.t.ppf(0.5 + level / 2, G - 1)) if G > 1 else np.nan
    out = {"se_cluster": float(se_cl[0]), "ci_low_cluster": float(b[0] - qt * se_cl[0]),
           "ci_high_cluster": float(b[0] + qt * se_cl[0]), "n_clusters": G,
           "partial_r2_yd": partial_r2(t, dof), "rv_q1": robustness_value(t, dof, q),
           "rv_q1_alpha": robustness_value(t, dof, q, 1 - level), "benchmark": "",
           "benchmark_r2_d": np.nan, "benchmark_r2_y": np.nan, "k_erase": np.nan}
    best = None
    for j, c in enumerate(adjust, start=1):
        # partial R2 of X_j with the outcome given D and the rest: its t in the outcome model
        se_j = float(np.sqrt(e @ e / dof * XtX_inv[j, j]))
        r2y = partial_r2(b[j] / se_j, dof) if se_j > 0 else 0.0
        # with the treatment given the other covariates: its t in the treatment model
        others = [m for m in range(1, k) if m != j]
        Xd = X[:, [j, *others]]
        bd, ed, Vd = ols(X[:, 0], Xd)
        dof_d = dof + 1  # the treatment model has one regressor fewer
        se_d = float(np.sqrt(ed @ ed / dof_d * Vd[0, 0]))
        r2d = partial_r2(bd[0] / se_d, dof_d) if se_d > 0 else 0.0
        if best is None or r2y * r2d > best[1] * best[2]:
            best = (c, r2d, r2y)
    if best is not None:
        c, r2d, r2y = best
        out.update(benchmark=c, benchmark_r2_d=r2d, benchmark_r2_y=r2y,
                   k_erase=k_to_erase(float(b[0]), se_iid, dof, r2d, r2y))
    return out


def _refit(data: pd.DataFrame, treatment: str, outcome: str, adjust: Sequence[str]) -> float:
    """Treatment coefficient after two-way demeaning ``data`` (exact alternating projections)."""
    from dlddrivers.methods.paneltools import codes

    cols = [treatment, outcome, *adjust]
    return _refit_arrays(data[cols].to_numpy(float), codes(data["unit"]), codes(data["year"]))


def _refit_arrays(values: np.ndarray, unit: np.ndarray, year: np.ndarray) -> float:
    """:func:`_refit` on arrays: ``values`` (n, k) columns treatment, outcome, adjusters;
    ``unit``, ``year`` integer codes (:func:`dlddrivers.methods.paneltools.codes`)."""
    from dlddrivers.methods.paneltools import within

    Z = within(values, unit, year)
    X = Z[:, [0, *range(2, values.shape[1])]]
    if np.var(X[:, 0]) <= 1e-24:
        return float("nan")
    return float(ols(Z[:, 1], X)[0][0])


class _UnitResampler:
    """Rows of whole units, drawn as :func:`unit_resampling_refuters` draws them, as arrays.

    Each draw gives what ``pd.concat`` of the drawn units' frames (a bootstrap unit drawn twice
    relabelled ``"<unit>#<i>"``) then ``[cols].to_numpy(float)`` and
    :func:`~dlddrivers.methods.paneltools.codes` of its ``unit`` and ``year`` give: the same
    rows in the same order, in the same (Fortran) memory order, and the same integer codes, so
    the refit is the same arithmetic (equal to the last bit) without building data frames."""

    def __init__(self, data: pd.DataFrame, cols: list[str], units: np.ndarray) -> None:
        labels = data["unit"].astype(str).to_numpy()
        #: (k, n) C-ordered: a column selection of it, transposed, is (n', k) Fortran-ordered
        self._values_t = np.ascontiguousarray(data[cols].to_numpy(float).T)
        self._year = data["year"].to_numpy()
        # each unit's rows in the frame's order (groupby keeps it)
        self._rows = {u: np.flatnonzero(labels == u) for u in units}

    def draw(self, pick: np.ndarray, relabel: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(values (n, k), unit codes, year codes) of the units ``pick`` in that order."""
        from dlddrivers.methods.paneltools import codes

        parts = [self._rows[u] for u in pick]
        rows = np.concatenate(parts)
        lens = np.array([len(p) for p in parts])
        names = [f"{u}#{i}" for i, u in enumerate(pick)] if relabel else list(pick)
        # codes sort the distinct labels: a unit's code is its label's rank among them
        unit = np.repeat(codes(np.array(names, dtype=object)), lens)
        year = np.unique(self._year[rows], return_inverse=True)[1].astype(np.intp)
        return np.take(self._values_t, rows, axis=1).T, unit, year


def unit_resampling_refuters(data: pd.DataFrame, treatment: str, outcome: str,
                             adjust: Sequence[str], est: dict, *, n_sim: int,
                             subset_fraction: float, seed: int) -> list[dict]:
    """``unit_subset`` (a random ``subset_fraction`` of the units, without replacement) and
    ``unit_bootstrap`` (units drawn with replacement, a unit drawn twice enters twice as a new
    unit); each draw re-demeans and refits. Rule: the mean new effect lies within the
    estimate's interval. ``data``: rows with ``unit``, ``year`` and the raw (not demeaned)
    columns."""
    rng = np.random.default_rng([int(seed), 13])
    units = np.array(sorted(data["unit"].astype(str).unique()))
    G = len(units)
    # the drawn units' rows as arrays (the same rows, order and codes as concatenating their
    # frames: _UnitResampler), refitted by _refit's arithmetic
    resample = _UnitResampler(data, [treatment, outcome, *adjust], units)
    m = max(2, int(round(subset_fraction * G)))
    rows = []
    for name in ("unit_subset", "unit_bootstrap"):
        vals = []
        for _ in range(int(n_sim)):
            if name == "unit_subset":
                pick = rng.choice(units, size=min(m, G), replace=False)
            else:
                pick = rng.choice(units, size=G, replace=True)
            vals.append(_refit_arrays(*resample.draw(pick, relabel=name == "unit_bootstrap")))
        v = np.asarray(vals, float)
        v = v[np.isfinite(v)]
        new = float(v.mean()) if len(v) else float("nan")
        # where the estimate sits in the resampling distribution (two-sided; small p: the
        # estimate is atypical of its own unit resamples)
        p = position_p(v, est["effect"])
        rows.append({"refuter": name, "new_effect": new, "refuter_p_value": p,
                     "passed": bool(np.isfinite(new) and est["ci_low"] <= new <= est["ci_high"]),
                     "rule": (f"units resampled ({'fraction ' + str(subset_fraction) + ' without replacement' if name == 'unit_subset' else 'with replacement'}), "
                              "re-demeaned and refitted; pass if the mean new effect lies within "
                              "the estimate's interval; p = two-sided position of the estimate in the draws"),
                     "n_simulations": int(len(v)), "random_state": int(seed),
                     "erasing_strength": np.nan})
    return rows
