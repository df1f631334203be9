"""Panel toolkit shared by the methods and the causal stage (one implementation of each step).

A *panel frame* is a long DataFrame with ``unit``, ``year`` and value columns. Functions here
select complete cases (counting what they drop), count units, years and rows, add lags by
calendar year, and remove fixed effects: :func:`within` is the one within transform (one-way
unit demeaning, two-way unit and year demeaning by alternating projections, optionally with
unit-specific linear trends), used by panel regression, relative importance, attribution,
geodetector, trends, the causal stage and the validation. Nothing here writes files.

Convergence of the two-way transform: alternating projections (demean by year, then by unit)
converge to the residual of the regression on unit and year dummies (Guimaraes & Portugal
2010, Stata Journal 10:628). Iteration stops once the largest change of a sweep is at most
:data:`WITHIN_TOL` times the scale of the data (``max |x|``, at least 1), or after
:data:`WITHIN_MAX_ITER` sweeps. Balanced panels stop after one sweep (the exact
``x - unit mean - year mean + grand mean``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

#: Two-way transform: stop when a sweep changes no value by more than this times the scale.
WITHIN_TOL = 1e-12
#: Two-way transform: the most sweeps (a cap; balanced panels need one).
WITHIN_MAX_ITER = 10_000

#: Wording of the two-way within transform in the ``panel_handling`` column of causal tables.
TWO_WAY = "two-way demeaned (unit and year)"
#: Wording of the one-way (unit) within transform in the ``panel_handling`` column.
UNIT_ONLY = "unit-demeaned (unit means removed; year-to-year change kept)"


# --------------------------------------------------------------------------- selection, counts
def complete_cases(panel: pd.DataFrame, columns: Sequence[str]) -> tuple[pd.DataFrame, int]:
    """Rows of ``panel`` with every one of ``columns`` finite, sorted by (unit, year).

    Returns ``(frame, n_dropped)`` where ``n_dropped`` counts rows removed for NaN/inf, so
    callers can report it (never drop silently). The frame holds ``unit`` (str), ``year``
    (int) and ``columns`` (float), index reset.
    """
    cols = list(dict.fromkeys(["unit", "year", *columns]))
    sub = panel[cols].copy()
    names = list(columns)
    # float columns need no conversion: their values are what the conversion would give
    dtypes = sub.dtypes
    floats = (len(set(names)) == len(names) and not {"unit", "year"} & set(names)
              and sub.columns.is_unique and all(dtypes[c] == np.float64 for c in names))
    if floats:  # finite in every column, tested column by column (no 2-D copy of the values)
        ok = np.ones(len(sub), bool)
        for c in names:
            ok &= np.isfinite(sub[c].to_numpy())
    else:
        vals = sub[names].apply(pd.to_numeric, errors="coerce").astype(float)
        ok = np.isfinite(vals.to_numpy()).all(axis=1) if len(columns) else np.ones(len(sub), bool)
    out = sub.loc[ok].copy()
    if not floats:
        out[names] = vals.loc[ok]
    out["year"] = out["year"].astype(int)
    out["unit"] = out["unit"].astype(str)
    out = out.sort_values(["unit", "year"]).reset_index(drop=True)
    return out, int((~ok).sum())


def counts(df: pd.DataFrame) -> dict[str, int]:
    """``n_units``, ``n_years`` (distinct years) and ``n_obs`` of a complete-case frame."""
    return {
        "n_units": int(df["unit"].nunique()) if len(df) else 0,
        "n_years": int(df["year"].nunique()) if len(df) else 0,
        "n_obs": int(len(df)),
    }


def codes(values: Sequence | np.ndarray) -> np.ndarray:
    """Integer codes 0..G-1 of a label array (order of first appearance after sorting)."""
    return pd.factorize(np.asarray(values), sort=True)[0].astype(np.intp)


# --------------------------------------------------------------------------- lags
def lag_by_year(panel: pd.DataFrame, column: str, lag: int = 1) -> pd.Series:
    """Value of ``column`` at (unit, year - ``lag``), aligned on ``panel``'s index.

    Matching is by calendar year, not by row position: a missing earlier year gives NaN,
    never the previous *row*.
    """
    key = panel[["unit", "year"]].copy()
    src = panel[["unit", "year", column]].copy()
    src["year"] = src["year"] + lag
    merged = key.merge(src, on=["unit", "year"], how="left")
    return pd.Series(merged[column].to_numpy(), index=panel.index, name=column)


def add_lags(panel: pd.DataFrame, lags: Mapping[str, int] | None) -> tuple[pd.DataFrame, dict[str, str]]:
    """Add lagged copies of columns by calendar year within unit.

    ``lags={"spei3_jja": 1}`` adds ``spei3_jja_lag1`` holding the value of (unit, year - 1);
    missing earlier years give NaN (never the previous *row*). Returns the new frame and a map
    original column -> column to use instead. Lag 0 maps a column to itself.
    """
    out = panel.copy()
    mapping: dict[str, str] = {}
    for col, lag in (lags or {}).items():
        lag = int(lag)
        if col not in panel.columns:
            continue
        if lag == 0:
            mapping[col] = col
            continue
        name = f"{col}_lag{lag}"
        src = panel[["unit", "year", col]].copy()
        src["year"] = src["year"].astype(int) + lag
        src = src.rename(columns={col: name})
        out = out.drop(columns=[name], errors="ignore").merge(src, on=["unit", "year"], how="left")
        mapping[col] = name
    return out, mapping


# --------------------------------------------------------------------------- within transforms
#: Indicators of the most recent group-code arrays (see :func:`group_indicator`).
_INDICATORS: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
#: How many indicators :data:`_INDICATORS` keeps (the oldest is dropped first).
INDICATOR_CACHE_SIZE = 8


def group_indicator(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(indicator, counts)`` of integer groups ``g`` (n,): the n x G 0/1 matrix (C order, row
    i has its 1 in column ``g[i]``) and the group sizes as floats, as :func:`demean_by` uses
    them; pass it as ``indicator=`` to demean several arrays by the same groups.

    The last :data:`INDICATOR_CACHE_SIZE` results are kept, keyed by the codes' dtype and
    bytes (equal codes give the same matrix; the bootstrap of a balanced panel draws the same
    unit and year codes in every draw). Both arrays are read-only.
    """
    g = np.asarray(g)
    key = (g.dtype.str, g.shape, g.tobytes())
    hit = _INDICATORS.get(key)
    if hit is not None:
        return hit
    ng = int(g.max()) + 1 if len(g) else 0
    cnt = np.bincount(g, minlength=ng).astype(float)
    ind = np.zeros((len(g), ng))
    ind[np.arange(len(g)), g] = 1.0
    ind.flags.writeable = False
    cnt.flags.writeable = False
    if len(_INDICATORS) >= INDICATOR_CACHE_SIZE:
        del _INDICATORS[next(iter(_INDICATORS))]
    _INDICATORS[key] = (ind, cnt)
    return ind, cnt


