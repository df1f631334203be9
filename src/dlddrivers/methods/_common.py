"""Shared helpers for the attribution-stage modules (panel regression, LMG, RESTREND, ...).

Driver groups by domain (defined in :mod:`dlddrivers.catalogue`), dictionary look-ups, stage
options and the driver pre-flight. The panel steps (complete cases, counts, lags, within
transforms) are in :mod:`.paneltools`, the inference helpers (seeds, bootstrap intervals, wild
bootstrap) in :mod:`.inference`. Nothing here writes files.
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
