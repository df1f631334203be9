"""Shared helpers for the attribution-stage modules (panel regression, LMG, RESTREND, ...).

Estimand names, stage options and the driver pre-flight. The data-dictionary look-ups (driver
groups by domain, labels, measures, directions) are in :mod:`dlddrivers.dictionary`, the panel
steps (complete cases, counts, lags, within transforms) in :mod:`.paneltools`, the inference
helpers (seeds, bootstrap intervals, wild bootstrap) in :mod:`.inference`. Nothing here writes
files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

# the data-dictionary look-ups, used by the methods as C.<name>; defined in dlddrivers.dictionary
from ..dictionary import (  # noqa: F401
    base_indicator,
    better_of,
    driver_domains,
    indicator_meta,
    split_drivers,
    study_columns,
)

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
    # one finiteness mask per column and one unit coding, then every count is a boolean AND
    # (the same counts as selecting the columns and dropping rows per call, without the pandas
    # work per driver); counts memoised by column set
    finite = {c: np.isfinite(pd.to_numeric(panel[c], errors="coerce").astype(float).to_numpy())
              for c in dict.fromkeys([outcome, *drivers])}
    ucode, _ = pd.factorize(panel["unit"])
    n_codes = int(ucode.max()) + 1 if len(ucode) else 0
    memo: dict[frozenset, tuple[int, int]] = {}

    def cnt(cols: Sequence[str]) -> tuple[int, int]:
        key = frozenset(cols)
        if key not in memo:
            ok = np.ones(len(panel), bool)
            for c in key:
                ok &= finite[c]
            sel = ucode[ok]
            n_units = int(np.count_nonzero(np.bincount(sel[sel >= 0], minlength=n_codes)))
            memo[key] = (int(ok.sum()), n_units)
        return memo[key]

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
