"""Forest plot of the two-way FE coefficients (wild bootstrap intervals), coloured by domain."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ..methods._common import indicator_meta
from . import style


def _sources(dictionary: pd.DataFrame, indicators) -> str:
    src = sorted({indicator_meta(dictionary, i, "source") for i in indicators} - {""})
    return "; ".join(src) if src else "see data dictionary"


def plot(tables: Mapping[str, pd.DataFrame], panel: pd.DataFrame, dictionary: pd.DataFrame,
         study: Mapping, outdir: Path) -> list[Path]:
    """One forest plot per outcome: ``std_coef``-free raw coefficients with ``ci_low``/``ci_high``.

    Draws only the ``coefficients`` table; rows without a number (status not ok) are listed
    in the caption instead of plotted.
    """
    import matplotlib.pyplot as plt

    style.apply_style()
    coef = tables.get("coefficients", pd.DataFrame())
    paths: list[Path] = []
    for y, g in coef.groupby("outcome", sort=False):
        ok = g[g["coef"].notna()]
        if ok.empty:
            continue
        fig, ax = plt.subplots(figsize=(6, 0.45 * len(ok) + 1.5))
        ypos = range(len(ok))
        for i, (_, r) in enumerate(ok.iterrows()):
            col = style.DOMAIN_COLORS.get(r["domain"], "#444444")
            ax.plot([r["ci_low"], r["ci_high"]], [i, i], color=col, lw=2)
            ax.plot(r["coef"], i, "o", color=col)
        ax.axvline(0, color="#666666", lw=0.8)
        ax.set_yticks(list(ypos))
        ax.set_yticklabels([f"{d} ({indicator_meta(dictionary, d, 'measure', '?')})" for d in ok["driver"]])
        ax.set_xlabel(f"change in {y} ({indicator_meta(dictionary, y, 'measure', 'outcome units')}) per driver unit")
        ax.set_title(f"{study.get('name', '')}: two-way FE associations with {y}")
        for dom in ok["domain"].unique():
            ax.plot([], [], color=style.DOMAIN_COLORS.get(dom, "#444444"), lw=2, label=dom)
        ax.legend(loc="best", frameon=False)
        r0 = ok.iloc[0]
        skipped = g.loc[g["coef"].isna(), "driver"].tolist()
        cap = (f"Association (not causal). Unit and year fixed effects; {int(r0['n_units'])} units, "
               f"{int(r0['n_years'])} years, {int(r0['n_obs'])} obs ({int(r0['n_dropped'])} rows dropped). "
               f"Bars: {r0['ci_level']:.0%} wild cluster bootstrap-t intervals ({r0['bootstrap_weights']}). "
               + (f"Not estimable: {', '.join(skipped)}. " if skipped else "")
               + f"Sources: {_sources(dictionary, [y, *ok['driver']])}.")
        paths += style.save(fig, Path(outdir) / f"coefficients_{y}", caption=cap)
    return paths
