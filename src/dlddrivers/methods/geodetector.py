"""Geographical detector stage: factor and interaction detectors (q-statistic).

The factor detector (Wang et al. 2010, IJGIS 24:107-127) stratifies the response ``Y`` by a
discretised driver ``X`` into ``L`` strata and reports

    q = 1 - sum_h N_h sigma_h^2 / (N sigma^2),

the share of the variance of ``Y`` between strata (the one-way ANOVA eta squared). Its test
(Wang, Zhang and Fu 2016, Ecol. Indic. 67:250-256) uses

    F = (N - L) / (L - 1) * q / (1 - q)  ~  noncentral F(L - 1, N - L, lambda),
    lambda = [sum_h Ybar_h^2 - (sum_h sqrt(N_h) Ybar_h)^2 / N] / sigma^2,

with ``sigma^2`` the population variance of ``Y``; the p-value is ``P(F' > F)`` under that
distribution (``scipy.stats.ncf``). The interaction detector compares the q of the overlay
``X1 n X2`` (every combination of strata) with ``q(X1)`` and ``q(X2)``:

* nonlinear-weaken: q12 < min(q1, q2)
* uni-weaken: min(q1, q2) <= q12 <= max(q1, q2)
* bi-enhance: max(q1, q2) < q12 < q1 + q2
* independent: q12 = q1 + q2 (within ``interaction_tol``)
* nonlinear-enhance: q12 > q1 + q2

(Wang et al. 2010, Table 1; Wang and Xu 2017, Acta Geogr. Sin. 72:116-134.) On one sample the
overlay refines both stratifications, so q12 >= max(q1, q2) always: the two weaken classes cannot
occur with the classic q on the same observations; they are kept for completeness.

Honesty: q measures association, not cause; it grows with the number of strata and depends on
the binning, so every row reports the edges and stratum sizes beside q and a ``note`` says so.
A factor needs at least ``min_strata`` strata of at least ``min_stratum_size`` observations each,
otherwise the row's ``status`` is ``insufficient_data: ...`` and q is NaN.

Options (``DEFAULTS``)
----------------------
method : {"quantile", "equal", "natural"}
    Discretisation of continuous drivers: quantile bins, equal-width bins, or Jenks natural
    breaks (Fisher 1958 exact optimal partition, :func:`fisher_jenks`).
n_strata : int
    Number of bins requested (default 4). Tied edges leave empty bins, which are not counted.
within : bool
    Also run the detectors on within-unit demeaned data (each variable minus its unit mean),
    which removes the between-unit contrast that otherwise dominates q (default True).
min_strata, min_stratum_size : int
    At least 3 strata of at least 3 observations (defaults).
n_boot : int
    Unit-block bootstrap replicates for the q interval (default 499; binning held fixed).
ci_level : float
    Level of the bootstrap percentile interval (default 0.95).
interaction_tol : float
    Absolute tolerance for ``q12 == q1 + q2`` ("independent"), default 1e-9.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from .paneltools import within_frame
from .trends import restrict, study_variables

STAGE = "geodetector"

DEFAULTS: dict = {
    "method": "quantile",
    "n_strata": 4,
    "within": True,
    "min_strata": 3,
    "min_stratum_size": 3,
    "n_boot": 499,
    "ci_level": 0.95,
    "interaction_tol": 1e-9,
}

METHODS = ("quantile", "equal", "natural")

NOTE = (
    "q is the share of variance between strata (association, not cause); it grows with the "
    "number of strata and depends on the binning (edges and stratum sizes reported); the F-test "
    "p-value treats unit-years as independent, so with serial correlation within units it is "
    "optimistic (the unit-block bootstrap interval is the safer guide)"
)


# --------------------------------------------------------------------------- discretisation
def fisher_jenks(x: np.ndarray, k: int) -> np.ndarray:
    """Jenks natural breaks by Fisher's (1958) exact dynamic programme.

    Partitions the sorted values into ``k`` contiguous classes minimising the total within-class
    sum of squared deviations (Fisher 1958, JASA 53:789-798; Jenks 1977). O(k n^2) with numpy,
    meant for the small n of these panels.

    Returns
    -------
    ndarray of ``k + 1`` class edges: min, the upper bound of classes 1..k-1, max. Fewer classes
    are returned when ``x`` has fewer than ``k`` distinct values.
    """
    v = np.sort(np.asarray(x, dtype=float)[np.isfinite(x)])
    n = len(v)
    k = int(min(k, len(np.unique(v))))
    if n == 0 or k < 1:
        return np.array([])
    if k == 1:
        return np.array([v[0], v[-1]])
    c1 = np.concatenate([[0.0], np.cumsum(v)])
    c2 = np.concatenate([[0.0], np.cumsum(v * v)])
    # ssd[i, j] = SSD of v[i..j] inclusive (upper triangle)
    i = np.arange(n)[:, None]
    j = np.arange(n)[None, :]
    cnt = (j - i + 1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        s1 = c1[j + 1] - c1[i]
        ssd = (c2[j + 1] - c2[i]) - s1 * s1 / cnt
    ssd = np.where(j >= i, np.maximum(ssd, 0.0), np.inf)
    # cost[m, j] = best SSD of v[0..j] in m+1 classes; arg = start of the last class
    cost = np.full((k, n), np.inf)
    arg = np.zeros((k, n), dtype=int)
    cost[0] = ssd[0]
    for m in range(1, k):
        # last class v[s..j], s from m..j: cost[m-1, s-1] + ssd[s, j]
        prev = np.concatenate([[np.inf], cost[m - 1, :-1]])  # prev[s] = cost[m-1, s-1]
        tot = prev[:, None] + ssd  # [s, j]
        tot[: m, :] = np.inf
        arg[m] = np.argmin(tot, axis=0)
        cost[m] = tot[arg[m], np.arange(n)]
    # backtrack
    edges = [v[-1]]
    jj = n - 1
    for m in range(k - 1, 0, -1):
        s = arg[m, jj]
        edges.append(v[s - 1])
        jj = s - 1
    edges.append(v[0])
    return np.array(edges[::-1])


def bin_edges(x: np.ndarray, method: str = "quantile", n_strata: int = 4) -> np.ndarray:
    """Class edges (min, inner edges, max) of ``x`` by ``method``.

    Tied edges (quantiles of tied data; a Jenks class holding only the minimum) are kept, so
    the edge list can repeat a value and a class can be empty: only non-empty strata count.
    """
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if method not in METHODS:
        from ..errors import ConfigError

        raise ConfigError("methods.geodetector.method", method, f"one of {METHODS}")
    if len(x) == 0:
        return np.array([])
    if method == "quantile":
        e = np.quantile(x, np.linspace(0, 1, n_strata + 1))
    elif method == "equal":
        e = np.linspace(x.min(), x.max(), n_strata + 1)
    else:
        e = fisher_jenks(x, n_strata)
    return np.asarray(e, dtype=float)


def assign_strata(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Stratum index 0..L-1 of each value: class h holds (edge_h, edge_h+1], the first is closed."""
    inner = np.asarray(edges)[1:-1]
    return np.searchsorted(inner, np.asarray(x, dtype=float), side="left")


