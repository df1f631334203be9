"""Attribution table: how much of an outcome goes with climate vs people, by three estimands.

For each outcome, every unit and a pooled row (``unit="pooled"``), in long format (one row per
quantity, every row naming its ``estimand``):

(a) **LMG shares** (``method="lmg"``, estimand ``share_of_explained_variance``): biophysical vs
    anthropogenic share of R-squared. Pooled: the two-way within R-squared with the unit block
    bootstrap of :mod:`.relative_importance`; per unit: the unit's time series (means removed)
    with a circular moving-block bootstrap in time (block ``ceil(T^(1/3))``).

(b) **Trend decomposition** (``method="trend_decomposition"``, estimand ``share_of_trend``),
    additive as in TSS.RESTREND's ``TSSRattribution`` (Burrell et al. 2019, Nature Sust.): a
    two-way fixed-effects model ``y_it = a_i + l_t + b_c' c_it + b_h' h_it + e_it`` is fitted on
    the pooled panel, with ``c`` the climate drivers and ``h`` the anthropogenic drivers. The
    common year effects ``l_t`` (``year_effects: true``, the default) take the part of the
    outcome's path shared by all units that the drivers do not explain, so a common trend is not
    shared out among whichever drivers trend (without them the coefficients are biased whenever
    the outcome has a common trend; ``year_effects: false`` restores the unit-effects-only
    model). The drivers' own common trends still act through ``b``. Per unit, with
    ``TS(.)`` the Theil-Sen change over the unit's period (median pairwise slope x span):

    * ``observed_change``      = TS(y)
    * ``climate_change``       = sum_k b_k TS(c_k) (``climate_change="trend"``: the fit driven by
      the climate drivers' own trends) or TS(b_c' rolling_mean(c)) (``"rolling"``: trailing
      mean over ``rolling_window`` years, expanding over the first years)
    * ``climate_variability``  = TS(b_c' c) - climate_change (the rest of the climate fit)
    * ``anthropogenic``        = TS(b_h' h) (fitted contribution of the anthropogenic drivers)
    * ``common_year_effects``  = TS(l_t) (change shared by all units and not explained by the
      drivers; neither climate nor human)
    * ``remainder``            = observed - (the four above); never folded into "human".

    The five components add up to the observed change (asserted). Shares of the observed
    change (``*_share_of_observed``) are reported too. Pooled row = mean over units of each
    component; a pooled share is the ratio of the pooled components (not a mean of per-unit
    ratios).

(c) **Counterfactual** (``method="counterfactual"``, estimand ``share_of_trend``; model-based
    from the same association model, not a causal design): predicted change = mean predicted
    outcome over the last ``baseline_years`` minus over the first ``baseline_years``, with the
    observed climate and with climate held at its baseline (first ``baseline_years``) mean;
    ``climate_attributable_change`` is their difference and
    ``climate_share_of_predicted_change`` its share of the predicted change.

(d) **Agreement** (columns on every row of an outcome x unit block): ``larger_group_lmg``,
    ``larger_group_trend`` (|climate change + variability| vs |anthropogenic|),
    ``larger_group_counterfactual`` (|climate-attributable| vs |predicted change with climate
    at baseline|); ``ranking_agreement`` = ``agree`` if all available methods name the same
    larger group, ``disagree`` otherwise, ``undetermined`` if fewer than two are available;
    ``sign_agreement`` = whether the trend decomposition's anthropogenic component and the
    counterfactual change without climate change have the same sign.

Ratios: a share (``*_share_of_observed``, ``climate_share_of_predicted_change``) is left empty
(NaN) with a status saying why when the interval of its denominator spans zero (the ratio is
unbounded there) or when the estimate lies outside its own interval; its components stay.

Placebo calibration (pooled rows): the pooled LMG group shares and the pooled anthropogenic
share of the observed change are recomputed ``placebo_draws`` times with the group's drivers
replaced by surrogates that keep each driver's trend and persistence per unit
(:func:`.relative_importance.surrogate_drivers`); columns ``placebo_median``, ``placebo_p95``,
``placebo_exceedance`` and ``calibration`` as in :mod:`.relative_importance` (two-sided, on
absolute values, for the signed share of the trend). LMG share
intervals can reach 0 (:func:`.relative_importance.share_interval`; ``note`` says
``near_zero``).

Rows of a block whose status is ``insufficient_data`` carry no value or interval.

Intervals (level ``ci``): pooled rows by the unit block bootstrap (units resampled, model
refitted); per-unit rows by a residual moving-block bootstrap in time (the model's residuals of
every unit resampled in circular blocks of ``block_length`` years, default ``ceil(T^(1/3))``,
added to the fit, model refitted, all components recomputed). Seeds from ``study["seed"]``.

Options (``DEFAULTS``)
----------------------
baseline_years : int, 5
bootstrap_draws : int, 499
    Draws for the trend/counterfactual bootstraps (and the LMG bootstraps).
ci : float, 0.95
climate_change : str, "trend"  ("trend" or "rolling")
rolling_window : int, 10
block_length : int or None, None  (None: ceil(T^(1/3)))
min_years : int, 8
    Units with fewer complete years get ``insufficient_data`` rows.
min_units : int, 3
    Fewer units: no pooled block bootstrap (pooled intervals NaN, status says so).
lags : dict[str, int], {}
year_effects : bool, True
    Common year effects in the trend-decomposition model (see (b)).
placebo_draws : int, 200
    Surrogate draws for the placebo calibration of the pooled shares (0: off).
placebo_alpha : float, 0.05
min_obs : int, 30
max_driver_loss : float, 0.5
    Pre-flight as in :mod:`.relative_importance` (:func:`._common.preflight`): a sparse driver
    is left out and named in every row's ``status``; counts in the ``preflight`` table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np
import pandas as pd

from . import _common as C
from . import inference as I
from . import paneltools as P

DEFAULTS: dict = {
    "baseline_years": 5,
    "bootstrap_draws": 499,
    "ci": 0.95,
    "climate_change": "trend",
    "rolling_window": 10,
    "block_length": None,
    "min_years": 8,
    "min_units": 3,
    "lags": {},
    "year_effects": True,
    "placebo_draws": 200,
    "placebo_alpha": 0.05,
    "min_obs": 30,
    "max_driver_loss": 0.5,
    # Per-unit rows (each unit's trend decomposition, counterfactual and time-series LMG with
    # their own bootstraps). False writes the pooled rows only, the same numbers (the pooled
    # bootstraps draw from their own seeded streams); the validation scores pooled rows only.
    "unit_rows": True,
}

COLUMNS = [
    "outcome", "unit", "method", "quantity", "value", "ci_low", "ci_high", "ci_level",
    "value_unit", "estimand", "n_units", "n_years", "n_obs", "n_dropped", "status",
    "larger_group_lmg", "larger_group_trend", "larger_group_counterfactual",
    "ranking_agreement", "sign_agreement", "placebo_median", "placebo_p95", "placebo_exceedance",
    "placebo_draws", "calibration", "note",
]

TREND_Q = ["observed_change", "climate_change", "climate_variability", "anthropogenic",
           "common_year_effects", "remainder"]
#: denominator of each ratio quantity
RATIO_DENOMINATOR = {**{f"{q}_share_of_observed": "observed_change" for q in TREND_Q[1:]},
                     "climate_share_of_predicted_change": "predicted_change"}
CF_Q = ["predicted_change", "predicted_change_climate_at_baseline", "climate_attributable_change",
        "climate_share_of_predicted_change"]


def ts_change(Y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Theil-Sen change (median pairwise slope x (t_max - t_min)) of each row of ``Y`` (m, n).

    Equals ``scipy.stats.theilslopes(y, t).slope * span`` for each row; vectorised.
    """
    Y = np.atleast_2d(np.asarray(Y, float))
    return _ts_rows(Y, _ts_pairs(np.ascontiguousarray(t, float).tobytes()))


