"""RESTREND residual series per unit with the Theil-Sen residual trend (facets)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..dictionary import indicator_meta
from . import layout, style


def plot(tables: Mapping[str, pd.DataFrame], panel: pd.DataFrame, dictionary: pd.DataFrame,
         study: Mapping, outdir: Path) -> list[Path]:
    """Facets per unit: residuals (points) and the Theil-Sen line from the ``restrend`` table
    (its ``residual_slope`` and ``residual_intercept`` columns)."""
    import matplotlib.pyplot as plt

    style.apply_style()
    res = tables.get("residuals", pd.DataFrame())
    rt = tables.get("restrend", pd.DataFrame())
    paths: list[Path] = []
    for y, g in res.groupby("outcome", sort=False):
        units = sorted(g["unit"].unique())
        ncol = min(4, len(units))
        nrow = int(np.ceil(len(units) / ncol))
        fig, axes = plt.subplots(nrow, ncol, figsize=(2.6 * ncol, 2.0 * nrow), sharex=True, squeeze=False)
        info = rt[rt["outcome"] == y].set_index("unit")
        for ax, u in zip(axes.ravel(), units, strict=False):
            s = g[g["unit"] == u]
            layout.hline(ax, 0, color="#999999", lw=0.6)
            ax.plot(s["year"], s["residual"], "o", ms=3, color=style.OKABE_ITO[4])
            if u in info.index and np.isfinite(info.loc[u, "residual_slope"]):
                yr = s["year"].to_numpy(float)
                slope = float(info.loc[u, "residual_slope"])
                mid = float(info.loc[u, "residual_intercept"])
                ax.plot(yr, mid + slope * yr, color=style.OKABE_ITO[5], lw=1.5)
                brk = info.loc[u, "break_year"]
                if bool(info.loc[u, "break_detected"]) and np.isfinite(brk):
                    ax.axvline(brk, color="black", ls="--", lw=0.8)
                ax.set_title(f"{style.unit_name(study, u)}: {slope:+.3g}/yr (MK p={info.loc[u, 'mk_p']:.2g})",
                             fontsize=7)
            else:
                ax.set_title(style.unit_name(study, u), fontsize=7)
        for ax in axes.ravel()[len(units):]:
            ax.set_visible(False)
        fig.suptitle(f"{study.get('name', '')}: RESTREND residuals of {indicator_meta(dictionary, y, 'label', y)} "
                     f"({indicator_meta(dictionary, y, 'measure', 'outcome units')})", fontsize=9)
        layout.tight_layout(fig)
        refused = info.index[info["status"].astype(str).str.startswith(("refused", "insufficient"))].tolist()
        cap = (f"RESTREND residuals of {y} after its regression on climate drivers; line = Theil-Sen trend, "
               f"dashed = Chow break (Bonferroni). Residual trend = non-climatic change, not automatically human. "
               + (f"Not shown (refused/insufficient): {', '.join(style.unit_name(study, u) for u in refused)}. "
                  if refused else "")
               + style.caption_sources(dictionary, [y]))
        paths += style.save(fig, Path(outdir) / f"restrend_residuals_{y}", caption=cap)
    return paths