# --------------------------------------------------------------------------- detectors
RISK_COLUMNS = ["study", "y", "x", "sample", "stratum", "lower", "upper", "n", "mean_y", "sd_y",
                "ci_low", "ci_high", "ci_level", "p_vs_next", "significant_vs_next", "n_differs",
                "estimand", "status"]


def risk_detector(y: np.ndarray, strata: np.ndarray, edges: np.ndarray, level: float = 0.95,
                  alpha: float = 0.05) -> pd.DataFrame:
    """Risk detector (Wang et al. 2010): the mean of ``y`` in each stratum with a t interval,
    and Welch t-tests between strata means: ``p_vs_next`` against the next stratum up,
    ``n_differs`` the number of other strata whose mean differs at ``alpha``. Strata with fewer
    than 2 values get no interval or tests."""
    from scipy import stats

    y = np.asarray(y, dtype=float)
    present = [h for h in range(len(edges) - 1) if (strata == h).sum() > 0]
    groups = {h: y[strata == h] for h in present}
    # Welch p-value of each pair of strata, computed once: swapping the samples negates t
    # exactly and leaves the degrees of freedom as they are, so p is the same to the last bit
    welch: dict[tuple[int, int], float] = {}

    def p_welch(a: int, b: int) -> float:
        key = (min(a, b), max(a, b))
        if key not in welch:
            welch[key] = float(stats.ttest_ind(groups[key[0]], groups[key[1]], equal_var=False).pvalue)
        return welch[key]

    rows = []
    for k, h in enumerate(present):
        v = groups[h]
        n = len(v)
        m = float(v.mean())
        sd = float(v.std(ddof=1)) if n > 1 else np.nan
        half = float(stats.t.ppf(0.5 + level / 2, n - 1) * sd / np.sqrt(n)) if n > 1 else np.nan
        p_next = np.nan
        if k + 1 < len(present) and n > 1 and len(groups[present[k + 1]]) > 1:
            p_next = p_welch(h, present[k + 1])
        differs = sum(1 for g, w in groups.items() if g != h and n > 1 and len(w) > 1
                      and p_welch(h, g) < alpha)
        rows.append({"stratum": h + 1, "lower": float(edges[h]), "upper": float(edges[h + 1]), "n": n,
                     "mean_y": m, "sd_y": sd, "ci_low": m - half, "ci_high": m + half, "ci_level": level,
                     "p_vs_next": p_next,
                     "significant_vs_next": bool(p_next < alpha) if np.isfinite(p_next) else pd.NA,
                     "n_differs": int(differs)})
    return pd.DataFrame(rows)


