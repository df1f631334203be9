"""Per-pixel methods, vectorised over pixels (time is the last axis; no Python loop per pixel).

Every function takes numpy arrays of shape ``(..., T)`` (any number of leading pixel axes) and
returns arrays of the leading shape; :func:`dlddrivers.gridded.pipeline.pixel_analysis` runs
them on dask-backed ``xarray.DataArray`` stacks with ``xarray.apply_ufunc(...,
dask="parallelized")``, so a chunk is the unit of work and memory.

* :func:`mk_theilsen`: Mann-Kendall S, its tie-corrected variance, z and two-sided p (as
  ``pymannkendall.original_test``) and the Theil-Sen slope with Sen's (1968) confidence interval
  (as ``scipy.stats.theilslopes``). Missing years (NaN) are skipped pair by pair, so each pixel
  uses its own n. ``variant="tfpw"`` is the trend-free pre-whitening of Yue et al. (2002)
  (``pymannkendall.trend_free_pre_whitening_modification_test``) for lag-1 autocorrelated
  series: the slope and interval stay those of the original series, S/z/p come from the
  pre-whitened one.
* :func:`ols_fit`: batched OLS of ``y`` on a constant and climate regressors with the overall
  F-test (for RESTREND and the climate-corrected trajectory).
* :func:`restrend`: RESTREND (Evans and Geerken 2004): vegetation ~ climate per pixel, refused
  where the fit's F-test is not significant (Wessels et al. 2012); trends of the actual series,
  the climate-fitted series (the climate-driven trend) and the residuals (non-climatic trend).
* :func:`sdg_trajectory`, :func:`sdg_state`, :func:`sdg_performance`, :func:`sdg_prod5`:
  Trends.Earth's SDG 15.3.1 productivity terms per pixel (same definitions as
  :mod:`dlddrivers.methods.sdg`, which holds the scalar versions the tests compare against).
* :func:`attribution_class`: the climate-vs-human scenario scheme of potential-vs-actual
  productivity studies (Xu et al. 2010, Environ. Earth Sci. 59:1329; Zhou et al. 2015, Ecol.
  Indic. 48:560-569): the actual trend's sign decides degradation or improvement, the signs of
  the climate-driven trend and of the human (residual) trend decide which dominated.
* :func:`bh_fdr`: Benjamini-Hochberg adjusted p-values over the whole field (as
  ``scipy.stats.false_discovery_control``), so "significant" controls the share of false
  discoveries among the pixels called significant, not the per-pixel error rate.
* :func:`cell_area_km2`: area of a lon/lat cell on the authalic sphere.
"""

from __future__ import annotations

import numpy as np

#: Radius of the sphere with the surface area of the WGS84 ellipsoid (km)
AUTHALIC_RADIUS_KM = 6371.0072

#: attribution class codes and labels (``-1`` insufficient data)
ATTRIBUTION_CLASSES: dict[int, str] = {
    -1: "insufficient data",
    0: "no significant change",
    1: "degradation: climate-dominated",
    2: "degradation: human-dominated",
    3: "degradation: climate and human",
    4: "degradation: unattributed (no significant component)",
    5: "improvement: climate-dominated",
    6: "improvement: human-dominated",
    7: "improvement: climate and human",
    8: "improvement: unattributed (no significant component)",
    9: "climate fit refused (actual trend only)",
}

PROD5_LABELS = {1: "declining", 2: "early signs of decline", 3: "stable but stressed",
                4: "stable", 5: "increasing"}

_BLOCK = 16384  # pixels per inner block of the pairwise computation (bounds memory)


