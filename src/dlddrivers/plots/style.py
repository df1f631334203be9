"""One plot style for every figure: colour-blind-safe palette, labelled axes, source caption."""

from __future__ import annotations

from pathlib import Path

# Okabe & Ito (2008) colour-blind-safe palette.
OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"]

#: A fixed colour per indicator domain, so a domain looks the same in every figure.
DOMAIN_COLORS = {
    "climate": "#0072B2",
    "grazing": "#E69F00",
    "agriculture": "#009E73",
    "mining": "#D55E00",
    "land_use": "#CC79A7",
    "population": "#56B4E9",
    "economy": "#CC79A7",
    "impact": "#000000",
    "outcome": "#999999",
    "biophysical": "#0072B2",
    "anthropogenic": "#D55E00",
    "remainder": "#BBBBBB",
}

#: Diverging colour map that is colour-blind safe (blue-white-red is fine for CVD when paired).
DIVERGING_CMAP = "RdBu_r"
SEQUENTIAL_CMAP = "viridis"


def apply_style() -> None:
    """Set the matplotlib/seaborn defaults used by every figure (non-interactive backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(context="paper", style="whitegrid", palette=OKABE_ITO)
    plt.rcParams.update(
        {
            "figure.dpi": 110,
            "savefig.dpi": 150,
            "savefig.bbox": "tight",
            "axes.titlesize": 10,
            "axes.labelsize": 9,
            "xtick.labelsize": 8,
            "ytick.labelsize": 8,
            "legend.fontsize": 8,
            "svg.hashsalt": "dlddrivers",  # reproducible SVG ids
            "path.simplify": True,
        }
    )


def add_caption(fig, text: str) -> None:
    """Write a source/caveat caption under the figure."""
    fig.text(0.01, -0.02, text, ha="left", va="top", fontsize=7, color="#444444", wrap=True)


def save(fig, path: str | Path, *, caption: str | None = None, svg: bool = False) -> list[Path]:
    """Save ``fig`` as PNG (and SVG if asked) with an optional caption; close it; return paths."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if caption:
        add_caption(fig, caption)
    out = [path.with_suffix(".png")]
    fig.savefig(out[0], metadata={"Software": None})
    if svg:
        out.append(path.with_suffix(".svg"))
        fig.savefig(out[1], metadata={"Date": None})
    plt.close(fig)
    return out


def draw_interval(ax, pos, lo, hi, *, orient: str = "h", color: str = "#333333", lw: float = 1.0,
                  cap: float = 0.12) -> None:
    """Draw intervals [lo, hi] at positions ``pos`` as lines with end caps.

    Unlike ``errorbar`` this draws the interval as it is, also when a (percentile bootstrap)
    interval does not contain the point estimate. Missing bounds are skipped.
    """
    import numpy as np

    pos, lo, hi = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (pos, lo, hi))
    ok = np.isfinite(pos) & np.isfinite(lo) & np.isfinite(hi)
    pos, lo, hi = pos[ok], lo[ok], hi[ok]
    if orient == "h":
        ax.hlines(pos, lo, hi, color=color, lw=lw)
        ax.vlines(np.concatenate([lo, hi]), np.concatenate([pos - cap, pos - cap]),
                  np.concatenate([pos + cap, pos + cap]), color=color, lw=lw)
    else:
        ax.vlines(pos, lo, hi, color=color, lw=lw)
        ax.hlines(np.concatenate([lo, hi]), np.concatenate([pos - cap, pos - cap]),
                  np.concatenate([pos + cap, pos + cap]), color=color, lw=lw)