def _stratum_sums(y: np.ndarray, strata: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum of ``y`` and count per stratum, strata in sorted label order (empty ones absent).

    Small non-negative integer codes (the strata of the discretisations) are counted directly
    (``np.bincount`` on the codes, empty codes dropped); other labels are factorised first
    (``np.unique``, a sort). Both add each stratum's values in row order, so the sums are the
    same to the last bit; the direct count only skips the sort."""
    s = np.asarray(strata)
    direct = s.dtype.kind == "i" or (s.dtype.kind == "u" and s.dtype.itemsize < 8)
    if direct and len(s) and s.min() >= 0 and s.max() <= 4 * len(s) + 64:
        cnt = np.bincount(s)
        keep = cnt > 0
        return np.bincount(s, weights=y, minlength=len(cnt))[keep], cnt[keep]
    _, inv = np.unique(s, return_inverse=True)
    return np.bincount(inv, weights=y), np.bincount(inv)


def q_statistic(y: np.ndarray, strata: np.ndarray) -> float:
    """q = 1 - sum_h N_h var_h / (N var) (population variances); NaN if Y is constant."""
    y = np.asarray(y, dtype=float)
    strata = np.asarray(strata)
    sst = float(((y - y.mean()) ** 2).sum())
    if sst == 0:
        return float("nan")
    sums, cnt = _stratum_sums(y, strata)
    ssb = float((sums**2 / cnt).sum() - y.sum() ** 2 / len(y))
    return float(min(max(ssb / sst, 0.0), 1.0))


def factor_detector(y: np.ndarray, strata: np.ndarray) -> dict:
    """q and its noncentral-F test (Wang, Zhang and Fu 2016) for ``y`` stratified by ``strata``.

    Returns ``q, F, df1, df2, lambda, p_value, n_obs, n_strata``. The p-value is NaN with
    fewer than two strata or ``N <= L``.
    """
    from scipy.stats import ncf

    y = np.asarray(y, dtype=float)
    labels, inv = np.unique(np.asarray(strata), return_inverse=True)
    n, L = len(y), len(labels)
    q = q_statistic(y, inv)
    out = {"q": q, "F": np.nan, "df1": L - 1, "df2": n - L, "lambda": np.nan,
           "p_value": np.nan, "n_obs": n, "n_strata": L}
    if L < 2 or n <= L or not np.isfinite(q):
        return out
    cnt = np.bincount(inv)
    means = np.bincount(inv, weights=y) / cnt
    sigma2 = float(np.var(y))
    lam = float(((means**2).sum() - (np.sqrt(cnt) * means).sum() ** 2 / n) / sigma2)
    F = (n - L) / (L - 1) * q / (1 - q) if q < 1 else np.inf
    p = 0.0 if not np.isfinite(F) else float(ncf.sf(F, L - 1, n - L, max(lam, 0.0)))
    out.update({"F": float(F), "lambda": lam, "p_value": p})
    return out


#: Interaction type names (Wang et al. 2010, as the panel stage writes them) and as GD's
#: ``gdinteract`` writes them (grid stage), in the order of :func:`classify_interaction`.
INTERACTION_NAMES: dict[str, tuple[str, ...]] = {
    "wang": ("nonlinear-weaken", "uni-weaken", "independent", "bi-enhance", "nonlinear-enhance"),
    "gd": ("Weaken, nonlinear", "Weaken, uni-", "Independent", "Enhance, bi-", "Enhance, nonlinear"),
}


def classify_interaction(q1: float, q2: float, q12: float, tol: float = 1e-9,
                         naming: str = "wang") -> str:
    """Interaction type of Wang et al. (2010) from q(X1), q(X2) and q(X1 n X2).

    In order: ``q12 < min`` nonlinear-weaken; ``q12 <= max`` uni-weaken; ``q12 = q1 + q2``
    independent; ``q12 < q1 + q2`` bi-enhance; else nonlinear-enhance (comparisons within
    ``tol``). ``naming`` picks the words: ``"wang"`` (panel stage) or ``"gd"`` (as GD's
    ``gdinteract``, grid stage; see the module comment); ``"undetermined"`` if a q is NaN.
    """
    names = INTERACTION_NAMES[naming]
    if not (np.isfinite(q1) and np.isfinite(q2) and np.isfinite(q12)):
        return "undetermined"
    lo, hi, s = min(q1, q2), max(q1, q2), q1 + q2
    if q12 < lo - tol:
        return names[0]
    if q12 <= hi + tol:
        return names[1]
    if abs(q12 - s) <= tol:
        return names[2]
    if q12 < s:
        return names[3]
    return names[4]


# --------------------------------------------------------------------------- stage helpers
def _check_sizes(sizes: np.ndarray, min_strata: int, min_size: int) -> str:
    if len(sizes) < min_strata:
        return f"insufficient_data: {len(sizes)} strata < {min_strata}"
    small = int((sizes < min_size).sum())
    if small:
        return (f"insufficient_data: {small} of {len(sizes)} strata have < {min_size} "
                f"observations (smallest {int(sizes.min())})")
    return "ok"


def boot_q(y: np.ndarray, strata: np.ndarray, n_boot: int, seed: int, level: float, *,
           units: np.ndarray | None = None, definition: str = "population") -> tuple[float, float]:
    """Bootstrap percentile interval of q (:func:`q_value` by ``definition``), strata held fixed.

    With ``units`` (panel stage) whole units are resampled (a unit-block bootstrap: a unit's
    years stay together); without (grid stage) single cells are resampled. ``(NaN, NaN)`` with
    ``n_boot <= 0`` or fewer than 10 finite draws.
    """
    if n_boot <= 0:
        return np.nan, np.nan
    rng = np.random.default_rng(seed)
    n = len(y)
    if units is not None:
        uniq = np.unique(units)
        idx = {u: np.flatnonzero(units == u) for u in uniq}
    qs = np.empty(n_boot)
    for b in range(n_boot):
        if units is None:
            rows = rng.integers(0, n, n)
        else:
            pick = rng.choice(uniq, size=len(uniq), replace=True)
            rows = np.concatenate([idx[u] for u in pick])
        qs[b] = q_value(y[rows], strata[rows], definition)
    qs = qs[np.isfinite(qs)]
    if len(qs) < 10:
        return np.nan, np.nan
    a = (1 - level) / 2
    return float(np.quantile(qs, a)), float(np.quantile(qs, 1 - a))


def _samples(df: pd.DataFrame, y: str, xs: list[str], within: bool):
    """Complete rows for ``y`` and all ``xs``: pooled and (optionally) within-unit demeaned."""
    cols = [y] + xs
    d = df[["unit", "year"] + cols].dropna()
    out = [("pooled", d)]
    if within:
        out.append(("within", within_frame(d, cols, two_way=False)))
    return out, int(len(df) - len(d))


def compute(
    panel: pd.DataFrame, dictionary: pd.DataFrame, study: dict, options: dict | None = None
) -> dict[str, pd.DataFrame]:
    """Factor and interaction detectors for each study outcome/impact against its drivers.

    Each response ``Y`` (study outcomes and impacts) is analysed on the unit-years where ``Y``
    and every driver are present (``n_dropped`` reports the others), pooled and, with
    ``within``, after demeaning every variable within units.

    Returns
    -------
    dict with

    ``factor``: ``study, y, x, sample (pooled|within), method, n_strata_requested, n_strata,
    edges (JSON list), stratum_sizes (JSON list), q, ci_low, ci_high, ci_level (unit-block
    bootstrap, binning fixed), F, df1, df2, lambda, p_value, n_units, n_years, n_obs, n_dropped,
    estimand ("association"), status, note``.

    ``risk`` (risk detector, for every factor with status ok): :data:`RISK_COLUMNS`, one row
    per stratum (see :func:`risk_detector`).

    ``interaction``: ``study, y, x1, x2, sample, q_x1, q_x2, q_x1x2, q_sum, interaction,
    n_cells, min_cell_size, p_value (noncentral F of the overlay), n_units, n_years, n_obs,
    estimand, status, note``.

    References
    ----------
    Wang, J.-F. et al. (2010) IJGIS 24:107-127. Wang, J.-F., Zhang, T.-L. and Fu, B.-J. (2016)
    Ecol. Indic. 67:250-256.
    """
    opt = {**DEFAULTS, **(options or {})}
    seed = int(study.get("seed", 0) or 0)
    method, k = str(opt["method"]), int(opt["n_strata"])
    if method not in METHODS:
        from ..errors import ConfigError

        raise ConfigError("methods.geodetector.method", method, f"one of {METHODS}")
    df = restrict(panel, study)
    name = study.get("name", "")
    ys = [v for v, role in study_variables(study) if role in ("outcome", "impact")]
    xs_all = list(study.get("drivers") or [])
    frows, irows, rrows = [], [], []
    for y in ys:
        xs = [x for x in xs_all if x in df.columns]
        missing = [v for v in [y] + xs_all if v not in df.columns]
        if y not in df.columns or not xs:
            for x in xs_all or [""]:
                frows.append({"study": name, "y": y, "x": x, "sample": "pooled", "method": method,
                              "n_strata_requested": k, "estimand": "association",
                              "status": f"missing: not in panel: {', '.join(missing)}",
                              "note": NOTE})
            continue
        samples, n_dropped = _samples(df, y, xs, bool(opt["within"]))
        for sample, d in samples:
            yv = d[y].to_numpy(float)
            units = d["unit"].to_numpy()
            base = {"study": name, "y": y, "sample": sample, "n_units": int(d["unit"].nunique()),
                    "n_years": int(d["year"].nunique()), "n_obs": int(len(d)),
                    "n_dropped": n_dropped, "estimand": "association"}
            strata: dict[str, np.ndarray] = {}
            qs: dict[str, float] = {}
            for x in xs:
                xv = d[x].to_numpy(float)
                edges = bin_edges(xv, method, k)
                st = assign_strata(xv, edges)
                sizes = np.bincount(st, minlength=max(len(edges) - 1, 1))
                sizes = sizes[sizes > 0]
                status = "ok" if len(d) else "insufficient_data: no complete rows"
                if len(d):
                    status = _check_sizes(sizes, int(opt["min_strata"]),
                                          int(opt["min_stratum_size"]))
                if status == "ok" and np.var(yv) == 0:
                    status = "insufficient_data: Y is constant"
                row = {**base, "x": x, "method": method, "n_strata_requested": k,
                       "n_strata": int(len(sizes)),
                       "edges": json.dumps([round(float(e), 6) for e in edges]),
                       "stratum_sizes": json.dumps([int(s) for s in sizes]),
                       "q": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                       "ci_level": float(opt["ci_level"]), "F": np.nan, "df1": np.nan,
                       "df2": np.nan, "lambda": np.nan, "p_value": np.nan,
                       "status": status, "note": NOTE}
                if status == "ok":
                    fd = factor_detector(yv, st)
                    lo, hi = boot_q(yv, st, int(opt["n_boot"]), seed, float(opt["ci_level"]),
                                    units=units)
                    row.update({"q": fd["q"], "F": fd["F"], "df1": fd["df1"], "df2": fd["df2"],
                                "lambda": fd["lambda"], "p_value": fd["p_value"],
                                "ci_low": lo, "ci_high": hi})
                    strata[x], qs[x] = st, fd["q"]
                    rk = risk_detector(yv, st, edges, float(opt["ci_level"]))
                    for c, v in {"study": name, "y": y, "x": x, "sample": sample,
                                 "estimand": "association", "status": "ok"}.items():
                        rk[c] = v
                    rrows.append(rk)
                frows.append(row)
            for i, x1 in enumerate(xs):
                for x2 in xs[i + 1:]:
                    row = {**base, "x1": x1, "x2": x2, "q_x1": qs.get(x1, np.nan),
                           "q_x2": qs.get(x2, np.nan), "q_x1x2": np.nan, "q_sum": np.nan,
                           "interaction": pd.NA, "n_cells": np.nan, "min_cell_size": np.nan,
                           "p_value": np.nan, "status": "ok", "note": NOTE}
                    if x1 not in strata or x2 not in strata:
                        bad = [x for x in (x1, x2) if x not in strata]
                        row["status"] = f"insufficient_data: factor(s) {', '.join(bad)} not ok"
                    else:
                        cell = strata[x1] * 10_000 + strata[x2]
                        fd = factor_detector(yv, cell)
                        cnt = np.unique(cell, return_counts=True)[1]
                        q1, q2 = qs[x1], qs[x2]
                        row.update({"q_x1x2": fd["q"], "q_sum": q1 + q2,
                                    "interaction": classify_interaction(
                                        q1, q2, fd["q"], float(opt["interaction_tol"])),
                                    "n_cells": int(len(cnt)), "min_cell_size": int(cnt.min()),
                                    "p_value": fd["p_value"]})
                        if cnt.min() < int(opt["min_stratum_size"]):
                            row["note"] = (NOTE + f"; {int((cnt < int(opt['min_stratum_size'])).sum())}"
                                           f" of {len(cnt)} overlay cells have < "
                                           f"{int(opt['min_stratum_size'])} observations, which "
                                           "inflates q(X1nX2)")
                    irows.append(row)
    fcols = ["study", "y", "x", "sample", "method", "n_strata_requested", "n_strata", "edges",
             "stratum_sizes", "q", "ci_low", "ci_high", "ci_level", "F", "df1", "df2", "lambda",
             "p_value", "n_units", "n_years", "n_obs", "n_dropped", "estimand", "status", "note"]
    icols = ["study", "y", "x1", "x2", "sample", "q_x1", "q_x2", "q_x1x2", "q_sum",
             "interaction", "n_cells", "min_cell_size", "p_value", "n_units", "n_years", "n_obs",
             "n_dropped", "estimand", "status", "note"]
    risk = (pd.concat(rrows, ignore_index=True).reindex(columns=RISK_COLUMNS) if rrows
            else pd.DataFrame(columns=RISK_COLUMNS))
    return {"factor": pd.DataFrame(frows).reindex(columns=fcols),
            "interaction": pd.DataFrame(irows).reindex(columns=icols), "risk": risk}


# =========================================================================== complete detector
# Cross-sectional (grid) geodetector with the definitions of the R packages GD (Song et al.
# 2020) and gdverse (Lv et al.): optimal discretisation, factor, interaction, risk and
# ecological detectors. The panel stage above is unchanged.
#
# Definitions (GD R/gd.R, R/gdinteract.R, R/gdrisk.R, R/gdeco.R, R/disc.R, R/stra.R, R/optidisc.R)
# ------------------------------------------------------------------------------------------------
# q (factor detector): q = 1 - sum_h N_h sigma_h^2 / (N sigma^2). ``q_definition``:
#     "population" (default): population variances, i.e. 1 - SSW/SST (``q_statistic``), as
#     Wang et al. (2010), gdverse and the PyPI geodetector package publish it (gdverse's NTDs
#     example: 0.6377737, 0.6067087, 0.3857168, reproduced in the tests);
#     "gd": GD's R code, 1 - sum_h N_h s_h^2 / (N s^2) with *sample* variances (R's sd()^2),
#     a stratum of one observation adding nothing (``na.rm = TRUE``); it differs by the factors
#     N_h/(N_h-1) and N/(N-1) (0.6249 instead of 0.6378 on the NTDs watershed factor).
# p-value: noncentral F of Wang, Zhang and Fu (2016), P(F' > F) (``factor_detector``); GD prints
#     2 (1 - pf(F, ncp)), twice that, which we do not copy.
# Interaction (GD gdinteract): q12 = q of the overlay X1 n X2, then in this order
#     q12 < min(q1, q2)                  "Weaken, nonlinear"
#     min(q1, q2) <= q12 <= max(q1, q2)  "Weaken, uni-"
#     max(q1, q2) < q12 < q1 + q2        "Enhance, bi-"
#     q12 == q1 + q2 (within tolerance)  "Independent"
#     q12 > q1 + q2                      "Enhance, nonlinear"
# Risk (GD gdrisk, gdverse risk_detector): stratum means of Y; for every pair of strata Welch's
#     t = (m1 - m2) / sqrt(s1^2/n1 + s2^2/n2) with Welch-Satterthwaite
#     df = (s1^2/n1 + s2^2/n2)^2 / ((s1^2/n1)^2/(n1-1) + (s2^2/n2)^2/(n2-1)) (R's t.test), two-sided
#     p; "Y" when p < alpha. Where t.test fails (a stratum with < 2 values or no variance) the
#     packages report t = 0, p = 1 and df = min(n1, n2) - 1 (gdverse); so do we, with a status.
# Ecological (GD gdeco): F = N1 (N2 - 1) SSW1 / (N2 (N1 - 1) SSW2), SSW = sum_h N_h s_h^2 over
#     strata with N_h >= 2; p = 2 (1 - pf(F, N1 - 1, N2 - 1)) as GD prints it ("Y" when < alpha;
#     above 1 when F < 1, i.e. it is the one-sided p doubled), and the two-sided
#     2 min(pf, 1 - pf) beside it (``ecological_two_sided``: GD's "Y" only ever flags X1 with
#     the larger within-strata variance). gdverse's ``ecological_detector`` uses instead
#     F = (1 - q1) / (1 - q2) (population q) with p = P(F(N-1, N-1) > F); reported as
#     ``F_gdverse``, ``p_value_gdverse``.
# Discretisation (GD disc): equal = seq(min, max, length n+1); quantile = R type-7 quantiles;
#     natural = Jenks natural breaks (GD calls BAMMtools::getJenksBreaks; we use exact optimal
#     1-D k-means, which minimises the same within-class sum of squares: one weighted DP with the
#     divide-and-conquer optimisation fills every class count at once, O(k_max n log n)
#     (``_jenks``), cross-checked against ``kmeans1d``; breaks are the class maxima); geometric = min * r^(0..n), r = (max/min)^(1/n)
#     (needs min > 0); sd = R's pretty() of the standardised values, back-transformed (so the
#     number of classes can differ from n). Strata (GD stra): x <= b1 -> 1, b_{u-1} < x <= b_u ->
#     u, x > b_{n-1} -> n. Optimal (GD optidisc): every method x class count; a candidate with a
#     class of fewer than ``min_stratum_size`` (GD: 2) values is rejected; the largest q wins
#     (ties: first method in config order, then the smallest count).

GRID_DEFAULTS: dict = {
    "methods": ["equal", "natural", "quantile", "geometric", "sd"],
    "k_min": 3,
    "k_max": 15,
    "min_stratum_size": 2,
    "alpha": 0.05,
    "q_definition": "population",
    "n_boot": 199,
    "ci_level": 0.95,
    "interaction_tol": 1e-9,
    "n_jobs": 1,
}

#: Option ranges checked when the workflow starts (dlddrivers.options); ``n_boot: 0`` skips
#: the cell bootstrap.
GRID_OPTION_BOUNDS: dict = {"k_min": (2, 50), "k_max": (2, 50), "min_stratum_size": (1, None),
                            "n_boot": (0, None), "n_jobs": (1, 64)}

DISC_METHODS = ("equal", "natural", "quantile", "geometric", "sd")
INTERACTION_TYPES = ("Weaken, nonlinear", "Weaken, uni-", "Enhance, bi-", "Independent",
                     "Enhance, nonlinear")

GRID_NOTE = (
    "q is the share of variance of Y between strata (association, not cause); it grows with the "
    "number of strata and depends on the discretisation (method and class count reported); cells "
    "are spatially autocorrelated, so p-values and the cell bootstrap interval are optimistic"
)


def r_pretty(lo: float, hi: float, n: int = 5) -> np.ndarray:
    """R's ``pretty(c(lo, hi), n)``: about ``n + 1`` equally spaced round values covering
    [lo, hi] (R_pretty in src/appl/pretty.c, default ``high.u.bias = 1.5``,
    ``u5.bias = .5 + 1.5 * high.u.bias``, ``min.n = n %/% 3``)."""
    h, h5 = 1.5, 0.5 + 1.5 * 1.5
    min_n = n // 3
    eps = np.finfo(float).eps
    dx = hi - lo
    if dx == 0 and hi == 0:
        cell, i_small = 1.0, True
    else:
        cell = max(abs(lo), abs(hi))
        U = 1 + (1 / (1 + h) if h5 >= 1.5 * h + 0.5 else 1.5 / (1 + h5))
        U *= max(1, n) * eps
        i_small = dx < cell * U * 3
    if i_small:
        if cell > 10:
            cell = 9 + cell / 10
        cell *= 0.75
        if min_n > 1:
            cell /= min_n
    else:
        cell = dx
        if n > 1:
            cell /= n
    base = 10.0 ** np.floor(np.log10(cell))
    unit = base
    if 2 * base - cell < h * (cell - unit):
        unit = 2 * base
        if 5 * base - cell < h5 * (cell - unit):
            unit = 5 * base
            if 10 * base - cell < h * (cell - unit):
                unit = 10 * base
    ns = np.floor(lo / unit + 1e-7)
    nu = np.ceil(hi / unit - 1e-7)
    while ns * unit > lo + 1e-10 * unit:
        ns -= 1
    while nu * unit < hi - 1e-10 * unit:
        nu += 1
    k = int(0.5 + nu - ns)
    if k < min_n:
        k = min_n - k
        if ns >= 0:
            nu += k // 2
            ns -= k // 2 + k % 2
        else:
            ns -= k // 2
            nu += k // 2 + k % 2
    return np.arange(ns, nu + 0.5) * unit


def natural_breaks(x: np.ndarray, k: int) -> np.ndarray:
    """Natural breaks as optimal 1-D k-means (``kmeans1d``, exact, O(k n log n)): edges = min,
    the maxima of classes 1..k-1, max. Equals :func:`fisher_jenks` (same objective)."""
    import kmeans1d

    x = np.asarray(x, dtype=float)
    k = int(min(k, len(np.unique(x))))
    if k < 2:
        return np.array([x.min(), x.max()])
    labels, _ = kmeans1d.cluster(x, k)
    labels = np.asarray(labels)
    mx = np.full(k, -np.inf)
    np.maximum.at(mx, labels, x)
    return np.concatenate([[x.min()], np.sort(mx)[:-1], [x.max()]])


def _natural_all(x: np.ndarray, ks: list[int]) -> dict[int, np.ndarray]:
    from ._jenks import natural_breaks_all

    return natural_breaks_all(x, ks)


def natural_breaks_many(xs: dict[str, np.ndarray], ks: list[int], n_jobs: int = 1
                        ) -> dict[str, dict[int, np.ndarray]]:
    """Natural breaks of several variables for every class count (one exact DP per variable
    for all counts, :func:`._jenks.natural_breaks_all`; it gives the same within-class sum of
    squares as ``kmeans1d`` per count, checked in the tests), the variables optionally spread
    over ``n_jobs`` processes."""
    if n_jobs <= 1 or len(xs) <= 1:
        return {name: _natural_all(x, ks) for name, x in xs.items()}
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=min(n_jobs, len(xs))) as ex:
        futs = {name: ex.submit(_natural_all, x, ks) for name, x in xs.items()}
        return {name: f.result() for name, f in futs.items()}


def disc_breaks(x: np.ndarray, method: str, k: int,
                natural: dict[int, np.ndarray] | None = None) -> np.ndarray:
    """Class breaks of ``x`` by a GD ``disc`` method (see the module comment); empty when the
    method does not apply (geometric with min <= 0). ``natural`` holds precomputed natural
    breaks by class count."""
    if method == "natural" and natural is not None and int(k) in natural:
        return natural[int(k)]
    x = np.asarray(x, dtype=float)
    lo, hi = float(x.min()), float(x.max())
    if method == "equal":
        return np.linspace(lo, hi, k + 1)
    if method == "quantile":
        return np.quantile(x, np.linspace(0, 1, k + 1))
    if method == "natural":
        return natural_breaks(x, k)
    if method == "geometric":
        if lo <= 0:
            return np.array([])
        r = (hi / lo) ** (1 / k)
        return lo * r ** np.arange(k + 1)
    if method == "sd":
        m, s = float(x.mean()), float(x.std(ddof=1))
        if s == 0:
            return np.array([])
        return r_pretty((lo - m) / s, (hi - m) / s, k) * s + m
    from ..errors import ConfigError

    raise ConfigError("methods.grid_geodetector.methods", method, f"items of {DISC_METHODS}")


def _codes(strata: np.ndarray) -> np.ndarray:
    """Non-negative integer stratum codes (used as they are; empty codes are skipped by the
    callers' count filters); other labels are factorised."""
    s = np.asarray(strata)
    if s.dtype.kind in "iu" and (len(s) == 0 or s.min() >= 0):
        return s
    return np.unique(s, return_inverse=True)[1]


def q_gd(y: np.ndarray, strata: np.ndarray) -> float:
    """GD's q: 1 - sum_h N_h s_h^2 / (N s^2) with sample variances (strata of one add 0)."""
    y = np.asarray(y, dtype=float)
    inv = _codes(strata)
    n = len(y)
    s2 = float(y.var(ddof=1)) if n > 1 else 0.0
    if s2 == 0:
        return float("nan")
    cnt = np.bincount(inv).astype(float)
    s1 = np.bincount(inv, weights=y)
    ok = cnt > 1
    with np.errstate(invalid="ignore", divide="ignore"):
        ss = np.bincount(inv, weights=y * y) - s1**2 / cnt  # within-stratum sums of squares
    within = float((cnt[ok] / (cnt[ok] - 1) * np.maximum(ss[ok], 0)).sum())
    return float(1 - within / (n * s2))


def q_value(y: np.ndarray, strata: np.ndarray, definition: str = "gd") -> float:
    """q by ``definition``: "gd" (sample variances, GD/gdverse) or "population" (Wang et al.
    2010 and the PyPI geodetector package)."""
    if definition == "gd":
        return q_gd(y, strata)
    if definition == "population":
        return q_statistic(y, strata)
    from ..errors import ConfigError

    raise ConfigError("methods.grid_geodetector.q_definition", definition, "'gd' or 'population'")


def optimal_discretisation(y: np.ndarray, x: np.ndarray, methods: list[str], ks: list[int],
                           min_stratum_size: int = 2, definition: str = "gd",
                           natural: dict[int, np.ndarray] | None = None
                           ) -> tuple[dict | None, list[dict]]:
    """Every method x class count (GD optidisc): q of each candidate, and the best one.

    Returns ``(best, candidates)``; ``best`` is None when no candidate is valid. Each candidate:
    ``method, k, n_strata, breaks, sizes, q, status`` (``ok`` or why it was rejected).
    """
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    cands: list[dict] = []
    best: dict | None = None
    for m in methods:
        for k in ks:
            br = disc_breaks(x, m, k, natural)
            row = {"method": m, "k": int(k), "n_strata": np.nan, "breaks": br, "sizes": [],
                   "q": np.nan, "status": "ok"}
            if len(br) < 3:
                row["status"] = ("not_applicable: geometric breaks need min > 0" if m == "geometric"
                                 else "not_applicable: fewer than 2 classes")
                cands.append(row)
                continue
            st = assign_strata(x, br)
            sizes = np.bincount(st, minlength=len(br) - 1)
            row["sizes"], row["n_strata"] = sizes.tolist(), int(len(br) - 1)
            if sizes.min() < min_stratum_size:
                row["status"] = (f"rejected: {int((sizes < min_stratum_size).sum())} class(es) with "
                                 f"< {min_stratum_size} values")
                cands.append(row)
                continue
            row["q"] = q_value(y, st, definition)
            cands.append(row)
            if np.isfinite(row["q"]) and (best is None or row["q"] > best["q"]):
                best = row
    return best, cands


def welch_t(y1: np.ndarray, y2: np.ndarray) -> tuple[float, float, float, str]:
    """Welch's two-sample t-test as R's ``t.test(y1, y2)``: (t, df, two-sided p, status).

    Where R's t.test errors (fewer than 2 values in a group, or both groups constant) the GD
    packages report t = 0, p = 1, df = min(n1, n2) - 1; so does this, with the reason."""
    from scipy.stats import t as tdist

    y1, y2 = np.asarray(y1, float), np.asarray(y2, float)
    n1, n2 = len(y1), len(y2)
    if n1 < 2 or n2 < 2:
        return 0.0, float(min(n1, n2) - 1), 1.0, "not_testable: a stratum has < 2 values"
    v1, v2 = y1.var(ddof=1) / n1, y2.var(ddof=1) / n2
    se2 = v1 + v2
    if se2 == 0:
        return 0.0, float(min(n1, n2) - 1), 1.0, "not_testable: both strata constant"
    t = float((y1.mean() - y2.mean()) / np.sqrt(se2))
    df = float(se2**2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1)))
    return t, df, float(2 * tdist.sf(abs(t), df)), "ok"


