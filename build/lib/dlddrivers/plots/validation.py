"""Figures of the ground-truth validation: bias and interval coverage by panel size, and
detection power. Draws only from the tables written by :mod:`dlddrivers.validation`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .style import OKABE_ITO, apply_style, save

CAPTION = ("Synthetic panels with known truth (dlddrivers.synthetic); pooled over anthropogenic "
           "share, confounding and noise levels of the grid; n = runs per point. Dashed line: "
           "nominal 95 % coverage.")


def plot_recovery(by_units: pd.DataFrame, outpath: str | Path) -> list[Path]:
    """Two panels: mean bias (left) and interval coverage (right) per method quantity against
    the number of units (``by_units.csv`` from :func:`dlddrivers.validation.by_factor`)."""
    import matplotlib.pyplot as plt

    apply_style()
    d = by_units.copy()
    d["label"] = d["method"] + ": " + d["quantity"]
    labels = sorted(d["label"].unique())
    fig, axes = plt.subplots(1, 2, figsize=(11, 5), sharex=True)
    markers = "osD^v<>px*h+"
    for k, lab in enumerate(labels):
        g = d[d["label"] == lab].sort_values("n_units")
        kw = {"color": OKABE_ITO[k % len(OKABE_ITO)], "marker": markers[k // len(OKABE_ITO) % len(markers)],
              "label": lab, "lw": 1}
        axes[0].plot(g["n_units"], g["mean_abs_error"], **kw)
        axes[1].plot(g["n_units"], g["coverage"], **kw)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("mean absolute error (quantity's units; log scale)")
    axes[1].axhline(0.95, ls="--", color="#444444", lw=0.8)
    axes[1].set_ylim(-0.02, 1.02)
    axes[1].set_ylabel("interval coverage of the truth (fraction of runs)")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("number of units (panel size)")
        ax.set_xticks(sorted(d["n_units"].unique()))
        ax.set_xticklabels([str(int(v)) for v in sorted(d["n_units"].unique())])
    axes[0].set_title("Error by panel size")
    axes[1].set_title("Coverage by panel size")
    axes[1].legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=7)
    n = int(d["n_runs"].min()) if len(d) else 0
    return save(fig, outpath, caption=CAPTION + f" Fewest runs per point: {n}.")


def plot_power(power: pd.DataFrame, outpath: str | Path) -> list[Path]:
    """Detection rate against degradation size (in noise SDs) per series length, method, kind."""
    import matplotlib.pyplot as plt

    apply_style()
    p = power[power["quantity"] == "power"]
    methods = sorted(p["method"].unique())
    kinds = sorted(p["kind"].unique())
    fig, axes = plt.subplots(len(methods), len(kinds), figsize=(9, 6), sharex=True, sharey=True,
                             squeeze=False)
    ns = sorted(p["n_years"].unique())
    for i, m in enumerate(methods):
        for j, k in enumerate(kinds):
            ax = axes[i][j]
            for c, n in enumerate(ns):
                g = p[(p["method"] == m) & (p["kind"] == k) & (p["n_years"] == n)].sort_values("effect_sd")
                ax.plot(g["effect_sd"], g["value"], marker="o", color=OKABE_ITO[c % len(OKABE_ITO)],
                        label=f"{n} years")
            ax.axhline(0.8, ls="--", color="#444444", lw=0.8)
            ax.set_title(f"{m}, {k} degradation")
            ax.set_xlabel("total degradation (noise SDs)")
            ax.set_ylabel("detection rate (MK 5 %)")
    axes[0][-1].legend(fontsize=7)
    return save(fig, outpath, caption="Injected degradation in simulated annual series; dashed: "
                "80 % power. Source: dlddrivers.validation.power_table.")
