"""Figures of the trends stage: per-unit time series with Theil-Sen lines; within correlations."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..methods._common import indicator_meta
from . import style


def label_of(dictionary: pd.DataFrame | None, indicator: str, with_measure: bool = True) -> str:
    """``label (measure)`` of an indicator from the dictionary (the id when unknown)."""
    lab = indicator_meta(dictionary, indicator, "label", indicator)
    meas = indicator_meta(dictionary, indicator, "measure")
    return f"{lab} ({meas})" if with_measure and meas else lab


def sources_caption(dictionary: pd.DataFrame | None, indicators, prefix: str = "") -> str:
    """Caption naming the sources of ``indicators`` (from ``dictionary.source``)."""
    srcs: list[str] = []
    if dictionary is not None and "source" in dictionary:
        sub = dictionary[dictionary["indicator"].isin(list(indicators))]
        srcs = sorted({str(s) for s in sub["source"].dropna()})
    text = "Sources: " + "; ".join(srcs) + "." if srcs else ""
    return " ".join(x for x in (prefix, text) if x)


def _series_figure(tab: pd.DataFrame, panel: pd.DataFrame, dictionary, study, ind: str):
    import matplotlib.pyplot as plt

    units = list(tab["unit"])
    ncol = min(4, len(units))
    nrow = math.ceil(len(units) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(2.6 * ncol, 2.0 * nrow + 0.4), sharex=True,
                             squeeze=False)
    for ax in axes.flat[len(units):]:
        ax.set_visible(False)
    for ax, (_, r) in zip(axes.flat, tab.iterrows(), strict=False):
        g = panel[panel["unit"] == r["unit"]].sort_values("year")
        ax.plot(g["year"], g[ind], "-o", ms=2.5, lw=0.8, color=style.OKABE_ITO[4])
        if r["status"] == "ok" and np.isfinite(r["slope"]):
            x = np.array([r["first_year"], r["last_year"]], dtype=float)
            ax.plot(x, r["intercept"] + r["slope"] * x, "-", lw=1.6, color=style.OKABE_ITO[5])
            mark = "*" if bool(r["significant"]) else "n.s."
            txt = f"{r['slope_per_decade']:.3g}/decade {mark}\np={r['mk_p']:.2g}"
        else:
            txt = str(r["status"])
        ax.set_title(str(r["unit"]), fontsize=8)
        ax.text(0.02, 0.97, txt, transform=ax.transAxes, va="top", fontsize=6.5)
    for ax in axes[:, 0]:
        ax.set_ylabel(label_of(dictionary, ind), fontsize=7)
    from matplotlib.ticker import MaxNLocator

    for ax in axes.flat:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
    for ax in axes[-1, :]:
        ax.set_xlabel("year")
    fig.suptitle(f"{label_of(dictionary, ind, False)}: Theil-Sen line per unit "
                 f"({study.get('name', '')})", fontsize=10)
    fig.tight_layout()
    return fig


def plot(tables: dict, panel: pd.DataFrame, dictionary: pd.DataFrame, study: dict,
         outdir: Path) -> list[Path]:
    """One small-multiple figure per indicator and a within-unit correlation heatmap.

    Returns the written PNG paths.
    """
    import matplotlib.pyplot as plt

    style.apply_style()
    outdir = Path(outdir)
    paths: list[Path] = []
    t = tables["trends"]
    for ind, tab in t.groupby("indicator", sort=False):
        if ind not in panel.columns:
            continue
        fig = _series_figure(tab, panel, dictionary, study, ind)
        cap = sources_caption(dictionary, [ind],
                              "Vermilion line: Theil-Sen slope from the trends table; * = Mann-Kendall "
                              f"p < 0.05 ({tab['mk_variant'].iloc[0]}).")
        paths += style.save(fig, outdir / f"trends_{ind}.png", caption=cap)
    c = tables["correlations"]
    c = c[c["kind"] == "within"]
    if not c.empty:
        names = list(dict.fromkeys(list(c["var1"]) + list(c["var2"])))
        m = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
        for _, r in c.iterrows():
            m.loc[r["var1"], r["var2"]] = m.loc[r["var2"], r["var1"]] = r["r"]
        fig, ax = plt.subplots(figsize=(1.0 + 0.7 * len(names), 0.8 + 0.6 * len(names)))
        im = ax.imshow(m.to_numpy(float), cmap=style.DIVERGING_CMAP, vmin=-1, vmax=1)
        for i in range(len(names)):
            for j in range(len(names)):
                v = m.iat[i, j]
                ax.text(j, i, "" if not np.isfinite(v) else f"{v:.2f}", ha="center",
                        va="center", fontsize=7, color="white" if abs(v) > 0.6 else "black")
        labels = [label_of(dictionary, n, False) for n in names]
        ax.set_xticks(range(len(names)), labels, rotation=45, ha="right")
        ax.set_yticks(range(len(names)), labels)
        fig.colorbar(im, ax=ax, label="Pearson r (within units)")
        ax.set_title(f"Within-unit correlations ({study.get('name', '')})")
        ax.grid(False)
        n_obs = int(c["n_obs"].max())
        cap = sources_caption(dictionary, names, f"Each variable demeaned per unit; pairwise "
                              f"complete unit-years (up to {n_obs}). Association, not cause.")
        paths += style.save(fig, outdir / "trends_correlations_within.png", caption=cap)
    return paths