def ssw_gd(y: np.ndarray, strata: np.ndarray) -> float:
    """GD's within-strata sum for the ecological detector: sum_h N_h s_h^2, strata with N_h >= 2."""
    y = np.asarray(y, dtype=float)
    inv = _codes(strata)
    cnt = np.bincount(inv).astype(float)
    s1 = np.bincount(inv, weights=y)
    ok = cnt > 1
    with np.errstate(invalid="ignore", divide="ignore"):
        ss = np.maximum(np.bincount(inv, weights=y * y) - s1**2 / cnt, 0)
    return float((cnt[ok] / (cnt[ok] - 1) * ss[ok]).sum())


def ecological_test(y: np.ndarray, s1: np.ndarray, s2: np.ndarray) -> dict:
    """GD's ecological detector for two stratifications of the same ``y`` (see module comment)."""
    from scipy.stats import f as fdist

    n1 = n2 = len(y)
    w1, w2 = ssw_gd(y, s1), ssw_gd(y, s2)
    F = n1 * (n2 - 1) * w1 / (n2 * (n1 - 1) * w2) if w2 > 0 else np.inf
    cdf = float(fdist.cdf(F, n1 - 1, n2 - 1)) if np.isfinite(F) else 1.0
    sf = float(fdist.sf(F, n1 - 1, n2 - 1)) if np.isfinite(F) else 0.0  # 1 - cdf, without rounding
    q1, q2 = q_statistic(y, s1), q_statistic(y, s2)
    Fv = (1 - q1) / (1 - q2) if q2 < 1 else np.inf
    return {"F": float(F), "df1": n1 - 1, "df2": n2 - 1, "p_value_gd": 2 * sf,
            "p_value_two_sided": min(1.0, 2 * min(cdf, sf)),
            "F_gdverse": float(Fv),
            "p_value_gdverse": float(fdist.sf(Fv, n1 - 1, n2 - 1)) if np.isfinite(Fv) else 0.0}