def _flat(y: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    y = np.asarray(y, dtype=np.float64)
    lead = y.shape[:-1]
    return y.reshape(-1, y.shape[-1]), lead


def _norm_sf(z: np.ndarray) -> np.ndarray:
    from scipy.special import ndtr

    return ndtr(-z)


def _norm_ppf(q: float) -> float:
    from scipy.special import ndtri

    return float(ndtri(q))


def _mk_block(y: np.ndarray, x: np.ndarray, want_slopes: bool, alpha: float) -> dict:
    """MK and Theil-Sen for a (P, T) block (NaN = missing)."""
    P, T = y.shape
    ok = np.isfinite(y)
    allok = bool(ok.all())
    n = np.full(P, float(T)) if allok else ok.sum(axis=1).astype(np.float64)
    pi, pj = np.triu_indices(T, 1)
    # all pairwise differences (P, pairs), float32 to halve memory traffic (the slopes' median and
    # interval are order statistics: float32 keeps 7 significant digits); NaN where a year is missing
    D = np.empty((P, len(pi)), dtype=np.float32)
    k = 0
    for i in range(T - 1):
        m = T - i - 1
        np.subtract(y[:, i + 1 :], y[:, i : i + 1], out=D[:, k : k + m], casting="same_kind")
        k += m
    if allok:
        s = (D > 0).sum(axis=1).astype(np.float64) - (D < 0).sum(axis=1)
    else:
        s = np.nan_to_num(np.sign(D)).sum(axis=1)
    # per element: how many other elements equal it (tie groups)
    ties = np.zeros((P, T))
    eq = D == 0
    if eq.any():
        rows, cols = np.nonzero(eq)
        np.add.at(ties, (rows, pi[cols]), 1.0)
        np.add.at(ties, (rows, pj[cols]), 1.0)
    slopes = D / (x[pj] - x[pi]).astype(np.float32)[None, :] if want_slopes else None
    # sum over tie groups of t(t-1)(2t+5) = sum over tied elements of (c-1)(2c+5), c = group size
    c = ties + 1.0
    tie_term = np.where(ok, (c - 1.0) * (2.0 * c + 5.0), 0.0).sum(axis=1)
    var_s = (n * (n - 1.0) * (2.0 * n + 5.0) - tie_term) / 18.0
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(var_s)
        z = np.where(s > 0, (s - 1.0) / sd, np.where(s < 0, (s + 1.0) / sd, 0.0))
    z = np.where(var_s > 0, z, np.nan)
    p = 2.0 * _norm_sf(np.abs(z))
    out = {"mk_s": s, "var_s": var_s, "z": z, "p": p, "n": n}
    if want_slopes:
        slopes.sort(axis=1)  # NaN last
        srt = slopes
        m = np.full(P, slopes.shape[1]) if allok else np.isfinite(slopes).sum(axis=1)
        has = m > 0
        mm = np.maximum(m, 1)
        lo_i = ((mm - 1) // 2)[:, None]
        hi_i = (mm // 2)[:, None]
        med = 0.5 * (np.take_along_axis(srt, lo_i, 1).astype(np.float64)
                     + np.take_along_axis(srt, hi_i, 1))[:, 0]
        # Sen (1968) eq. 2.6 interval indices, exactly as scipy.stats.theilslopes (x has no ties)
        zq = _norm_ppf(alpha / 2.0)
        with np.errstate(invalid="ignore"):
            sigma = np.sqrt(np.maximum(var_s, 0.0))
        ru = np.minimum(np.round((m - zq * sigma) / 2.0), m - 1)
        rl = np.maximum(np.round((m + zq * sigma) / 2.0) - 1.0, 0.0)
        ru = np.clip(np.nan_to_num(ru), 0, None).astype(np.int64)
        rl = np.clip(np.nan_to_num(rl), 0, None).astype(np.int64)
        lo = np.take_along_axis(srt, rl[:, None], 1)[:, 0].astype(np.float64)
        hi = np.take_along_axis(srt, ru[:, None], 1)[:, 0].astype(np.float64)
        # intercept as scipy: median(y) - slope * median(x), on the pixel's valid years
        if allok:
            icpt = np.median(y, axis=1) - med * np.median(x)
        else:
            with np.errstate(invalid="ignore"):
                icpt = (np.nanmedian(np.where(ok, y, np.nan), axis=1)
                        - med * np.nanmedian(np.where(ok, x[None, :], np.nan), axis=1))
        out.update(slope=np.where(has, med, np.nan), ci_low=np.where(has, lo, np.nan),
                   ci_high=np.where(has, hi, np.nan), intercept=np.where(has, icpt, np.nan))
    return out


def _lag1_acf(r: np.ndarray) -> np.ndarray:
    """Lag-1 autocorrelation per row as statsmodels ``acf`` (demeaned, biased denominator)."""
    d = r - np.nanmean(r, axis=1, keepdims=True)
    num = np.nansum(d[:, 1:] * d[:, :-1], axis=1)
    den = np.nansum(d * d, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, 0.0)


def _hamed_rao(y: np.ndarray, x: np.ndarray, r: dict, alpha: float = 0.05) -> dict:
    """Hamed and Rao (1998) variance correction, the computation of
    ``pymannkendall.hamed_rao_modification_test`` (all lags; autocorrelations of the ranks of the
    Sen-detrended series that are significant at ``alpha`` inflate var S). Ranks can differ from
    pymannkendall's where two detrended values are within 1e-6 of the range (then tied here), so
    p-values agree closely but not exactly. Series with missing years keep the uncorrected
    variance. On 30-year series it is liberal (about 8 % rejections at a nominal 5 % on white
    noise in our check), like the other corrections; see the recovery table."""
    from scipy.stats import rankdata

    P, n = y.shape
    det = y - x[None, :] * r["slope"][:, None]
    complete = np.isfinite(det).all(axis=1)
    # Sen's slope is one of the pair slopes, so detrending ties that pair exactly; the float32
    # slope breaks such ties by rounding noise: rank on values rounded to 1e-6 of the range
    det = np.where(complete[:, None], det, 0.0)
    scale = np.abs(det).max(axis=1, keepdims=True)
    det = np.round(det / np.where(scale > 0, scale, 1.0) * 1e6)
    rk = rankdata(det, axis=1)
    d = rk - rk.mean(axis=1, keepdims=True)
    acov0 = (d * d).sum(axis=1)
    bound = _norm_ppf(1 - alpha / 2) / np.sqrt(n)
    sni = np.zeros(P)
    for k in range(1, n):
        with np.errstate(invalid="ignore", divide="ignore"):
            ak = (d[:, k:] * d[:, :-k]).sum(axis=1) / acov0
        sig = (ak > bound) | (ak < -bound)
        sni += np.where(sig, (n - k) * (n - k - 1) * (n - k - 2) * ak, 0.0)
    ratio = 1 + 2.0 / (n * (n - 1) * (n - 2)) * sni
    var_s = np.where(complete, r["var_s"] * ratio, r["var_s"])
    s = r["mk_s"]
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(var_s)
        z = np.where(s > 0, (s - 1.0) / sd, np.where(s < 0, (s + 1.0) / sd, 0.0))
    z = np.where(var_s > 0, z, np.nan)
    return {"var_s": var_s, "z": z, "p": 2.0 * _norm_sf(np.abs(z))}


def mk_theilsen(y: np.ndarray, x: np.ndarray | None = None, alpha: float = 0.05,
                variant: str = "original", min_years: int = 8) -> dict[str, np.ndarray]:
    """Mann-Kendall test and Theil-Sen slope for every series of ``y`` (time on the last axis).

    Returns arrays of the leading shape: ``slope`` (per unit of ``x``), ``ci_low``, ``ci_high``
    (Sen's ``1 - alpha`` interval), ``intercept``, ``mk_s``, ``var_s``, ``z``, ``p`` (two-sided)
    and ``n`` (valid years). Series with fewer than ``min_years`` valid values get NaN.
    ``variant``: ``original``, ``tfpw`` (trend-free pre-whitening, Yue et al. 2002) or
    ``hamed_rao`` (variance correction for autocorrelation, Hamed and Rao 1998).
    """
    if variant not in ("original", "tfpw", "hamed_rao"):
        raise ValueError(f"mk_theilsen: variant={variant!r}; expected 'original', 'tfpw' or 'hamed_rao'")
    yf, lead = _flat(y)
    T = yf.shape[1]
    x = np.arange(T, dtype=np.float64) if x is None else np.asarray(x, dtype=np.float64)
    if x.shape != (T,):
        raise ValueError(f"mk_theilsen: x has shape {x.shape}; expected ({T},)")
    keys = ("slope", "ci_low", "ci_high", "intercept", "mk_s", "var_s", "z", "p", "n")
    out = {k: np.full(yf.shape[0], np.nan) for k in keys}
    for b0 in range(0, yf.shape[0], _BLOCK):
        blk = yf[b0 : b0 + _BLOCK]
        r = _mk_block(blk, x, True, alpha)
        if variant == "tfpw":
            # Yue et al. (2002) as pymannkendall: detrend with Sen's slope, remove the lag-1
            # autocorrelation, add the trend back, test that series (one value shorter)
            det = blk - x[None, :] * r["slope"][:, None]
            r1 = _lag1_acf(det)
            pw = det[:, 1:] - r1[:, None] * det[:, :-1] + x[None, 1:] * r["slope"][:, None]
            r2 = _mk_block(pw, x[1:], False, alpha)
            r.update({k: r2[k] for k in ("mk_s", "var_s", "z", "p")})
        elif variant == "hamed_rao":
            r.update(_hamed_rao(blk, x, r))
        for k in keys:
            out[k][b0 : b0 + _BLOCK] = r[k]
    few = out["n"] < min_years
    for k in keys:
        if k != "n":
            out[k][few] = np.nan
    return {k: v.reshape(lead) for k, v in out.items()}


def ols_slope(y: np.ndarray, x: np.ndarray | None = None) -> np.ndarray:
    """OLS slope of each series on ``x`` (NaN years skipped)."""
    yf, lead = _flat(y)
    T = yf.shape[1]
    x = np.arange(T, dtype=np.float64) if x is None else np.asarray(x, dtype=np.float64)
    ok = np.isfinite(yf)
    xw = np.where(ok, x[None, :], np.nan)
    xc = xw - np.nanmean(xw, axis=1, keepdims=True)
    yc = yf - np.nanmean(np.where(ok, yf, np.nan), axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        b = np.nansum(xc * yc, axis=1) / np.nansum(xc * xc, axis=1)
    return b.reshape(lead)


def ols_fit(y: np.ndarray, X: np.ndarray) -> dict[str, np.ndarray]:
    """Batched OLS of ``y`` (..., T) on a constant and ``X`` (..., T, k), NaN rows skipped.

    Returns ``fitted`` and ``resid`` (..., T; NaN where a row is missing), ``beta`` (..., k+1),
    ``r2``, ``f_p`` (overall F-test p-value), ``n`` and ``singular`` (rank-deficient or no
    residual degrees of freedom).
    """
    from scipy.special import fdtrc

    yf, lead = _flat(y)
    T = yf.shape[1]
    X = np.asarray(X, dtype=np.float64)
    if X.shape[:-1] != lead + (T,):
        raise ValueError(f"ols_fit: X has shape {X.shape}; expected {lead + (T,)} + (k,)")
    k = X.shape[-1]
    Xf = X.reshape(-1, T, k)
    ok = np.isfinite(yf) & np.isfinite(Xf).all(axis=2)
    A = np.concatenate([np.ones(Xf.shape[:2] + (1,)), Xf], axis=2)
    A = np.where(ok[:, :, None], A, 0.0)
    yz = np.where(ok, yf, 0.0)
    n = ok.sum(axis=1).astype(np.float64)
    AtA = np.einsum("pti,ptj->pij", A, A)
    Aty = np.einsum("pti,pt->pi", A, yz)
    # a column with no variation (constant climate) makes AtA singular: detect by the
    # determinant of the centred cross-product scaled by its diagonal
    # rank check by the determinant of the cross-product scaled to unit diagonal (a batched
    # 3 x 3 determinant is far cheaper than an SVD per pixel)
    dg = np.sqrt(np.einsum("pii->pi", AtA))
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = AtA / (dg[:, :, None] * dg[:, None, :])
        det_ok = np.abs(np.linalg.det(np.nan_to_num(scaled))) > 1e-10 if len(AtA) else np.zeros(0, bool)
    safe = np.where(det_ok[:, None, None], AtA, np.eye(k + 1)[None])
    beta = np.linalg.solve(safe, Aty[:, :, None])[:, :, 0]
    fitted = np.einsum("pti,pi->pt", A, beta)
    resid = np.where(ok, yz - fitted, np.nan)
    fitted = np.where(ok, fitted, np.nan)
    ybar = np.nansum(np.where(ok, yf, 0.0), axis=1) / np.maximum(n, 1)
    sst = np.where(ok, (yf - ybar[:, None]) ** 2, 0.0).sum(axis=1)
    sse = np.nansum(resid**2, axis=1)
    df2 = n - k - 1
    singular = ~det_ok | (df2 <= 0) | (sst <= 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.where(sst > 0, 1.0 - sse / sst, np.nan)
        F = (r2 / k) / np.maximum((1.0 - r2) / df2, 1e-300)
        fp = np.where(singular, np.nan, fdtrc(k, np.maximum(df2, 1), F))
    beta = np.where(singular[:, None], np.nan, beta)
    return {"fitted": fitted.reshape(lead + (T,)), "resid": resid.reshape(lead + (T,)),
            "beta": beta.reshape(lead + (k + 1,)), "r2": np.where(singular, np.nan, r2).reshape(lead),
            "f_p": fp.reshape(lead), "n": n.reshape(lead), "singular": singular.reshape(lead)}


def restrend(y: np.ndarray, climate: np.ndarray, x: np.ndarray | None = None,
             alpha_fit: float = 0.05, variant: str = "original", min_years: int = 8,
             ci_alpha: float = 0.05) -> dict[str, np.ndarray]:
    """RESTREND per pixel: ``y`` (..., T) ~ constant + ``climate`` (..., T, k).

    Returns ``fit_r2``, ``fit_p``, ``refused`` (fit p >= ``alpha_fit``, singular or fewer than
    ``min_years`` years: residuals then mean nothing and their trend is NaN), and for each of
    ``actual`` (y), ``climate`` (the fitted values: the climate-driven trend) and ``residual``
    (y - fitted: the non-climatic trend, not automatically human) the :func:`mk_theilsen`
    results prefixed ``<name>_`` (slope, ci_low, ci_high, p, n).
    """
    fit = ols_fit(y, climate)
    refused = fit["singular"] | ~(fit["f_p"] < alpha_fit) | (fit["n"] < min_years)
    out: dict[str, np.ndarray] = {"fit_r2": fit["r2"], "fit_p": fit["f_p"], "refused": refused}
    for name, series in (("actual", y), ("climate", fit["fitted"]), ("residual", fit["resid"])):
        r = mk_theilsen(series, x, alpha=ci_alpha, variant=variant, min_years=min_years)
        for key in ("slope", "ci_low", "ci_high", "p", "n"):
            v = r[key]
            if name != "actual" and key != "n":
                v = np.where(refused, np.nan, v)
            out[f"{name}_{key}"] = v
    return out


def bh_fdr(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values over all finite entries of ``p`` (any shape).

    NaN stays NaN and does not count in the number of tests (a pixel with no test is not a
    hypothesis). Equals ``scipy.stats.false_discovery_control(p[finite], method="bh")``.
    """
    p = np.asarray(p, dtype=np.float64)
    flat = p.ravel()
    fin = np.isfinite(flat)
    q = np.full(flat.shape, np.nan)
    pv = flat[fin]
    m = pv.size
    if m:
        order = np.argsort(pv, kind="stable")
        ranked = pv[order] * m / np.arange(1, m + 1)
        adj = np.minimum.accumulate(ranked[::-1])[::-1]
        res = np.empty(m)
        res[order] = np.minimum(adj, 1.0)
        q[fin] = res
    return q.reshape(p.shape)


def attribution_class(actual_slope, actual_sig, climate_slope, climate_sig, human_slope,
                      human_sig, refused) -> np.ndarray:
    """Per-pixel attribution class (codes in :data:`ATTRIBUTION_CLASSES`).

    The scheme of potential-vs-actual productivity studies (Xu et al. 2010; Zhou et al. 2015):
    with a significant actual trend, its sign says degradation (< 0) or improvement (> 0); a
    component (climate-driven = trend of the climate-fitted series, human = trend of the
    residuals) *contributes* when it is significant and has the actual trend's sign. Both
    contribute: "climate and human"; one: "<it>-dominated"; none: "unattributed". Not
    significant: "no significant change". Where the climate fit was refused the class is 9, and
    where the actual trend could not be computed, -1. ``*_sig`` are boolean arrays (e.g. FDR
    q < 0.05).
    """
    a = np.asarray(actual_slope, dtype=float)
    asig = np.asarray(actual_sig, dtype=bool) & np.isfinite(a)
    sgn = np.sign(a)
    c_on = np.asarray(climate_sig, bool) & (np.sign(climate_slope) == sgn)
    h_on = np.asarray(human_sig, bool) & (np.sign(human_slope) == sgn)
    base = np.where(sgn < 0, 0, 4)
    comp = np.where(c_on & h_on, 3, np.where(c_on, 1, np.where(h_on, 2, 4)))
    cls = np.where(asig, base + comp, 0)
    cls = np.where(np.asarray(refused, bool) & np.isfinite(a), 9, cls)
    cls = np.where(np.isfinite(a), cls, -1)
    return cls.astype(np.int8)


# --------------------------------------------------------------------- SDG 15.3.1 (Trends.Earth)
def sdg_trajectory(y: np.ndarray, x: np.ndarray | None = None, min_years: int = 8,
                   p: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Trends.Earth trajectory: class -3..+3 from the OLS slope's sign and the Mann-Kendall
    p-value (99/95/90 %), ``deg`` -1 when class <= -2, +1 when >= +2. ``p`` may be given (e.g.
    from a climate-corrected series); otherwise it is computed from ``y``."""
    slope = ols_slope(y, x)
    if p is None:
        p = mk_theilsen(y, x, min_years=min_years)["p"]
    level = np.where(p < 0.01, 3, np.where(p < 0.05, 2, np.where(p < 0.10, 1, 0)))
    cls = (level * np.sign(slope)).astype(float)
    cls = np.where(np.isfinite(p) & np.isfinite(slope), cls, np.nan)
    deg = np.where(cls <= -2, -1, np.where(cls >= 2, 1, 0)).astype(float)
    return {"slope": slope, "p": p, "cls": cls, "deg": np.where(np.isfinite(cls), deg, np.nan)}


def _row_percentiles(a: np.ndarray, qs: np.ndarray) -> np.ndarray:
    """Percentiles of each row ignoring NaN, numpy's default linear interpolation, vectorised
    (``np.nanpercentile(a, qs, axis=1).T`` loops in Python over rows)."""
    srt = np.sort(a, axis=1)  # NaN last
    m = np.isfinite(a).sum(axis=1)
    out = np.full((a.shape[0], len(qs)), np.nan)
    ok = m > 0
    for k, q in enumerate(qs):
        pos = (np.maximum(m, 1) - 1) * (q / 100.0)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, np.maximum(m, 1) - 1)
        frac = pos - lo
        vlo = np.take_along_axis(srt, lo[:, None], 1)[:, 0]
        vhi = np.take_along_axis(srt, hi[:, None], 1)[:, 0]
        out[:, k] = np.where(ok, vlo + (vhi - vlo) * frac, np.nan)
    return out


def sdg_state(y: np.ndarray, baseline: slice, recent: slice, min_baseline: int = 5) -> dict:
    """Trends.Earth state per pixel: baseline values plus two pseudo-values 5 % of the range
    beyond min and max, cut at their 10th..90th percentiles (linear) into classes 1..10; change =
    class(recent mean) - class(baseline mean); ``deg`` -1 when <= -2, +1 when >= +2."""
    yf, lead = _flat(y)
    b = yf[:, baseline]
    nb = np.isfinite(b).sum(axis=1)
    lo, hi = np.nanmin(np.where(nb[:, None] > 0, b, 0), axis=1), np.nanmax(
        np.where(nb[:, None] > 0, b, 0), axis=1)
    ext = np.concatenate([b, (lo - 0.05 * (hi - lo))[:, None], (hi + 0.05 * (hi - lo))[:, None]], 1)
    pct = _row_percentiles(ext, np.arange(10, 100, 10))  # (P, 9), as np.nanpercentile per row
    with np.errstate(invalid="ignore"):
        bm = np.nanmean(b, axis=1)
        rm = np.nanmean(yf[:, recent], axis=1)
    bcl = 1 + (bm[:, None] > pct).sum(axis=1)
    rcl = 1 + (rm[:, None] > pct).sum(axis=1)
    change = (rcl - bcl).astype(float)
    valid = (nb >= min_baseline) & np.isfinite(rm)
    change = np.where(valid, change, np.nan)
    deg = np.where(change <= -2, -1, np.where(change >= 2, 1, 0)).astype(float)
    return {"baseline_class": np.where(valid, bcl, np.nan).reshape(lead),
            "recent_class": np.where(valid, rcl, np.nan).reshape(lead),
            "change": change.reshape(lead),
            "deg": np.where(valid, deg, np.nan).reshape(lead)}


def sdg_performance(mean: np.ndarray, zone: np.ndarray | None = None,
                    min_pixels: int = 10) -> dict[str, np.ndarray]:
    """Trends.Earth performance: a pixel's period mean over the 90th percentile of the means of
    the pixels in its zone (comparable land units; one zone when ``zone`` is None); ``deg`` -1
    where the ratio <= 0.5. Zones with fewer than ``min_pixels`` valid pixels get NaN."""
    m = np.asarray(mean, dtype=float)
    z = np.zeros(m.shape, dtype=np.int64) if zone is None else np.asarray(zone)
    ratio = np.full(m.shape, np.nan)
    for zv in np.unique(z[np.isfinite(m)]):
        sel = (z == zv) & np.isfinite(m)
        if sel.sum() < min_pixels:
            continue
        p90 = np.percentile(m[sel], 90)
        ratio[sel] = m[sel] / p90
    deg = np.where(np.isfinite(ratio), np.where(ratio <= 0.5, -1, 0), np.nan)
    return {"ratio": ratio, "deg": deg}


def sdg_prod5(traj_deg, state_deg, perf_deg) -> np.ndarray:
    """Trends.Earth ``calc_prod5`` per pixel (1 declining ... 5 increasing; NaN if any term is
    missing), the same look-up as :func:`dlddrivers.methods.sdg.prod5`."""
    t, s, p = (np.asarray(v, dtype=float) for v in (traj_deg, state_deg, perf_deg))
    out = np.where(t == -1, 1, np.where(t == 0, 4, 5)).astype(float)
    out = np.where((t == 0) & (s == 0) & (p == -1), 3, out)
    out = np.where((t == 1) & (s == -1) & (p == -1), 2, out)
    out = np.where((t == 0) & (s == -1) & (p == 0), 2, out)
    out = np.where((t == 0) & (s == -1) & (p == -1), 1, out)
    return np.where(np.isfinite(t) & np.isfinite(s) & np.isfinite(p), out, np.nan)


# ------------------------------------------------------------------------------ geometry
def slope_colour_limit(slopes: np.ndarray, q: float = 98.0) -> float:
    """The symmetric colour limit of a slope map: the ``q``-th percentile of ``|slope|`` over
    the finite pixels (1.0 when none is finite or the percentile is 0), so a few extreme pixels
    do not wash out the map. Returned with the maps' inputs, recorded in the study's run.json."""
    v = np.asarray(slopes, dtype=float)
    fin = np.isfinite(v)
    lim = float(np.nanpercentile(np.abs(v[fin]), q)) if fin.any() else 1.0
    return lim or 1.0


def cell_area_km2(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Area (km2) of each cell of a regular lon/lat grid given by its centre coordinates, on the
    authalic sphere: ``R^2 * dlon * (sin(lat_north) - sin(lat_south))``. Returns (lat, lon)."""
    lat = np.asarray(lat, dtype=float)
    lon = np.asarray(lon, dtype=float)
    if lat.size < 2 or lon.size < 2:
        raise ValueError(f"cell_area_km2: need at least 2 cells per axis (lat {lat.size}, lon {lon.size})")
    dlat = np.abs(np.diff(lat)).mean()
    dlon = np.abs(np.diff(lon)).mean()
    north = np.radians(np.clip(lat + dlat / 2, -90, 90))
    south = np.radians(np.clip(lat - dlat / 2, -90, 90))
    band = AUTHALIC_RADIUS_KM**2 * np.radians(dlon) * (np.sin(north) - np.sin(south))
    return np.repeat(band[:, None], lon.size, axis=1)