def demean_by(x: np.ndarray, g: np.ndarray,
              indicator: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Subtract group means of the rows of ``x`` (n x k) within integer groups ``g``.

    The group sums are one matrix product of the transposed indicator with ``x``.
    ``indicator``: :func:`group_indicator` of ``g``, when the caller already has it (the same
    matrix, so the same product and the same numbers bit for bit); built here otherwise.
    """
    x = np.asarray(x, float)
    two_d = x.ndim == 2
    xx = x if two_d else x[:, None]
    ind, cnt = indicator if indicator is not None else group_indicator(g)
    means = (ind.T @ xx) / cnt[:, None]
    out = xx - np.take(means, g, axis=0)  # the same rows as means[g], gathered 2-3x faster
    return out if two_d else out[:, 0]


def detrend_by_unit(x: np.ndarray, unit: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Residuals of each column of ``x`` (n, k) on a unit-specific intercept and linear trend in
    ``t`` (units with fewer than 3 rows: intercept only). ``x`` may also be one column (n,)."""
    x = np.asarray(x, float)
    if x.ndim == 1:
        return detrend_by_unit(x[:, None], unit, t)[:, 0]
    out = np.empty_like(x)
    t = np.asarray(t, float)
    for g in np.unique(unit):
        idx = np.nonzero(unit == g)[0]
        xs = x[idx]
        tc = t[idx] - t[idx].mean()
        r = xs - xs.mean(axis=0)
        ss = float(tc @ tc)
        if len(idx) >= 3 and ss > 0:
            r = r - np.outer(tc, tc @ r / ss)
        out[idx] = r
    return out


def within(
    x: np.ndarray,
    unit: np.ndarray,
    year: np.ndarray | None = None,
    *,
    trend: np.ndarray | None = None,
    tol: float = WITHIN_TOL,
    max_iter: int = WITHIN_MAX_ITER,
) -> np.ndarray:
    """Within transform: remove unit (and, if ``year`` given, year) effects from ``x``.

    One-way: subtract unit means. Two-way: alternating projections (demean by year, then by
    unit, until no value changes by more than ``tol`` times the scale ``max(max |x|, 1)``),
    which converges to the exact residual of a regression on unit and year dummies also for
    unbalanced panels (Guimaraes & Portugal 2010, Stata Journal 10:628). For balanced panels
    it stops after one pass (x - unit mean - year mean + grand mean). The result always ends
    with a unit projection, so unit means are zero to rounding.

    Parameters
    ----------
    x : array (n,) or (n, k)
    unit, year : integer group codes of length n (see :func:`codes`).
    trend : calendar years (n,); if given, the unit projection also removes a unit-specific
        linear trend in them (:func:`detrend_by_unit`), so the result is the residual on unit
        intercepts, unit trends (and year effects).
    tol, max_iter : convergence rule of the two-way transform (see the module docstring).
    """
    x = np.asarray(x, float)
    # the unit and year indicators are built once and reused by every sweep (same matrices,
    # same products: the numbers do not change)
    unit_ind = group_indicator(unit) if trend is None else None

    def by_unit(v: np.ndarray) -> np.ndarray:
        return demean_by(v, unit, unit_ind) if trend is None else detrend_by_unit(v, unit, trend)

    if year is None:
        return by_unit(x)
    year_ind = group_indicator(year)
    cur = by_unit(x)
    scale = max(float(np.abs(x).max()) if x.size else 0.0, 1.0)
    for _ in range(max_iter):
        nxt = by_unit(demean_by(cur, year, year_ind))
        if float(np.abs(nxt - cur).max()) <= tol * scale if cur.size else True:
            return nxt
        cur = nxt
    return cur


def within_frame(df: pd.DataFrame, columns: Sequence[str], *, two_way: bool = True) -> pd.DataFrame:
    """DataFrame version of :func:`within` on ``columns`` (keeps ``unit`` and ``year``)."""
    u = codes(df["unit"])
    y = codes(df["year"]) if two_way else None
    vals = within(df[list(columns)].to_numpy(float), u, y)
    out = df[["unit", "year"]].copy()
    out[list(columns)] = vals
    return out


def detrend_within_unit(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Remove a unit-specific linear trend in year (OLS) from each column; keep unit means."""
    out = df.copy()
    for _, idx in df.groupby("unit").groups.items():
        t = df.loc[idx, "year"].to_numpy(float)
        if len(t) < 3 or np.ptp(t) == 0:
            continue
        tc = t - t.mean()
        for c in columns:
            v = df.loc[idx, c].to_numpy(float)
            slope = float(np.dot(tc, v - v.mean()) / np.dot(tc, tc))
            out.loc[idx, c] = v - slope * tc
    return out


def first_difference(df: pd.DataFrame, columns: Sequence[str]) -> tuple[pd.DataFrame, int]:
    """Within-unit first differences over consecutive calendar years only.

    Returns the differenced frame (labelled by the later year) and the number of rows lost
    (each unit's first year and any year after a gap).
    """
    d = df.sort_values(["unit", "year"]).copy()
    prev = d[["unit", "year", *columns]].copy()
    prev["year"] = prev["year"] + 1
    m = d.merge(prev, on=["unit", "year"], suffixes=("", "__prev"), how="inner")
    out = m[["unit", "year"]].copy()
    for c in columns:
        out[c] = m[c] - m[f"{c}__prev"]
    return out.reset_index(drop=True), int(len(d) - len(out))
