"""Panel helpers for the causal stage: complete rows, within-unit lags, two-way demeaning."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

#: Wording written in the ``panel_handling`` column of effect tables.
TWO_WAY = "two-way demeaned (unit and year)"
UNIT_ONLY = "unit-demeaned (unit means removed; year-to-year change kept)"


def complete_rows(panel: pd.DataFrame, columns: Sequence[str]) -> tuple[pd.DataFrame, int]:
    """Rows of ``panel`` (unit, year and ``columns``) with no NaN in ``columns``.

    Returns the subset (index reset) and the number of rows dropped.
    """
    cols = ["unit", "year", *dict.fromkeys(columns)]
    sub = panel.loc[:, cols]
    keep = sub[list(dict.fromkeys(columns))].notna().all(axis=1)
    return sub.loc[keep].reset_index(drop=True), int((~keep).sum())


def lag_within_unit(panel: pd.DataFrame, column: str, lag: int = 1) -> pd.Series:
    """Value of ``column`` at (unit, year - lag); NaN when that year is absent.

    Aligned on ``panel``'s index. Matching is by year, not by row position, so gaps in a
    unit's years give NaN rather than a wrong neighbour.
    """
    key = panel[["unit", "year"]].copy()
    src = panel[["unit", "year", column]].copy()
    src["year"] = src["year"] + lag
    merged = key.merge(src, on=["unit", "year"], how="left")
    return pd.Series(merged[column].to_numpy(), index=panel.index, name=column)


def demean(frame: pd.DataFrame, columns: Sequence[str], *, year: bool = True,
           tol: float = 1e-10, max_iter: int = 500) -> pd.DataFrame:
    """Remove unit (and year) means from ``columns``.

    Balanced panels are demeaned exactly in one pass (x - unit mean - year mean + grand mean);
    unbalanced panels by alternating projections (Guimaraes and Portugal 2010) until the
    largest change is below ``tol`` times the column's scale.

    Parameters
    ----------
    frame
        Rows with ``unit``, ``year`` and ``columns`` (no NaN in ``columns``).
    columns
        Columns to demean; other columns are returned unchanged.
    year
        Also remove year means (two-way). With ``False`` only unit means are removed.
    """
    out = frame.copy()
    if frame.empty:
        return out
    units = frame["unit"].to_numpy()
    years = frame["year"].to_numpy()
    for col in columns:
        x = frame[col].to_numpy(dtype=float).copy()
        scale = max(float(np.nanstd(x)), 1e-300)
        for _ in range(max_iter):
            before = x.copy()
            x = x - pd.Series(x).groupby(units).transform("mean").to_numpy()
            if year:
                x = x - pd.Series(x).groupby(years).transform("mean").to_numpy()
            if not year or np.max(np.abs(x - before)) < tol * scale:
                break
        if year:  # a final unit pass keeps unit means exactly zero
            x = x - pd.Series(x).groupby(units).transform("mean").to_numpy()
        out[col] = x
    return out


def panel_shape(frame: pd.DataFrame) -> dict[str, int]:
    """``n_units``, ``n_years`` and ``n_obs`` of a long panel frame."""
    return {
        "n_units": int(frame["unit"].nunique()) if len(frame) else 0,
        "n_years": int(frame["year"].nunique()) if len(frame) else 0,
        "n_obs": int(len(frame)),
    }