def fit_unit_fe(y: np.ndarray, X: np.ndarray, unit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit fixed-effects OLS: returns (coefficients (k,), fitted values incl. unit effects)."""
    if X.shape[1] == 0:
        mu = y - P.demean_by(y, unit)
        return np.zeros(0), mu
    Xw = P.demean_by(X, unit)
    yw = P.demean_by(y, unit)
    b = np.linalg.lstsq(Xw, yw, rcond=None)[0]
    a = (y - yw) - (X - Xw) @ b  # unit mean of y minus unit mean of X b
    return b, a + X @ b


def fit_fe(
    y: np.ndarray, X: np.ndarray, unit: np.ndarray, year: np.ndarray | None = None,
    n_years: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fixed-effects OLS with unit effects and, if ``year`` codes are given, year effects.

    Returns ``(b (k,), fitted values incl. the effects, year effects l (n_years,))``; the year
    effects are centred (mean 0 over the years present) and are zeros without ``year``.
    """
    ny = int(n_years if n_years is not None else (int(year.max()) + 1 if year is not None and len(year) else 0))
    if year is None:
        b, fitted = fit_unit_fe(y, X, unit)
        return b, fitted, np.zeros(ny)
    # slopes from the two-way within transform (exact for unbalanced panels), then the effects
    # a_i + l_t of the residual split by alternating means (one pass when balanced)
    Xw = P.within(X, unit, year) if X.shape[1] else X
    yw = P.within(y, unit, year)
    b = np.linalg.lstsq(Xw, yw, rcond=None)[0] if X.shape[1] else np.zeros(0)
    fe = (y - X @ b) - (yw - Xw @ b) if X.shape[1] else y - yw
    G = int(unit.max()) + 1
    n_u = np.bincount(unit, minlength=G).astype(float)
    n_t = np.bincount(year, minlength=ny).astype(float)
    present = n_t > 0
    lam = np.zeros(ny)
    scale = max(float(np.abs(fe).max()) if fe.size else 0.0, 1.0)
    for _ in range(10_000):
        a = np.bincount(unit, fe - lam[year], minlength=G) / np.maximum(n_u, 1)
        new = np.where(present, np.bincount(year, fe - a[unit], minlength=ny) / np.maximum(n_t, 1), 0.0)
        done = float(np.abs(new - lam).max()) <= 1e-12 * scale
        lam = new
        if done:
            break
    lam = np.where(present, lam - lam[present].mean(), 0.0)
    return b, X @ b + fe, lam


def unit_components(
    t: np.ndarray,
    y: np.ndarray,
    Xc: np.ndarray,
    Xh: np.ndarray,
    bc: np.ndarray,
    bh: np.ndarray,
    *,
    climate_change: str = "trend",
    rolling_window: int = 10,
    baseline_years: int = 5,
    common: np.ndarray | None = None,
) -> dict[str, float]:
    """Trend components and counterfactual for one unit (sorted by year), given coefficients
    and (optionally) the common year effects ``common`` of the unit's years.

    Returns a dict with :data:`TREND_Q` and :data:`CF_Q` keys. The trend components are
    checked to add up to ``observed_change``. One unit of :func:`_component_matrix`.
    """
    n = len(y)
    arrays = {0: (np.arange(n), np.asarray(t, float), np.asarray(Xc, float), np.asarray(Xh, float),
                  np.arange(n))}
    b = np.concatenate([np.asarray(bc, float), np.asarray(bh, float)])
    opts = {"climate_change": climate_change, "rolling_window": rolling_window,
            "baseline_years": baseline_years}
    lam = None if common is None else np.asarray(common, float)
    row = _component_matrix(arrays, np.asarray(y, float), b, len(bc), [0], opts, lam)[0]
    return {q: float(v) for q, v in zip(COMPONENTS, row[: len(COMPONENTS)], strict=True)}


def _unit_arrays(df: pd.DataFrame, climate: Sequence[str], anthro: Sequence[str],
                 X: np.ndarray | None = None) -> dict:
    """Per unit: (row index, years, climate matrix, anthropogenic matrix, year codes), computed
    once. ``X`` (climate columns first) replaces the frame's driver values when given."""
    out = {}
    ycodes = P.codes(df["year"])
    years = df["year"].to_numpy(float)
    nc = len(climate)
    if X is None:  # per unit in column order, as ``df.iloc[idx][cols].to_numpy(float)`` gives
        Xc_all = df[list(climate)].to_numpy(float)
        Xh_all = df[list(anthro)].to_numpy(float)
    for u, idx in df.groupby("unit").indices.items():
        if X is None:
            xc, xh = np.asfortranarray(Xc_all[idx]), np.asfortranarray(Xh_all[idx])
        else:
            xc, xh = X[idx, :nc], X[idx, nc:]
        out[u] = (idx, years[idx], xc, xh, ycodes[idx])
    return out


def _with_drivers(arrays: dict, X: np.ndarray, nc: int) -> dict:
    """``arrays`` of :func:`_unit_arrays` with the driver values taken from ``X`` (climate
    columns first): equal to ``_unit_arrays(df, climate, anthro, X)`` without regrouping."""
    return {u: (idx, t, X[idx, :nc], X[idx, nc:], yc) for u, (idx, t, _, _, yc) in arrays.items()}


#: columns of a unit's components (:func:`unit_components`) and of their shares of the change
COMPONENTS = [*TREND_Q, *CF_Q]
SHARES = [f"{q}_share_of_observed" for q in TREND_Q[1:]]


def _component_matrix(arrays: dict, yv: np.ndarray, b: np.ndarray, nc: int, units, opts,
                      lam: np.ndarray | None = None, cache: dict | None = None) -> np.ndarray:
    """Components and shares for each unit in ``units`` given coefficients ``b`` (climate
    first) and the year effects ``lam`` (by year code; None: no year effects): an array
    ``(len(units), len(COMPONENTS) + len(SHARES))``, columns :data:`COMPONENTS` then
    :data:`SHARES` (each component of the trend divided by the observed change).

    The units that share the same years are done together: one Theil-Sen median over all
    their series and one set of year pairs (tests/test_attribution_batch.py compares every
    row with the per-unit computation, bit for bit).

    ``cache``: a dict kept by the caller for one ``arrays`` (the bootstrap draws of one
    outcome): what depends only on a unit's climate drivers and years (their Theil-Sen
    changes, their baseline-to-end mean differences) is computed once per unit and reused
    (the same numbers: a row's median does not depend on the other rows).
    """
    mode = opts["climate_change"]
    if mode not in ("trend", "rolling"):
        raise ValueError(f"climate_change must be 'trend' or 'rolling'; got {mode!r}")
    out = np.empty((len(units), len(COMPONENTS) + len(SHARES)))
    _trend_components(out, arrays, yv, b, nc, units, int(opts["baseline_years"]), lam,
                      rolling=None if mode == "trend" else int(opts["rolling_window"]),
                      cache=cache)
    with np.errstate(all="ignore"):
        out[:, len(COMPONENTS):] = out[:, 1 : len(TREND_Q)] / out[:, [0]]
    return out


@lru_cache(maxsize=64)
def _ts_pairs(t_bytes: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Year pairs of :func:`ts_change` for the years ``t`` (as bytes of a float array):
    (first index, second index, year difference) of the pairs with a positive difference, and
    the span ``t.max() - t.min()``."""
    t = np.frombuffer(t_bytes, dtype=float)
    i, j = np.triu_indices(len(t), k=1)
    dt = t[j] - t[i]
    ok = dt > 0
    return i[ok], j[ok], dt[ok], float(t.max() - t.min())


def _ts_rows(Y: np.ndarray, pairs) -> np.ndarray:
    """:func:`ts_change` of each row of ``Y`` with the pairs of :func:`_ts_pairs`."""
    i, j, dt, span = pairs
    return np.median((Y[:, j] - Y[:, i]) / dt, axis=1) * span


def _base_to_end(Xc: np.ndarray, kb: int) -> np.ndarray:
    """Mean of the last ``kb`` rows of ``Xc`` minus the mean of its first ``kb`` rows."""
    return Xc[-kb:].mean(axis=0) - Xc[:kb].mean(axis=0)


def _trend_components(out: np.ndarray, arrays: dict, yv: np.ndarray, b: np.ndarray, nc: int,
                      units, baseline_years: int, lam: np.ndarray | None,
                      rolling: int | None = None, cache: dict | None = None) -> None:
    """Fill ``out[:, :len(COMPONENTS)]`` with each unit's trend components and counterfactual,
    one group of units with the same years at a time (see the module docstring). ``rolling``:
    the climate change term is the Theil-Sen change of the climate fit on a rolling mean of
    that many years of the climate drivers (``climate_change="rolling"``); None: the sum of
    each coefficient times its driver's Theil-Sen change (``"trend"``). Products with the
    coefficients are taken per unit, so the numbers do not depend on the grouping.
    ``cache``: see :func:`_component_matrix` (a fresh one when None)."""
    cache = {} if cache is None else cache
    bc, bh = b[:nc], b[nc:]
    groups: dict[bytes, list[int]] = {}
    for k, u in enumerate(units):
        groups.setdefault(np.ascontiguousarray(arrays[u][1], float).tobytes(), []).append(k)
    for t_bytes, ks in groups.items():
        pairs = _ts_pairs(t_bytes)
        n_t = len(t_bytes) // 8
        m = len(ks)
        extra = 1 if rolling is not None else (nc if len(bc) else 0)
        # trend mode: the climate drivers' own Theil-Sen changes come from the cache
        cached = rolling is None and extra > 0
        rows = np.empty((m, 3 if cached else 3 + extra, n_t))
        for r, k in enumerate(ks):
            idx, _, Xc, Xh, _ = arrays[units[k]]
            rows[r, 0] = yv[idx]
            rows[r, 1] = Xc @ bc if len(bc) else 0.0
            rows[r, 2] = Xh @ bh if len(bh) else 0.0
            if rolling is not None:
                roll = pd.DataFrame(Xc).rolling(rolling, min_periods=1).mean()
                rows[r, 3] = roll.to_numpy() @ bc if len(bc) else 0.0
        if cached:
            ch = np.empty((m, 3 + extra))
            ch[:, :3] = _ts_rows(rows.reshape(-1, n_t), pairs).reshape(m, -1)
            for r, k in enumerate(ks):
                key = ("ts_climate", units[k])
                if key not in cache:
                    cache[key] = _ts_rows(np.ascontiguousarray(arrays[units[k]][2].T), pairs)
                ch[r, 3:] = cache[key]
        else:
            ch = _ts_rows(rows.reshape(-1, n_t), pairs).reshape(m, -1)
        if lam is not None:
            common = np.asarray(lam[arrays[units[ks[0]]][4]], float)[None]
            lam_change = float(_ts_rows(common, pairs)[0])
        else:
            lam_change = 0.0
        obs, fc, fh = ch[:, 0], ch[:, 1], ch[:, 2]
        if rolling is not None:
            cc = ch[:, 3]
        else:
            cc = np.array([float(ch[r, 3:] @ bc) for r in range(m)]) if len(bc) else np.zeros(m)
        cv = fc - cc
        rem = obs - cc - cv - fh - lam_change
        if not np.all(np.isclose(cc + cv + fh + lam_change + rem, obs, rtol=0,
                                 atol=1e-9 * np.maximum(1.0, np.abs(obs)))):
            raise AssertionError("components must add up")
        kb = max(1, min(int(baseline_years), n_t // 2))
        Fc, Fh = rows[:, 1], rows[:, 2]
        d_pred = (Fc[:, -kb:].mean(axis=1) + Fh[:, -kb:].mean(axis=1)) - (
            Fc[:, :kb].mean(axis=1) + Fh[:, :kb].mean(axis=1))
        d_cf = Fh[:, -kb:].mean(axis=1) - Fh[:, :kb].mean(axis=1)
        if len(bc):
            for k in ks:
                if ("clim", units[k], kb) not in cache:
                    cache[("clim", units[k], kb)] = _base_to_end(arrays[units[k]][2], kb)
            clim = np.array([float(bc @ cache[("clim", units[k], kb)]) for k in ks])
        else:
            clim = np.zeros(m)
        with np.errstate(all="ignore"):
            share = np.where(d_pred != 0, clim / np.where(d_pred != 0, d_pred, 1.0), np.nan)
        out[ks, : len(COMPONENTS)] = np.column_stack(
            [obs, cc, cv, fh, np.full(m, lam_change), rem, d_pred, d_cf, clim, share])


def _column_sums(M: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Weighted column sums of ``M`` (rows = units), missing values counted as 0, summed along
    contiguous rows of ``M.T`` (pairwise, as pandas' ``DataFrame.sum`` does on its column
    blocks, so the sums equal the frame's to the last bit)."""
    W = M if weights is None else M * weights[:, None]
    Wt = np.ascontiguousarray(W.T)
    return np.where(np.isnan(Wt), 0.0, Wt).sum(axis=1)


def _unit_mean(M: np.ndarray, columns: Sequence[str]) -> pd.Series:
    """Column means over units (rows) skipping missing values, as ``DataFrame.mean``."""
    n = (~np.isnan(M)).sum(axis=0)
    with np.errstate(all="ignore"):
        return pd.Series(_column_sums(M) / n, index=list(columns))


def _pooled_ratios_rows(M: np.ndarray, columns: Sequence[str]) -> np.ndarray:
    """Recompute the share quantities of pooled (mean over units) rows ``M`` (columns
    ``columns``) from their pooled components, so that each pooled share is the ratio of the
    pooled numbers shown beside it (a mean of per-unit ratios is undefined as soon as one unit
    has a zero change, and is dominated by units whose change is near zero). A zero
    denominator gives NaN."""
    pos = {c: k for k, c in enumerate(columns)}
    plan = [(f"{q}_share_of_observed", q, "observed_change") for q in TREND_Q[1:]]
    plan.append(("climate_share_of_predicted_change", "climate_attributable_change",
                 "predicted_change"))
    out = np.array(M, float, copy=True)
    with np.errstate(all="ignore"):
        for r, num, den in plan:
            d = out[:, pos[den]]
            out[:, pos[r]] = np.where(d != 0, out[:, pos[num]] / np.where(d != 0, d, 1.0), np.nan)
    return out


def _pooled_ratios(values: pd.Series) -> pd.Series:
    """:func:`_pooled_ratios_rows` of one pooled row (a Series indexed by quantity)."""
    return pd.Series(_pooled_ratios_rows(values.to_numpy(float)[None], list(values.index))[0],
                     index=values.index)


def _larger(bio: float, anth: float) -> str | None:
    if not (np.isfinite(bio) and np.isfinite(anth)):
        return None
    return "anthropogenic" if abs(anth) > abs(bio) else "biophysical"


def _lmg_rows(res, climate, anthro, ci, placebo: Mapping[str, np.ndarray] | None = None,
              alpha: float = 0.05) -> list[dict]:
    from . import relative_importance as RI

    phi, tot, pb, tb = res["phi"], res["total"], res["phi_boot"], res["total_boot"]
    nc = len(climate)
    rows = []
    for name, group, sl in (("biophysical_share", "biophysical", slice(0, nc)),
                            ("anthropogenic_share", "anthropogenic", slice(nc, nc + len(anthro)))):
        with np.errstate(all="ignore"):
            draws = pb[:, sl].sum(axis=1) / tb
        value = float(phi[sl].sum() / tot) if tot > 0 else np.nan
        lo, hi, near0 = RI.share_interval(value, draws, ci)
        row = {"method": "lmg", "quantity": name, "value": value, "ci_low": lo, "ci_high": hi,
               "value_unit": "fraction of R2", "estimand": "share_of_explained_variance",
               "note": "near_zero: interval reaches 0" if near0 else ""}
        if placebo is not None and group in placebo:
            pc = RI.placebo_columns(value, placebo[group], alpha)
            pc.pop("share_above_placebo", None)
            row.update(pc)
        rows.append(row)
    rows.append({"method": "lmg", "quantity": "total_r2", "value": tot,
                 "ci_low": float(I.percentile_ci(tb, ci)[0]), "ci_high": float(I.percentile_ci(tb, ci)[1]),
                 "value_unit": "R2", "estimand": "share_of_explained_variance"})
    return rows


def ratio_status(value: float, lo: float, hi: float, den_lo: float, den_hi: float) -> str | None:
    """Why a ratio must be left empty, or None when it can be shown: its denominator's interval
    spans zero, or the estimate lies outside its own interval."""
    if np.isfinite(den_lo) and np.isfinite(den_hi) and den_lo <= 0 <= den_hi:
        return (f"not_defined: the denominator's interval ({den_lo:.4g} to {den_hi:.4g}) spans zero, "
                "so the ratio is unbounded; read the components")
    if np.isfinite(value) and np.isfinite(lo) and np.isfinite(hi) and not lo <= value <= hi:
        return (f"not_defined: the estimate {value:.4g} lies outside its own interval ({lo:.4g} to "
                f"{hi:.4g}); the ratio is unstable, read the components")
    return None


def attribute_outcome(
    panel: pd.DataFrame,
    dictionary: pd.DataFrame,
    y: str,
    climate: Sequence[str],
    anthro: Sequence[str],
    opts: Mapping,
    study: Mapping,
    *,
    lmg: bool = True,
) -> pd.DataFrame:
    """All attribution rows for one outcome (see module docstring). ``lmg=False`` leaves out
    the LMG rows (pooled and per unit) and with them the LMG side of ``larger_group_lmg`` and
    ``ranking_agreement``; the trend decomposition and the counterfactual draw from their own
    random streams, so their rows are the same either way."""
    from . import relative_importance as RI

    ci = float(opts["ci"])
    draws = int(opts["bootstrap_draws"])
    n_placebo = int(opts.get("placebo_draws") or 0)
    alpha = float(opts.get("placebo_alpha", 0.05))
    year_fx = bool(opts.get("year_effects", True))
    measure = C.indicator_meta(dictionary, y, "measure", "outcome units")
    xs = [*climate, *anthro]
    df_all, dropped = P.complete_cases(panel, [y, *xs])
    n_all = panel.groupby(panel["unit"].astype(str)).size()
    ny = df_all.groupby("unit")["year"].nunique()
    good = sorted(ny[ny >= int(opts["min_years"])].index)
    df = df_all[df_all["unit"].isin(good)].reset_index(drop=True)
    rows: list[dict] = []
    for u in sorted(set(panel["unit"].astype(str)) - set(good)):
        rows.append({"unit": u, "method": "all", "quantity": "all", "n_units": 1,
                     "n_years": int(ny.get(u, 0)), "n_obs": int(ny.get(u, 0)),
                     "n_dropped": int(n_all.get(u, 0) - ny.get(u, 0)), "estimand": "share_of_trend",
                     "status": f"insufficient_data: {int(ny.get(u, 0))} complete years < {opts['min_years']}"})
    if not good:
        return pd.DataFrame(rows)
    unit_codes = P.codes(df["unit"])
    year_codes = P.codes(df["year"]) if year_fx else None
    n_yc = int(P.codes(df["year"]).max()) + 1
    yv = df[y].to_numpy(float)
    X = df[xs].to_numpy(float)
    b, fitted, lam = fit_fe(yv, X, unit_codes, year_codes, n_yc)
    lam_or_none = lam if year_fx else None
    arrays = _unit_arrays(df, climate, anthro)
    nc = len(climate)
    cols = [*COMPONENTS, *SHARES]
    ccache: dict = {}  # per-unit climate terms of `arrays`, shared by the bootstrap draws
    comp = _component_matrix(arrays, yv, b, nc, good, opts, lam_or_none, ccache)
    resid = yv - fitted
    seed_off = I.stable_offset("attribution", y)
    # ---- per-unit residual moving-block bootstrap (fixed design: one pseudo-inverse)
    rng = I.rng_from(study, seed_off)
    L = opts.get("block_length")
    # each unit's row positions (df has a fresh RangeIndex): the positions _unit_arrays found
    unit_idx = {u: arrays[u][0] for u in good}
    boot_units = []
    unit_rows = bool(opts.get("unit_rows", True))
    for _ in range(draws if unit_rows else 0):
        ystar = fitted.copy()
        for idx in unit_idx.values():
            Lu = L or int(np.ceil(len(idx) ** (1 / 3)))
            ystar[idx] += resid[idx][RI.block_indices(len(idx), Lu, rng)]
        bs, _, lb = fit_fe(ystar, X, unit_codes, year_codes, n_yc)
        lb = lb if year_fx else None
        boot_units.append(_component_matrix(arrays, ystar, bs, nc, good, opts, lb, ccache))
    comp_s = pd.DataFrame(comp, index=good, columns=cols)
    # ---- pooled: mean over units, unit block bootstrap
    rng_p = I.rng_from(study, seed_off + 1)
    G = len(good)
    pooled_boot = []
    if G >= int(opts["min_units"]):
        for _ in range(draws):
            pick = rng_p.integers(0, G, size=G)
            idx = np.concatenate([unit_idx[good[k]] for k in pick])
            codes_b = np.repeat(np.arange(G), [len(unit_idx[good[k]]) for k in pick])
            bs, _, lb = fit_fe(yv[idx], X[idx], codes_b, None if year_codes is None else year_codes[idx], n_yc)
            picked = sorted(set(pick.tolist()))  # unit positions, in the order of `good`
            cb = _component_matrix(arrays, yv, bs, nc, [good[k] for k in picked], opts,
                                   lb if year_fx else None, ccache)
            weights = np.bincount(pick, minlength=G)[picked]  # times each unit was drawn
            pooled_boot.append(_column_sums(cb, weights) / weights.sum())
    pooled = _pooled_ratios(_unit_mean(comp, cols))
    pooled_boot_df = (pd.DataFrame(_pooled_ratios_rows(np.array(pooled_boot), cols), columns=cols)
                      if pooled_boot else pd.DataFrame())
    quantities = [*TREND_Q, *[f"{q}_share_of_observed" for q in TREND_Q[1:]], *CF_Q]

    def trend_rows(values: pd.Series, bootdf: pd.DataFrame | None) -> list[dict]:
        out, ci_of = [], {}
        for q in quantities:
            if bootdf is not None and len(bootdf):
                lo, hi = I.percentile_ci(bootdf[q].to_numpy(float), ci)
            else:
                lo = hi = np.nan
            ci_of[q] = (float(lo), float(hi))
        for q in quantities:
            method = "counterfactual" if q in CF_Q else "trend_decomposition"
            frac = q in RATIO_DENOMINATOR
            value, (lo, hi) = float(values[q]), ci_of[q]
            row = {"method": method, "quantity": q, "value": value, "ci_low": lo, "ci_high": hi,
                   "value_unit": "fraction" if frac else measure, "estimand": "share_of_trend"}
            if frac:
                why = ratio_status(value, lo, hi, *ci_of[RATIO_DENOMINATOR[q]])
                if why:
                    row.update(value=np.nan, ci_low=np.nan, ci_high=np.nan, status=why)
            out.append(row)
        return out

    # ---- placebo calibration of the pooled anthropogenic share of the observed change
    trend_placebo = None
    if n_placebo > 0 and anthro and G >= int(opts["min_units"]):
        rng_pl = I.rng_from(study, seed_off + 3)
        Sx = RI.surrogate_drivers(df, list(anthro), n_placebo, rng_pl)
        vals = []
        for k in range(n_placebo):
            Xk = X.copy()
            Xk[:, nc:] = Sx[k]
            bk, _, lk = fit_fe(yv, Xk, unit_codes, year_codes, n_yc)
            ck = _component_matrix(_with_drivers(arrays, Xk, nc), yv, bk, nc, good, opts,
                                   lk if year_fx else None)
            vals.append(_pooled_ratios(_unit_mean(ck, cols))["anthropogenic_share_of_observed"])
        trend_placebo = np.asarray(vals, float)
    # ---- LMG
    lmg_draws = draws
    lmg_pooled = None
    lmg_placebo = None
    lmg_ok = len(xs) <= RI.MAX_PREDICTORS
    if lmg and not lmg_ok:
        rows.append({"unit": "pooled", "method": "lmg", "quantity": "all", "n_dropped": dropped,
                     "estimand": "share_of_explained_variance", **P.counts(df),
                     "status": f"refused: LMG handles at most MAX_PREDICTORS={RI.MAX_PREDICTORS} "
                               f"predictors; got p={len(xs)}"})
    if G >= int(opts["min_units"]) and lmg_ok and lmg:
        lmg_pooled = RI.lmg_panel(df, y, xs, within=True, draws=lmg_draws, rng=I.rng_from(study, seed_off + 2))
        if n_placebo > 0:
            groups = {"biophysical": list(range(nc)), "anthropogenic": list(range(nc, len(xs)))}
            lmg_placebo = RI.placebo_group_shares(df, y, xs, groups, within=True, draws=n_placebo,
                                                  rng=I.rng_from(study, seed_off + 4))
    note_cf = "model-based counterfactual from a unit-FE association model (not a causal design)"
    if year_fx:
        note_cf = ("model-based counterfactual from a two-way FE association model (not a causal "
                   "design; common year effects left out of the predicted change)")
    cnt = P.counts(df)
    blocks: list[tuple[str, list[dict], dict]] = []
    # pooled block
    prow = trend_rows(pooled, pooled_boot_df if len(pooled_boot_df) else None)
    if trend_placebo is not None:
        for r in prow:
            if r["quantity"] == "anthropogenic_share_of_observed":
                r.update(RI.placebo_columns(float(pooled["anthropogenic_share_of_observed"]),
                                            trend_placebo, alpha, two_sided=True))
                r.pop("share_above_placebo", None)
    if lmg_pooled is not None:
        prow = _lmg_rows(lmg_pooled, climate, anthro, ci, lmg_placebo, alpha) + prow
    pstatus = "ok"
    if G < int(opts["min_units"]):
        pstatus = f"insufficient_data: {G} units < {opts['min_units']} (no unit block bootstrap; no pooled values)"
    elif G < 20:
        pstatus = f"ok; caution: unit block bootstrap over only {G} units; intervals are rough"
    blocks.append(("pooled", prow, {**cnt, "n_dropped": dropped, "status": pstatus}))
    for k, u in enumerate(good if unit_rows else []):
        g = df[df["unit"] == u]
        bu = pd.DataFrame(np.array([bd[k] for bd in boot_units]), columns=cols)
        urows = trend_rows(comp_s.loc[u], bu)
        if lmg_ok and lmg:
            res_u = RI.lmg_timeseries(g, y, xs, draws=lmg_draws,
                                      rng=I.rng_from(study, seed_off + 10 + k), block_length=L)
            urows = _lmg_rows(res_u, climate, anthro, ci) + urows
        st = "ok"
        if len(g) < 3 * len(xs):
            st = f"ok; caution: {len(xs)} drivers on {len(g)} years (per-unit LMG overfits)"
        blocks.append((u, urows, {"n_units": 1, "n_years": int(g["year"].nunique()), "n_obs": len(g),
                                  "n_dropped": int(n_all.get(u, 0) - len(g)), "status": st}))
    numbers = ["value", "ci_low", "ci_high", "placebo_median", "placebo_p95", "placebo_exceedance"]
    for unit, brow, meta in blocks:
        if str(meta["status"]).startswith("insufficient_data"):
            brow = [{**r, **dict.fromkeys(numbers, np.nan)} for r in brow]
        vals = {(r["method"], r["quantity"]): r["value"] for r in brow}
        lg_lmg = _larger(vals.get(("lmg", "biophysical_share"), np.nan), vals.get(("lmg", "anthropogenic_share"), np.nan))
        lg_tr = _larger(vals[("trend_decomposition", "climate_change")] + vals[("trend_decomposition", "climate_variability")],
                        vals[("trend_decomposition", "anthropogenic")])
        lg_cf = _larger(vals[("counterfactual", "climate_attributable_change")],
                        vals[("counterfactual", "predicted_change_climate_at_baseline")])
        named = [x for x in (lg_lmg, lg_tr, lg_cf) if x]
        ranking = "undetermined" if len(named) < 2 else ("agree" if len(set(named)) == 1 else "disagree")
        a, c = vals[("trend_decomposition", "anthropogenic")], vals[("counterfactual", "predicted_change_climate_at_baseline")]
        sign = ("undetermined" if not (np.isfinite(a) and np.isfinite(c)) or a == 0 or c == 0
                else ("agree" if np.sign(a) == np.sign(c) else "disagree"))
        for r in brow:
            note = r.get("note") or (note_cf if r["method"] == "counterfactual" else (
                "remainder = observed change not explained by the model; not human"
                if r["quantity"].startswith("remainder") else (
                    "change shared by all units, not explained by the drivers; neither climate nor human"
                    if r["quantity"].startswith("common_year_effects") else "")))
            status = meta["status"]
            if r.get("status"):
                status = r["status"] + ("" if status == "ok" else f"; block: {status}")
            rows.append({**r, **meta, "status": status, "unit": unit, "larger_group_lmg": lg_lmg,
                         "larger_group_trend": lg_tr, "larger_group_counterfactual": lg_cf,
                         "ranking_agreement": ranking, "sign_agreement": sign, "note": note})
    return pd.DataFrame(rows)


def compute(
    panel: pd.DataFrame, dictionary: pd.DataFrame, study: Mapping, options: Mapping | None = None,
    *, lmg: bool = True,
) -> dict[str, pd.DataFrame]:
    """Attribution table for every study outcome: ``{"attribution": ...}`` (:data:`COLUMNS`).
    ``lmg=False`` leaves out the LMG rows (for callers that read only the trend decomposition
    and the counterfactual, as the validation harness; see :func:`attribute_outcome`)."""
    opts = C.merge_options(DEFAULTS, options)
    outcomes = C.study_columns(study, dictionary, panel, "outcomes", "outcome")
    drivers = C.study_columns(study, dictionary, panel, "drivers", "driver")
    lagged, mapping = P.add_lags(panel, opts.get("lags"))
    xs = [mapping.get(d, d) for d in drivers]
    out, pre = [], []
    for y in outcomes:
        kept, ptab, pnote = C.preflight(lagged, y, xs, min_units=int(opts["min_units"]),
                                        min_obs=int(opts["min_obs"]),
                                        max_loss=float(opts["max_driver_loss"]))
        pre.append(ptab)
        climate, anthro = C.split_drivers(dictionary, kept)
        t = attribute_outcome(lagged, dictionary, y, climate, anthro, opts, study, lmg=lmg)
        if pnote:
            t["status"] = t["status"].astype(str) + f"; {pnote}"
        out.append(t.assign(outcome=y, ci_level=float(opts["ci"])))
    preflight = pd.concat(pre, ignore_index=True) if pre else pd.DataFrame(columns=C.PREFLIGHT_COLUMNS)
    if not out:
        return {"attribution": pd.DataFrame(columns=COLUMNS), "preflight": preflight}
    return {"attribution": pd.concat(out, ignore_index=True).reindex(columns=COLUMNS),
            "preflight": preflight}
