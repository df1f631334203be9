"""Maps of pixel results (matplotlib only): attribution classes, trends, SDG productivity."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .methods import ATTRIBUTION_CLASSES, PROD5_LABELS

_ATTR_COLORS = {-1: "#FFFFFF", 0: "#E0E0E0", 1: "#E6A03C", 2: "#B2182B", 3: "#762A83",
                4: "#F4C7C3", 5: "#5AAE61", 6: "#2166AC", 7: "#1B7837", 8: "#C7E9C0", 9: "#9E9E9E"}
_PROD5_COLORS = {1: "#B2182B", 2: "#EF8A62", 3: "#FDDBC7", 4: "#F7F7F7", 5: "#4DAC26"}


def _outlines(ax, geoms):
    for polys in (geoms or {}).values():
        for poly in polys:
            for ring in poly:
                r = np.asarray(ring)
                ax.plot(r[:, 0], r[:, 1], color="#333333", lw=0.4)


def _categorical(ax, da, colors, labels, title, geoms):
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.patches import Patch

    codes = sorted(colors)
    cmap = ListedColormap([colors[c] for c in codes])
    norm = BoundaryNorm([c - 0.5 for c in codes] + [codes[-1] + 0.5], cmap.N)
    v = np.asarray(da.values, dtype=float)
    ax.pcolormesh(da["lon"].values, da["lat"].values, np.ma.masked_invalid(v), cmap=cmap,
                  norm=norm, shading="nearest")
    _outlines(ax, geoms)
    present = [c for c in codes if np.any(v == c)]
    ax.legend(handles=[Patch(color=colors[c], label=labels[c]) for c in present],
              loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=7, frameon=False)
    ax.set_title(title, fontsize=9)


def plot_maps(ds, outdir: str | Path, geoms: Mapping[str, list] | None = None, title: str = "",
              limits: Mapping[str, float] | None = None) -> list[Path]:
    """PNG maps: attribution classes, actual and residual Theil-Sen slopes (BH-significant
    pixels only; symmetric colour limits ``limits[name]``, from
    :func:`dlddrivers.gridded.methods.slope_colour_limit`, 1.0 when absent), SDG combined
    productivity class."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, colors, labels, what in (
            ("attribution_class", _ATTR_COLORS, ATTRIBUTION_CLASSES,
             "attribution class (actual vs climate-driven trend, BH FDR)"),
            ("sdg_prod5", _PROD5_COLORS, PROD5_LABELS, "SDG 15.3.1 productivity (Trends.Earth prod5)")):
        fig, ax = plt.subplots(figsize=(9, 4.5))
        _categorical(ax, ds[name], colors, labels, f"{title}\n{what}", geoms)
        fig.tight_layout()
        paths.append(out / f"{name}.png")
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    for name, qname, label in (("actual_slope", "actual_q", "Theil-Sen slope of the outcome"),
                               ("residual_slope", "residual_q", "RESTREND residual trend")):
        v = np.where(ds[qname].values < 0.05, ds[name].values, np.nan)
        lim = float((limits or {}).get(name, 1.0))
        fig, ax = plt.subplots(figsize=(9, 4.5))
        m = ax.pcolormesh(ds["lon"].values, ds["lat"].values, np.ma.masked_invalid(v),
                          cmap="RdBu", vmin=-lim, vmax=lim, shading="nearest")
        _outlines(ax, geoms)
        fig.colorbar(m, ax=ax, label="per year (BH q < 0.05 only)")
        ax.set_title(f"{title}\n{label}", fontsize=9)
        fig.tight_layout()
        paths.append(out / f"{name}.png")
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    return paths
