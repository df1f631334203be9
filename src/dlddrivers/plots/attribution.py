"""Trend components per unit (remainder in grey) and LMG group shares with intervals."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..methods._common import indicator_meta
from . import style
from .panel_regression import _sources

_COMP = [("climate_change", "climate", "climate change"),
         ("climate_variability", None, "climate variability"),
         ("anthropogenic", "anthropogenic", "anthropogenic drivers"),
         ("remainder", "remainder", "remainder (unexplained)")]


def plot(tables: Mapping[str, pd.DataFrame], panel: pd.DataFrame, dictionary: pd.DataFrame,
         study: Mapping, outdir: Path) -> list[Path]:
    """Per outcome: stacked trend components (diverging from 0) with the observed change as a
    black tick, and the LMG biophysical/anthropogenic shares with their intervals."""
    import matplotlib.pyplot as plt

    style.apply_style()
    tab = tables.get("attribution", pd.DataFrame())
    paths: list[Path] = []
    for y, g in tab.groupby("outcome", sort=False):
        td = g[g["method"] == "trend_decomposition"].pivot_table(index="unit", columns="quantity",
                                                                  values="value", aggfunc="first")
        if td.empty:
            continue
        units = [u for u in td.index if u != "pooled"] + (["pooled"] if "pooled" in td.index else [])
        td = td.loc[units]
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [2.2, 1]})
        x = np.arange(len(units))
        pos = np.zeros(len(units))
        neg = np.zeros(len(units))
        for q, ckey, lab in _COMP:
            v = td[q].to_numpy(float)
            col = style.DOMAIN_COLORS[ckey] if ckey else "#9ecae1"
            base = np.where(v >= 0, pos, neg)
            a1.bar(x, v, bottom=base, color=col, label=lab, width=0.7)
            pos += np.where(v >= 0, v, 0)
            neg += np.where(v < 0, v, 0)
        a1.plot(x, td["observed_change"], "_", color="black", ms=14, mew=2, label="observed Theil-Sen change")
        a1.axhline(0, color="#666666", lw=0.6)
        a1.set_xticks(x)
        a1.set_xticklabels(units, rotation=60, fontsize=7)
        a1.set_ylabel(f"change in {y} over the period ({indicator_meta(dictionary, y, 'measure', 'outcome units')})")
        a1.set_title("share of trend: additive components")
        a1.legend(frameon=False, fontsize=7)
        lmg = g[(g["method"] == "lmg") & g["quantity"].isin(["biophysical_share", "anthropogenic_share"])]
        lmg = lmg[lmg["value"].notna()]
        for k, (q, col) in enumerate([("biophysical_share", "biophysical"), ("anthropogenic_share", "anthropogenic")]):
            s = lmg[lmg["quantity"] == q].set_index("unit").reindex(units)
            a2.plot(s["value"], x + (k - 0.5) * 0.3, "o", color=style.DOMAIN_COLORS[col], label=col, ms=4)
            style.draw_interval(a2, x + (k - 0.5) * 0.3, s["ci_low"], s["ci_high"],
                                color=style.DOMAIN_COLORS[col], cap=0.06)
        a2.set_yticks(x)
        a2.set_yticklabels(units, fontsize=7)
        a2.set_xlim(-0.02, 1.02)
        a2.set_xlabel("share of explained variance (fraction of R²)")
        a2.set_title("LMG shares")
        a2.legend(frameon=False, fontsize=7)
        r0 = g[g["unit"] == "pooled"].iloc[0] if (g["unit"] == "pooled").any() else g.iloc[0]
        cap = (f"{study.get('name', '')}, {y}. Left: observed change = climate change + climate variability + "
               f"anthropogenic + remainder (remainder not attributed to people). Right: LMG shares with "
               f"{float(r0['ci_level']):.0%} bootstrap intervals. Associations from a unit-FE model, not causal "
               f"effects. Pooled: {int(r0['n_units'])} units, {int(r0['n_obs'])} obs; status: {r0['status']}. "
               f"Sources: {_sources(dictionary, [y])}.")
        paths += style.save(fig, Path(outdir) / f"attribution_{y}", caption=cap)
    return paths
