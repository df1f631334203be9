"""Shared helpers for the attribution-stage modules (panel regression, LMG, RESTREND, ...).

Driver groups by domain (defined in :mod:`dlddrivers.catalogue`), complete-case selection that reports what it dropped, the
(two-way) within transform, lags by calendar year, and panel counts. Nothing here writes files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..catalogue import ANTHROPOGENIC, BIOPHYSICAL

ESTIMANDS = (
    "share_of_area",
    "share_of_explained_variance",
    "share_of_trend",
    "causal_effect",
    "association",
    "trend",
    "detection",
    "descriptive",
)


def base_indicator(column: str) -> str:
    """Strip a ``_lagK`` suffix added by :func:`add_lags` (``spei3_jja_lag1`` -> ``spei3_jja``)."""
    if "_lag" in column:
        head, _, tail = column.rpartition("_lag")
        if tail.isdigit():
            return head
    return column


def driver_domains(dictionary: pd.DataFrame, columns: Iterable[str]) -> dict[str, str]:
    """Map each column (lagged names allowed) to its dictionary ``domain``.

    Unknown indicators map to ``"unknown"`` rather than raising, so a driver missing from the
    dictionary shows up in the tables instead of silently joining a group.
    """
    lookup: dict[str, str] = {}
    if dictionary is not None and len(dictionary) and "indicator" in dictionary:
        lookup = dict(zip(dictionary["indicator"].astype(str), dictionary["domain"].astype(str), strict=False))
    return {c: lookup.get(base_indicator(c), "unknown") for c in columns}


def split_drivers(
    dictionary: pd.DataFrame, columns: Iterable[str]
) -> tuple[list[str], list[str]]:
    """Split driver columns into (biophysical, anthropogenic) by dictionary domain, keeping order."""
    doms = driver_domains(dictionary, columns)
    bio = [c for c, d in doms.items() if d in BIOPHYSICAL]
    anth = [c for c, d in doms.items() if d in ANTHROPOGENIC]
    return bio, anth


def indicator_meta(dictionary: pd.DataFrame, indicator: str, field: str, default: str = "") -> str:
    """One dictionary field (``measure``, ``label``, ``source`` ...) for an indicator (lag-aware)."""
    if dictionary is None or not len(dictionary) or field not in dictionary:
        return default
    hit = dictionary.loc[dictionary["indicator"].astype(str) == base_indicator(indicator), field]
    if hit.empty or pd.isna(hit.iloc[0]):
        return default
    return str(hit.iloc[0])


def better_of(dictionary: pd.DataFrame, indicator: str) -> str:
    """``"lower"`` or ``"higher"``: which direction of an outcome or impact is an improvement,
    from the data dictionary's ``better`` column (the catalogue's ``better``); ``""`` if unknown."""
    v = indicator_meta(dictionary, indicator, "better", "").strip().lower()
    return v if v in ("lower", "higher") else ""


def study_columns(study: Mapping, dictionary: pd.DataFrame, panel: pd.DataFrame, key: str, role: str) -> list[str]:
    """Indicators named in ``study[key]`` (or, if absent, all dictionary rows with ``role``) present in ``panel``."""
    cols = list(study.get(key) or [])
    if not cols and dictionary is not None and len(dictionary):
        cols = dictionary.loc[dictionary["role"] == role, "indicator"].astype(str).tolist()
    return [c for c in cols if c in panel.columns]


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


def complete_cases(panel: pd.DataFrame, columns: Sequence[str]) -> tuple[pd.DataFrame, int]:
    """Rows of ``panel`` with every one of ``columns`` finite, sorted by (unit, year).

    Returns ``(frame, n_dropped)`` where ``n_dropped`` counts rows removed for NaN/inf, so
    callers can report it (never drop silently).
    """
    cols = list(dict.fromkeys(["unit", "year", *columns]))
    sub = panel[cols].copy()
    vals = sub[list(columns)].apply(pd.to_numeric, errors="coerce").astype(float)
    ok = np.isfinite(vals.to_numpy()).all(axis=1) if len(columns) else np.ones(len(sub), bool)
    out = sub.loc[ok].copy()
    out[list(columns)] = vals.loc[ok]
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


def demean_by(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Subtract group means of the rows of ``x`` (n x k) within integer groups ``g``."""
    x = np.asarray(x, float)
    two_d = x.ndim == 2
    xx = x if two_d else x[:, None]
    ng = int(g.max()) + 1 if len(g) else 0
    cnt = np.bincount(g, minlength=ng).astype(float)
    ind = np.zeros((len(g), ng))
    ind[np.arange(len(g)), g] = 1.0
    means = (ind.T @ xx) / cnt[:, None]
    out = xx - means[g]
    return out if two_d else out[:, 0]


