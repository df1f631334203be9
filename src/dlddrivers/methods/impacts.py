"""Impacts: livestock mortality (dzud losses) against the preceding summer's drought and winter.

For each study impact series (dictionary role ``impact``, e.g. ``mort_sfu``): the same
two-way fixed-effects regression, Driscoll-Kraay errors and wild cluster bootstrap as
:mod:`.panel_regression` (reused through :func:`.panel_regression.regress_outcome`), on lagged
drivers. A winter is labelled by the year it ends (``t``), so the preceding summer is ``t-1``:
by default ``spei3_jja`` and ``biomass_median`` enter at lag 1, the winter temperature
``t2m_djf`` at lag 0, and grazing pressure at lag 1 (previous December's herd) when it is a
study driver with domain ``grazing``. Optionally the drought x grazing interaction (the dzud
mechanism: a dry summer hurts more when pastures are crowded) is added as the product of the
*centred* (by sample mean) lagged SPEI and grazing columns, named
``<spei>_x_<grazing>``. Estimand ``association``.

``loss_years``: years with the largest mean impact across units (unweighted mean of the
units reporting; the study's units, not an official national figure), top ``top_years``,
with a percentile interval from a bootstrap over units, the number of units reporting and the
number above their own 90th percentile (over all their years). Estimand ``descriptive``.

Options (``DEFAULTS``)
----------------------
lags : dict or None, None
    None: ``{"spei3_jja": 1, "biomass_median": 1}`` for the columns present, plus lag 1 for
    study drivers of domain ``grazing``; other drivers at lag 0. A dict replaces this. A lag
    that the panel carries as a catalogue column (formula ``lag(x, k)``, e.g.
    ``spei3_jja_prev``) is taken from that column, so the first panel year is kept.
interaction : bool, True
    Add the centred drought x grazing product.
drought : str, "spei3_jja"
    Drought column for the interaction.
top_years : int, 5
bootstrap_draws : int, 999
ci : float, 0.95
min_clusters : int, 30
weights : str, "auto"
heads_lost : str or None, "heads_lost_kh"
    Panel column of livestock heads lost per unit and year, in thousand head (the catalogue's
    ``heads_lost_kh``: species mortality x the previous December's herd); when present,
    ``heads_lost`` sums it over the units reporting, per year, in million heads, with the number
    of units reporting and missing (a year with units missing is a lower bound and says so).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from . import _common as C
from . import inference as I
from . import paneltools as P

DEFAULTS: dict = {
    "lags": None,
    "interaction": True,
    "drought": "spei3_jja",
    "top_years": 5,
    "bootstrap_draws": 999,
    "ci": 0.95,
    "min_clusters": 30,
    "weights": "auto",
    "heads_lost": "heads_lost_kh",
}

DEFAULT_LAGS = {"spei3_jja": 1, "biomass_median": 1}

LOSS_COLUMNS = [
    "impact", "year", "rank", "mean_loss", "ci_low", "ci_high", "ci_level", "measure",
    "n_units_reporting", "n_units_above_p90", "n_units", "n_years", "n_obs", "status", "estimand",
    "note",
]


HEADS_COLUMNS = ["year", "heads_lost_million", "n_units_reporting", "n_units_missing", "units_missing",
                 "n_units", "source_column", "status", "estimand"]


def heads_lost(panel: pd.DataFrame, column: str) -> pd.DataFrame:
    """Livestock heads lost per year over the study's units, in million heads.

    ``column`` holds thousand heads lost per unit and year; the yearly total is the sum over the
    units with a value (``n_units_reporting``); units without one are listed in
    ``units_missing`` and the row's status says the total is a lower bound. Years where no unit
    reports (e.g. the first year, before a lagged herd exists) are kept with an empty total.
    Estimand ``descriptive``.
    """
    if column not in panel.columns:
        return pd.DataFrame(columns=HEADS_COLUMNS)
    units = sorted(panel["unit"].astype(str).unique())
    rows = []
    for year, g in panel.groupby("year", sort=True):
        have = g.loc[g[column].notna(), "unit"].astype(str)
        missing = sorted(set(units) - set(have))
        n = len(have)
        total = float(g[column].sum(min_count=1)) / 1000.0 if n else np.nan
        status = ("ok" if not missing else
                  ("insufficient_data: no unit reports" if n == 0 else
                   f"partial: {len(missing)} of {len(units)} units missing; total is a lower bound"))
        rows.append({"year": int(year), "heads_lost_million": total, "n_units_reporting": n,
                     "n_units_missing": len(missing), "units_missing": " ".join(missing),
                     "n_units": len(units), "source_column": column, "status": status,
                     "estimand": "descriptive"})
    return pd.DataFrame(rows, columns=HEADS_COLUMNS)


UNIT_MEAN_COLUMNS = ["impact", "year", "mean", "n_units_reporting", "n_units", "measure", "status",
                     "estimand"]


def unit_mean(panel: pd.DataFrame, impact: str, measure: str = "") -> pd.DataFrame:
    """The impact's mean across units per year (the line drawn over the unit series).

    The mean is over the units with a value that year (``n_units_reporting`` of ``n_units``);
    a year where no unit reports keeps its row with an empty mean and status
    ``insufficient_data``. Estimand ``descriptive``.
    """
    if impact not in panel.columns:
        return pd.DataFrame(columns=UNIT_MEAN_COLUMNS)
    n_units = int(panel["unit"].nunique())
    rows = []
    for year, g in panel.groupby("year", sort=True):
        v = g[impact].dropna()
        rows.append({"impact": impact, "year": int(year),
                     "mean": float(v.mean()) if len(v) else np.nan,
                     "n_units_reporting": len(v), "n_units": n_units, "measure": measure,
                     "status": ("ok" if len(v) == n_units else
                                "insufficient_data: no unit reports" if not len(v) else
                                f"partial: {n_units - len(v)} of {n_units} units missing"),
                     "estimand": "descriptive"})
    return pd.DataFrame(rows, columns=UNIT_MEAN_COLUMNS)


def default_lags(dictionary: pd.DataFrame, drivers: list[str], panel: pd.DataFrame) -> dict[str, int]:
    """Lag 1 for summer SPEI/biomass and grazing-domain drivers, 0 for the rest.

    Drivers that the catalogue already defines as a lag (formula ``lag(x, k)``, e.g.
    ``sheep_units_per_km2_prev``) enter at lag 0, so that they are never lagged twice.
    """
    doms = C.driver_domains(dictionary, drivers)
    formulas = {}
    if "formula" in dictionary.columns:
        formulas = dict(zip(dictionary["indicator"], dictionary["formula"].fillna("").astype(str), strict=False))
    lags = {
        d: 0 if formulas.get(d, "").strip().startswith("lag(")
        else DEFAULT_LAGS.get(d, 1 if doms[d] == "grazing" else 0)
        for d in drivers
    }
    for d, k in DEFAULT_LAGS.items():
        if d in panel.columns:
            lags.setdefault(d, k)
    return lags


def _catalogue_lag_of(dictionary: pd.DataFrame, column: str) -> str | None:
    """The indicator that ``column`` lags when its dictionary formula is ``lag(x, k)``, else None."""
    f = C.indicator_meta(dictionary, column, "formula").strip()
    if not f.startswith("lag(") or "," not in f:
        return None
    return f[len("lag("):].split(",", 1)[0].strip()


def carried_lags(dictionary: pd.DataFrame, panel: pd.DataFrame, lags: Mapping[str, int]) -> dict[str, str]:
    """Lags that the panel already carries: ``{indicator: column}`` for each ``lags`` entry
    ``indicator: k`` (k > 0) where a panel column's catalogue formula is ``lag(indicator, k)``
    (e.g. ``spei3_jja_prev``). Using that column keeps the first panel year, which a lag
    computed inside the panel loses (the previous year lies outside the study window)."""
    out: dict[str, str] = {}
    if dictionary is None or "formula" not in dictionary.columns:
        return out
    for ind, f in zip(dictionary["indicator"].astype(str), dictionary["formula"].fillna("").astype(str),
                      strict=False):
        f = f.strip().replace(" ", "")
        if not f.startswith("lag(") or ind not in panel.columns:
            continue
        src, _, k = f[len("lag("):-1].partition(",")
        if src in lags and k.isdigit() and int(k) == int(lags[src]) > 0:
            out.setdefault(src, ind)
    return out


def loss_years(panel: pd.DataFrame, impact: str, *, top: int = 5, ci: float = 0.95,
               draws: int = 999, rng: np.random.Generator | None = None, measure: str = "") -> pd.DataFrame:
    """Years with the largest unweighted mean ``impact`` across units (see module docstring)."""
    rng = rng if rng is not None else np.random.default_rng(0)
    df, dropped = P.complete_cases(panel, [impact])
    if df.empty:
        return pd.DataFrame([{"impact": impact, "status": "insufficient_data: no observations",
                              "estimand": "descriptive"}]).reindex(columns=LOSS_COLUMNS)
    p90 = df.groupby("unit")[impact].transform(lambda s: s.quantile(0.9))
    df = df.assign(above=df[impact] > p90)
    wide = df.pivot(index="year", columns="unit", values=impact)
    means = wide.mean(axis=1)
    G = wide.shape[1]
    pick = rng.integers(0, G, size=(draws, G))
    W = wide.to_numpy(float)
    boot = np.nanmean(W[:, pick], axis=2) if G else np.empty((len(wide), 0))  # years x draws
    lo, hi = I.percentile_ci(boot, ci, axis=1)
    order = means.sort_values(ascending=False).index[:top]
    rows = []
    for r, yr in enumerate(order, start=1):
        i = wide.index.get_loc(yr)
        rows.append({"impact": impact, "year": int(yr), "rank": r, "mean_loss": float(means[yr]),
                     "ci_low": float(lo[i]), "ci_high": float(hi[i]), "ci_level": ci, "measure": measure,
                     "n_units_reporting": int(wide.loc[yr].notna().sum()),
                     "n_units_above_p90": int(df.loc[df["year"] == yr, "above"].sum()),
                     "n_units": G, "n_years": int(len(wide)), "n_obs": int(len(df)),
                     "status": "ok" if G >= 3 else f"ok; caution: only {G} units",
                     "estimand": "descriptive",
                     "note": f"unweighted mean over reporting units; interval: bootstrap over units; "
                             f"{dropped} missing unit-years excluded"})
    return pd.DataFrame(rows).reindex(columns=LOSS_COLUMNS)


def compute(
    panel: pd.DataFrame, dictionary: pd.DataFrame, study: Mapping, options: Mapping | None = None
) -> dict[str, pd.DataFrame]:
    """Lagged FE regressions of each impact series and its largest-loss years.

    Returns ``{"effects": ..., "loss_years": ..., "unit_mean": ...}`` (and ``heads_lost`` when
    the panel has the ``heads_lost`` column); ``unit_mean`` is :func:`unit_mean` per impact
    (columns :data:`UNIT_MEAN_COLUMNS`); ``effects`` has the columns of
    ``panel_regression.COEF_COLUMNS`` plus ``impact``, ``lag`` and ``term``.
    """
    from .panel_regression import COEF_COLUMNS, regress_outcome
    from .panel_regression import DEFAULTS as PR_DEFAULTS

    opts = C.merge_options(DEFAULTS, options)
    impacts = C.study_columns(study, dictionary, panel, "impacts", "impact")
    drivers = C.study_columns(study, dictionary, panel, "drivers", "driver")
    lags = dict(opts["lags"]) if opts["lags"] is not None else default_lags(dictionary, drivers, panel)
    carried = carried_lags(dictionary, panel, lags)
    lagged, mapping = P.add_lags(panel, {d: k for d, k in lags.items() if d not in carried})
    mapping.update(carried)
    lag_of_column = {mapping.get(d, d): int(k) for d, k in lags.items()}
    xs = [mapping.get(d, d) for d in drivers]
    doms = C.driver_domains(dictionary, xs)
    inter = None
    if opts["interaction"]:
        dcol = mapping.get(opts["drought"], opts["drought"])
        if dcol not in xs:
            # the drought driver may be a catalogue lag of it (formula ``lag(spei3_jja, 1)``,
            # e.g. ``spei3_jja_prev`` in the dzud study): use that column
            dcol = next((x for x in xs if _catalogue_lag_of(dictionary, x) == opts["drought"]), dcol)
        gcols = [x for x in xs if doms[x] == "grazing"]
        if dcol in xs and gcols:
            inter = f"{dcol}_x_{gcols[0]}"
            lagged[inter] = ((lagged[dcol] - lagged[dcol].mean()) * (lagged[gcols[0]] - lagged[gcols[0]].mean()))
    terms = xs + ([inter] if inter else [])
    ropts = {**PR_DEFAULTS, **{k: opts[k] for k in ("bootstrap_draws", "ci", "min_clusters", "weights")}}
    eff, losses, means = [], [], []
    for imp in impacts:
        rng = I.rng_from(study, I.stable_offset("impacts", imp))
        coef, _ = regress_outcome(lagged, dictionary, imp, terms, ropts, rng)
        coef = coef.rename(columns={"outcome": "impact"})
        coef["lag"] = [0 if t == inter else lag_of_column.get(t, int(lags.get(C.base_indicator(t), 0)))
                       for t in coef["driver"]]
        coef["term"] = ["interaction (centred product)" if t == inter else "main" for t in coef["driver"]]
        if inter:
            coef.loc[coef["driver"] == inter, "domain"] = "interaction"
        eff.append(coef)
        losses.append(loss_years(panel, imp, top=int(opts["top_years"]), ci=float(opts["ci"]),
                                 draws=int(opts["bootstrap_draws"]), rng=rng,
                                 measure=C.indicator_meta(dictionary, imp, "measure")))
        means.append(unit_mean(panel, imp, C.indicator_meta(dictionary, imp, "measure", "")))
    cols = ["impact", *[c for c in COEF_COLUMNS if c != "outcome"], "lag", "term"]
    effects = pd.concat(eff, ignore_index=True).reindex(columns=cols) if eff else pd.DataFrame(columns=cols)
    ly = pd.concat(losses, ignore_index=True) if losses else pd.DataFrame(columns=LOSS_COLUMNS)
    um = pd.concat(means, ignore_index=True) if means else pd.DataFrame(columns=UNIT_MEAN_COLUMNS)
    out = {"effects": effects, "loss_years": ly, "unit_mean": um}
    if opts["heads_lost"] and opts["heads_lost"] in panel.columns:
        out["heads_lost"] = heads_lost(panel, str(opts["heads_lost"]))
    return out
