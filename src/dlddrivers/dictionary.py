"""Look-ups in a study's data dictionary (``data_dictionary.csv``: the catalogue entries of the
indicators a study uses, with their role): an indicator's domain and driver group, label,
measure, source and which direction is better. Lagged column names (``x_lag1``) resolve to their
indicator. The vocabulary itself (domains, groups, levels) is defined in
:mod:`dlddrivers.catalogue`; methods, causal code, plots and the summary read it through here or
from the catalogue, never from a copy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from .catalogue import ANTHROPOGENIC, BIOPHYSICAL


def base_indicator(column: str) -> str:
    """Strip a ``_lagK`` suffix added by :func:`dlddrivers.methods.paneltools.add_lags` (``spei3_jja_lag1`` -> ``spei3_jja``)."""
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