def within(
    x: np.ndarray,
    unit: np.ndarray,
    year: np.ndarray | None = None,
    *,
    tol: float = 1e-12,
    max_iter: int = 10_000,
) -> np.ndarray:
    """Within transform: remove unit (and, if ``year`` given, year) effects from ``x``.

    One-way: subtract unit means. Two-way: alternating projections (demean by unit, then by
    year, until the change is below ``tol`` relative to the scale), which converges to the exact
    residual of a regression on unit and year dummies also for unbalanced panels
    (Guimaraes & Portugal 2010, Stata Journal 10:628). For balanced panels it stops after one
    pass (x - unit mean - year mean + grand mean).

    Parameters
    ----------
    x : array (n,) or (n, k)
    unit, year : integer group codes of length n (see :func:`codes`).
    """
    x = np.asarray(x, float)
    if year is None:
        return demean_by(x, unit)
    cur = demean_by(x, unit)
    scale = max(float(np.abs(x).max()) if x.size else 0.0, 1.0)
    for _ in range(max_iter):
        nxt = demean_by(demean_by(cur, year), unit)
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


def rng_from(study: Mapping, offset: int = 0) -> np.random.Generator:
    """Seeded generator from ``study["seed"]`` (default 0) plus a stage-specific ``offset``."""
    seed = int(study.get("seed", 0) or 0)
    return np.random.default_rng([seed, offset])


def stable_offset(*parts: object) -> int:
    """A deterministic non-negative integer from strings (for per-outcome/unit sub-seeds)."""
    import zlib

    return zlib.crc32("|".join(map(str, parts)).encode()) & 0x7FFFFFFF


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


def merge_options(defaults: Mapping, options: Mapping | None) -> dict:
    """``defaults`` updated by ``options`` (shallow; unknown keys are kept)."""
    out = dict(defaults)
    out.update(dict(options or {}))
    return out


PREFLIGHT_COLUMNS = [
    "outcome", "driver", "n_obs_outcome", "n_obs_with_driver", "n_units_with_driver",
    "n_obs_without_driver", "n_units_without_driver", "n_obs_all", "n_units_all", "kept",
    "status",
]


def preflight(
    panel: pd.DataFrame,
    outcome: str,
    drivers: Sequence[str],
    *,
    min_units: int,
    min_obs: int,
    max_loss: float = 0.5,
) -> tuple[list[str], pd.DataFrame, str]:
    """Complete-case count each driver leaves, and the drivers to leave out.

    For every driver: rows (and units) with the outcome and that driver, and with the outcome
    and every *other* driver. A driver is left out (the one costing most rows first, repeated)
    while the complete-case sample of all kept drivers is below the stage minimum
    (``min_units`` units or ``min_obs`` rows), or while one driver alone removes more than
    ``max_loss`` of the rows the other drivers leave (a sparse driver that would make the
    stage's answer about a few units only). Nothing is dropped silently: the returned table
    (:data:`PREFLIGHT_COLUMNS`) has one row per driver and the returned note names every
    driver left out with the counts (empty when none).

    Returns ``(kept drivers, table, note)``.
    """
    def cnt(cols: Sequence[str]) -> tuple[int, int]:
        sub = panel[["unit", *cols]]
        ok = np.isfinite(sub[list(cols)].apply(pd.to_numeric, errors="coerce").astype(float).to_numpy()).all(axis=1)
        return int(ok.sum()), int(sub.loc[ok, "unit"].nunique())

    n_out = cnt([outcome])[0]
    kept = list(drivers)
    left_out: dict[str, str] = {}
    while kept:
        n_all, u_all = cnt([outcome, *kept])
        if len(kept) == 1:
            break
        without = {d: cnt([outcome, *[k for k in kept if k != d]]) for d in kept}
        worst = max(kept, key=lambda d: (without[d][0] - n_all, -kept.index(d)))
        n_wo, u_wo = without[worst]
        short = u_all < min_units or n_all < min_obs
        loss = 1.0 - n_all / n_wo if n_wo else 0.0
        if not (short and (n_wo > n_all)) and not loss > max_loss:
            break
        why = (f"below the stage minimum ({min_units} units, {min_obs} rows)" if short
               else f"it alone removes {loss:.0%} of the rows (more than {max_loss:.0%})")
        left_out[worst] = (f"left out: with it {n_all} complete rows in {u_all} units remain, "
                           f"without it {n_wo} rows in {u_wo} units; {why}")
        kept.remove(worst)
    n_all, u_all = cnt([outcome, *kept]) if kept else (n_out, 0)
    rows = []
    for d in drivers:
        others = [k for k in kept if k != d]
        n_wo, u_wo = cnt([outcome, *others])
        n_w, u_w = cnt([outcome, d])
        rows.append({"outcome": outcome, "driver": d, "n_obs_outcome": n_out, "n_obs_with_driver": n_w,
                     "n_units_with_driver": u_w, "n_obs_without_driver": n_wo,
                     "n_units_without_driver": u_wo, "n_obs_all": n_all, "n_units_all": u_all,
                     "kept": d in kept, "status": "ok" if d in kept else left_out[d]})
    note = "; ".join(f"driver {d} {why}" for d, why in left_out.items())
    return kept, pd.DataFrame(rows, columns=PREFLIGHT_COLUMNS), note
