"""Coverage heatmap: which years each unit has for each indicator, and how gaps were treated."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import layout
from .style import apply_style, save

STATUS_CODE = {"missing": 0, "interpolated": 1, "observed": 2}


def plot_coverage(coverage: pd.DataFrame, study: str, outpath: str | Path) -> list[Path]:
    """One panel per unit: indicators (rows) x years (columns), coloured by status."""
    apply_style()
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    cmap = ListedColormap(["#D55E00", "#F0E442", "#0072B2"])  # missing, interpolated, observed
    units = list(dict.fromkeys(coverage["unit"]))
    indicators = list(dict.fromkeys(coverage["indicator"]))
    years = sorted(coverage["year"].unique())
    ncol = min(4, len(units))
    nrow = -(-len(units) // ncol)
    h = max(2.0, 0.13 * len(indicators) + 0.8)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, h * nrow), squeeze=False, sharey=True)
    for ax, unit in zip(axes.flat, units, strict=False):
        sub = coverage[coverage["unit"] == unit]
        grid = (sub.assign(code=sub["status"].map(STATUS_CODE))
                .pivot(index="indicator", columns="year", values="code")
                .reindex(index=indicators, columns=years))
        ax.imshow(grid.to_numpy(dtype=float), aspect="auto", cmap=cmap, vmin=0, vmax=2, interpolation="nearest")
        name = sub["unit_name"].iloc[0] if len(sub) else unit
        ax.set_title(f"{name} ({unit})", fontsize=8)
        step = max(1, len(years) // 5)
        ax.set_xticks(range(0, len(years), step))
        ax.set_xticklabels([years[i] for i in range(0, len(years), step)], fontsize=6)
        ax.set_yticks(range(len(indicators)))
        ax.set_yticklabels(indicators, fontsize=5)
        ax.grid(False)
    for ax in list(axes.flat)[len(units):]:
        ax.axis("off")
    from matplotlib.patches import Patch

    fig.legend(handles=[Patch(color="#0072B2", label="observed"), Patch(color="#F0E442", label="interpolated"),
                        Patch(color="#D55E00", label="missing")], loc="upper right", ncol=3, fontsize=7)
    fig.suptitle(f"Data coverage, study '{study}' (indicator x year, per unit)", fontsize=10, y=1.0)
    layout.tight_layout(fig)
    return save(fig, outpath, caption="Status of every panel cell; sources in data_dictionary.csv. "
                "No gap is filled unless the study config asks for interpolation.")