def _fmt_edges(br) -> str:
    return json.dumps([float(f"{float(e):.6g}") for e in br])


def _labels_of(breaks: np.ndarray) -> list[str]:
    b = [float(f"{float(e):.4g}") for e in breaks]
    return [f"<= {b[1]}"] + [f"({b[i]}, {b[i + 1]}]" for i in range(1, len(b) - 2)] + [f"> {b[-2]}"]


def grid_detectors(cells: pd.DataFrame, y: str, xs: list[str],
                   categorical: dict[str, list[str]], options: dict | None = None,
                   seed: int = 0, study: str = "", grid_km: int | None = None
                   ) -> dict[str, pd.DataFrame]:
    """Optimal discretisation and the four detectors on one cross-section of cells.

    ``categorical`` maps class variables to their labels (codes 1..K are used as strata as
    they are); every other ``x`` is discretised optimally. Rows with a missing ``y`` or ``x`` are
    dropped and counted (``n_dropped``).

    Returns ``discretisation`` (every candidate), ``factor``, ``interaction``, ``risk_means``,
    ``risk`` and ``ecological`` tables (columns as documented in the README).
    """
    opt = {**GRID_DEFAULTS, **(options or {})}
    methods = list(opt["methods"])
    for m in methods:
        if m not in DISC_METHODS:
            from ..errors import ConfigError

            raise ConfigError("methods.grid_geodetector.methods", m, f"items of {DISC_METHODS}")
    ks = list(range(int(opt["k_min"]), int(opt["k_max"]) + 1))
    definition = str(opt["q_definition"])
    alpha, tol = float(opt["alpha"]), float(opt["interaction_tol"])
    d = cells[[y, *xs]].dropna()
    n_dropped = int(len(cells) - len(d))
    yv = d[y].to_numpy(float)
    n = len(yv)
    base = {"study": study, "grid_km": grid_km, "y": y, "n_obs": n, "n_dropped": n_dropped}
    disc_rows, frows, strata, labels, qs = [], [], {}, {}, {}
    natural = {}
    if "natural" in methods:
        natural = natural_breaks_many({x: d[x].to_numpy(float) for x in xs if x not in categorical},
                                      ks, int(opt["n_jobs"]))
    for j, x in enumerate(xs):
        xv = d[x].to_numpy(float)
        row = {**base, "x": x, "estimand": "association", "q_definition": definition,
               "note": GRID_NOTE}
        if x in categorical:
            codes = xv.astype(int)
            bad = (codes != xv) | (codes < 1) | (codes > len(categorical[x]))
            if bad.any():
                from ..errors import ConfigError

                raise ConfigError(f"indicators.{x}.categories", categorical[x],
                                  f"class codes 1..{len(categorical[x])} in column '{x}' "
                                  f"(found {xv[bad][0]!r})")
            st = codes - 1
            present = np.unique(st)
            sizes = np.bincount(st, minlength=len(categorical[x]))
            lab = list(categorical[x])
            row.update({"type": "categorical", "method": "categories", "k": len(lab),
                        "n_strata": int(len(present)),
                        "breaks": json.dumps(lab), "stratum_sizes": json.dumps(sizes.tolist())})
            status = "ok"
        else:
            best, cands = optimal_discretisation(yv, xv, methods, ks, int(opt["min_stratum_size"]),
                                                 definition, natural.get(x))
            for c in cands:
                disc_rows.append({**base, "x": x, "method": c["method"], "k": c["k"],
                                  "n_strata": c["n_strata"], "q": c["q"],
                                  "chosen": best is not None and c is best,
                                  "breaks": _fmt_edges(c["breaks"]),
                                  "stratum_sizes": json.dumps(c["sizes"]), "status": c["status"]})
            if best is None:
                row.update({"type": "continuous", "method": "", "k": np.nan, "n_strata": np.nan,
                            "q": np.nan, "status": "insufficient_data: no valid discretisation"})
                frows.append(row)
                continue
            st = assign_strata(xv, best["breaks"])
            lab = _labels_of(best["breaks"])
            row.update({"type": "continuous", "method": best["method"], "k": best["k"],
                        "n_strata": best["n_strata"], "breaks": _fmt_edges(best["breaks"]),
                        "stratum_sizes": json.dumps(best["sizes"])})
            status = "ok"
        fd = factor_detector(yv, st)
        q = q_value(yv, st, definition)
        lo, hi = boot_q(yv, st, int(opt["n_boot"]), seed + j, float(opt["ci_level"]),
                        definition=definition)
        row.update({"q": q, "ci_low": lo, "ci_high": hi, "ci_level": float(opt["ci_level"]),
                    "q_population": fd["q"], "q_gd": q_gd(yv, st), "F": fd["F"], "df1": fd["df1"], "df2": fd["df2"],
                    "lambda": fd["lambda"], "p_value": fd["p_value"],
                    "significant": bool(fd["p_value"] < alpha), "status": status})
        frows.append(row)
        strata[x], labels[x], qs[x] = st, lab, q
    # interaction
    irows = []
    ok = [x for x in xs if x in strata]
    for i, x1 in enumerate(ok):
        for x2 in ok[i + 1:]:
            _, cell = np.unique(strata[x1] * 1000 + strata[x2], return_inverse=True)
            q12 = q_value(yv, cell, definition)
            cnt = np.bincount(cell)
            irows.append({**base, "x1": x1, "x2": x2, "q_x1": qs[x1], "q_x2": qs[x2],
                          "q_x1x2": q12, "q_sum": qs[x1] + qs[x2],
                          "interaction": classify_interaction(qs[x1], qs[x2], q12, tol, "gd"),
                          "n_cells": int(len(cnt)), "min_cell_size": int(cnt.min()),
                          "estimand": "association", "status": "ok"})
    # risk: stratum means and pairwise Welch t-tests
    mrows, rrows = [], []
    for x in ok:
        st = strata[x]
        groups = {h: yv[st == h] for h in np.unique(st)}
        for h, g in groups.items():
            mrows.append({**base, "x": x, "stratum": int(h) + 1, "label": labels[x][h],
                          "n": int(len(g)), "mean": float(g.mean()),
                          "sd": float(g.std(ddof=1)) if len(g) > 1 else np.nan})
        hs = sorted(groups)
        for a_i, h1 in enumerate(hs):
            for h2 in hs[a_i + 1:]:
                t, df, p, status = welch_t(groups[h1], groups[h2])
                rrows.append({**base, "x": x, "stratum1": int(h1) + 1, "stratum2": int(h2) + 1,
                              "label1": labels[x][h1], "label2": labels[x][h2],
                              "mean1": float(groups[h1].mean()), "mean2": float(groups[h2].mean()),
                              "t": t, "df": df, "p_value": p, "risk": "Y" if p < alpha else "N",
                              "status": status})
    # ecological
    erows = []
    for i, x1 in enumerate(ok):
        for x2 in ok[i + 1:]:
            e = ecological_test(yv, strata[x1], strata[x2])
            erows.append({**base, "x1": x1, "x2": x2, **e,
                          "ecological": "Y" if e["p_value_gd"] < alpha else "N",
                          "ecological_two_sided": "Y" if e["p_value_two_sided"] < alpha else "N",
                          "status": "ok"})
    fcols = ["study", "grid_km", "y", "x", "type", "method", "k", "n_strata", "breaks",
             "stratum_sizes", "q", "ci_low", "ci_high", "ci_level", "q_definition", "q_population",
             "q_gd", "F", "df1", "df2", "lambda", "p_value", "significant", "n_obs", "n_dropped",
             "estimand", "status", "note"]
    return {
        "discretisation": pd.DataFrame(disc_rows).reindex(
            columns=["study", "grid_km", "y", "x", "method", "k", "n_strata", "q", "chosen",
                     "breaks", "stratum_sizes", "n_obs", "n_dropped", "status"]),
        "factor": pd.DataFrame(frows).reindex(columns=fcols),
        "interaction": pd.DataFrame(irows).reindex(
            columns=["study", "grid_km", "y", "x1", "x2", "q_x1", "q_x2", "q_x1x2", "q_sum",
                     "interaction", "n_cells", "min_cell_size", "n_obs", "n_dropped", "estimand",
                     "status"]),
        "risk_means": pd.DataFrame(mrows).reindex(
            columns=["study", "grid_km", "y", "x", "stratum", "label", "n", "mean", "sd",
                     "n_obs", "n_dropped"]),
        "risk": pd.DataFrame(rrows).reindex(
            columns=["study", "grid_km", "y", "x", "stratum1", "stratum2", "label1", "label2",
                     "mean1", "mean2", "t", "df", "p_value", "risk", "n_obs", "status"]),
        "ecological": pd.DataFrame(erows).reindex(
            columns=["study", "grid_km", "y", "x1", "x2", "F", "df1", "df2", "p_value_gd",
                     "p_value_two_sided", "ecological", "ecological_two_sided", "F_gdverse",
                     "p_value_gdverse", "n_obs",
                     "status"]),
    }
