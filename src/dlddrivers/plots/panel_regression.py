"""Forest plot of the two-way FE coefficients, standardised (SD of outcome per SD of driver),
with their wild bootstrap intervals, coloured by domain."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..dictionary import indicator_meta
from . import layout, style


def std_forest(ax, rows: pd.DataFrame, labels: list[str]) -> None:
    """Standardised coefficients (``std_coef``) with ``std_ci_low``/``std_ci_high`` as a forest
    plot on ``ax``, top to bottom in the order of ``rows``, a legend of the domains drawn below
    the axis (never over the points)."""
    n = len(rows)
    pos = np.arange(n)[::-1]
    for p, (_, r) in zip(pos, rows.iterrows(), strict=True):
        col = style.color(r["domain"])
        style.draw_interval(ax, [p], [r.get("std_ci_low", np.nan)], [r.get("std_ci_high", np.nan)],
                            color=col, lw=2, cap=0.15)
        ax.plot(r["std_coef"], p, "o", color=col, ms=5)
    ax.axvline(0, color="#666666", lw=0.8)
    ax.set_yticks(pos)
    ax.set_yticklabels(labels)
    ax.set_ylim(-0.7, n - 0.3)
    doms = list(dict.fromkeys(rows["domain"]))
    for dom in doms:
        ax.plot([], [], color=style.color(dom), lw=2, marker="o", label=str(dom).replace("_", " "))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=min(4, len(doms)), frameon=False)


def plot(tables: Mapping[str, pd.DataFrame], panel: pd.DataFrame, dictionary: pd.DataFrame,
         study: Mapping, outdir: Path) -> list[Path]:
    """One forest plot per outcome of the ``coefficients`` table: standardised coefficients
    (``std_coef``, SDs of the within-transformed data) with ``std_ci_low``/``std_ci_high``, so
    drivers measured in different units share one axis. Rows without a number (status not ok)
    are listed in the caption instead of plotted."""
    import matplotlib.pyplot as plt

    style.apply_style()
    coef = tables.get("coefficients", pd.DataFrame())
    paths: list[Path] = []
    for y, g in coef.groupby("outcome", sort=False):
        ok = g[g["std_coef"].notna()] if "std_coef" in g else g.iloc[0:0]
        if ok.empty:
            continue
        fig, ax = plt.subplots(figsize=(7, 0.42 * len(ok) + 2.2))
        std_forest(ax, ok, [indicator_meta(dictionary, d, "label", d) for d in ok["driver"]])
        ax.set_xlabel(f"SDs of {indicator_meta(dictionary, y, 'label', y)} per SD of the driver "
                      "(within unit and year)")
        ax.set_title(f"{study.get('name', '')}: two-way FE associations, standardised", fontsize=9)
        style.draw_flags(ax, style.flag_lines(g), loc="lower right")
        r0 = ok.iloc[0]
        skipped = g.loc[g["std_coef"].isna(), "driver"].tolist()
        raw = "; ".join(f"{d}: {c:+.3g} {indicator_meta(dictionary, y, 'measure', '')} per "
                        f"{indicator_meta(dictionary, d, 'measure', 'unit')}"
                        for d, c in zip(ok["driver"], ok["coef"], strict=True))
        cap = (f"Association (not causal). Unit and year fixed effects; {int(r0['n_units'])} units, "
               f"{int(r0['n_years'])} years, {int(r0['n_obs'])} obs ({int(r0['n_dropped'])} rows dropped). "
               f"Bars: {r0['ci_level']:.0%} wild cluster bootstrap-t intervals ({r0['bootstrap_weights']}), "
               f"scaled like the coefficients. Raw coefficients: {raw}. "
               + (f"Not estimable: {', '.join(skipped)}. " if skipped else "")
               + style.caption_sources(dictionary, [y, *ok["driver"]]))
        layout.freeze(fig)
        paths += style.save(fig, Path(outdir) / f"coefficients_{y}", caption=cap)
    return paths
