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

from ._common import within_frame
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
    rows = []
    for k, h in enumerate(present):
        v = groups[h]
        n = len(v)
        m = float(v.mean())
        sd = float(v.std(ddof=1)) if n > 1 else np.nan
        half = float(stats.t.ppf(0.5 + level / 2, n - 1) * sd / np.sqrt(n)) if n > 1 else np.nan
        p_next = np.nan
        if k + 1 < len(present) and n > 1 and len(groups[present[k + 1]]) > 1:
            p_next = float(stats.ttest_ind(v, groups[present[k + 1]], equal_var=False).pvalue)
        differs = sum(1 for g, w in groups.items() if g != h and n > 1 and len(w) > 1
                      and stats.ttest_ind(v, w, equal_var=False).pvalue < alpha)
        rows.append({"stratum": h + 1, "lower": float(edges[h]), "upper": float(edges[h + 1]), "n": n,
                     "mean_y": m, "sd_y": sd, "ci_low": m - half, "ci_high": m + half, "ci_level": level,
                     "p_vs_next": p_next,
                     "significant_vs_next": bool(p_next < alpha) if np.isfinite(p_next) else pd.NA,
                     "n_differs": int(differs)})
    return pd.DataFrame(rows)


def q_statistic(y: np.ndarray, strata: np.ndarray) -> float:
    """q = 1 - sum_h N_h var_h / (N var) (population variances); NaN if Y is constant."""
    y = np.asarray(y, dtype=float)
    strata = np.asarray(strata)
    sst = float(((y - y.mean()) ** 2).sum())
    if sst == 0:
        return float("nan")
    _, inv = np.unique(strata, return_inverse=True)
    sums = np.bincount(inv, weights=y)
    cnt = np.bincount(inv)
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


def classify_interaction(q1: float, q2: float, q12: float, tol: float = 1e-9) -> str:
    """Interaction type of Wang et al. (2010) from q(X1), q(X2) and q(X1 n X2)."""
    if not (np.isfinite(q1) and np.isfinite(q2) and np.isfinite(q12)):
        return "undetermined"
    lo, hi, s = min(q1, q2), max(q1, q2), q1 + q2
    if q12 < lo - tol:
        return "nonlinear-weaken"
    if abs(q12 - s) <= tol and q12 > hi + tol:
        return "independent"
    if q12 <= hi + tol:
        return "uni-weaken"
    if q12 < s:
        return "bi-enhance"
    return "nonlinear-enhance"


# --------------------------------------------------------------------------- stage helpers
def _check_sizes(sizes: np.ndarray, min_strata: int, min_size: int) -> str:
    if len(sizes) < min_strata:
        return f"insufficient_data: {len(sizes)} strata < {min_strata}"
    small = int((sizes < min_size).sum())
    if small:
        return (f"insufficient_data: {small} of {len(sizes)} strata have < {min_size} "
                f"observations (smallest {int(sizes.min())})")
    return "ok"


def _boot_q(y, strata, units, n_boot, seed, level):
    """Unit-block bootstrap percentile interval of q (strata held fixed)."""
    if n_boot <= 0:
        return np.nan, np.nan
    uniq = np.unique(units)
    idx = {u: np.flatnonzero(units == u) for u in uniq}
    rng = np.random.default_rng(seed)
    qs = np.empty(n_boot)
    for b in range(n_boot):
        pick = rng.choice(uniq, size=len(uniq), replace=True)
        rows = np.concatenate([idx[u] for u in pick])
        qs[b] = q_statistic(y[rows], strata[rows])
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
                    lo, hi = _boot_q(yv, st, units, int(opt["n_boot"]), seed,
                                     float(opt["ci_level"]))
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
