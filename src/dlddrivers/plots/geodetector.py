"""Figures of the geographical detector: q bars with p-value markers, risk detector (means per
stratum), interaction heatmaps."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from ..dictionary import indicator_meta
from . import layout, style
from .trends import label_of, sources_caption

ABBREV = {"nonlinear-weaken": "NW", "uni-weaken": "UW", "bi-enhance": "BE",
          "independent": "IN", "nonlinear-enhance": "NE"}


def _stars(p: float) -> str:
    if not np.isfinite(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else "n.s."


def _risk_figure(risk: pd.DataFrame, y: str, dictionary, name: str, path: Path) -> list[Path]:
    """Risk detector: mean of ``y`` per stratum of each factor with its t interval; a star
    between two neighbouring strata whose means differ (Welch t-test, p < 0.05)."""
    import matplotlib.pyplot as plt

    r = risk[risk["y"] == y] if len(risk) else risk
    if r.empty:
        return []
    samples = list(dict.fromkeys(r["sample"]))
    xs = list(dict.fromkeys(r["x"]))
    ncol = min(5, len(xs))
    per = -(-len(xs) // ncol)  # rows per sample
    fig, axes = plt.subplots(len(samples) * per, ncol, figsize=(2.6 * ncol + 0.4, 2.4 * len(samples) * per + 1.0),
                             squeeze=False)
    for ax in axes.flat:
        ax.set_visible(False)
    for i, s in enumerate(samples):
        for j, x in enumerate(xs):
            ax = axes[i * per + j // ncol, j % ncol]
            ax.set_visible(True)
            d = r[(r["sample"] == s) & (r["x"] == x)].sort_values("stratum")
            col = style.color(indicator_meta(dictionary, x, "domain"))
            pos = np.arange(len(d))
            ax.plot(pos, d["mean_y"], "o-", color=col, ms=4, lw=1)
            style.draw_interval(ax, pos, d["ci_low"], d["ci_high"], orient="v", color=col, cap=0.1)
            top = np.nanmax(d["ci_high"].to_numpy(float)) if d["ci_high"].notna().any() else np.nanmax(d["mean_y"])
            for k, (_, row) in enumerate(d.iterrows()):
                if str(row["significant_vs_next"]) == "True":
                    ax.text(k + 0.5, top, "*", ha="center", va="bottom", fontsize=9)
            ax.set_xticks(pos, [f"{row.lower:.3g}–\n{row.upper:.3g}" for row in d.itertuples()], fontsize=6)
            ax.tick_params(axis="y", labelsize=6.5)
            ax.margins(y=0.18)
            ax.set_title(f"{s}: " + textwrap.fill(label_of(dictionary, x, False), 28), fontsize=7)
        axes[i * per, 0].set_ylabel(f"mean per stratum ({s})", fontsize=7)
    fig.suptitle(f"Risk detector: {label_of(dictionary, y)} ({name})", fontsize=10)
    layout.tight_layout(fig)
    cap = sources_caption(dictionary, [y, *xs],
                          "Mean of the response in each stratum of a factor (stratum bounds under the axis) with "
                          "its 95 % t interval, from geodetector/risk.csv; * between two strata: their means "
                          "differ (Welch t-test, p < 0.05). Association, not cause. 'within' = unit-demeaned.")
    return style.save(fig, path, caption=cap)


def plot(tables: dict, panel: pd.DataFrame, dictionary: pd.DataFrame, study: dict,
         outdir: Path) -> list[Path]:
    """Per response: a bar chart of q (bootstrap interval, p-value markers) and a heatmap of
    q(X1 n X2) labelled with the interaction type; one panel per sample (pooled / within)."""
    import matplotlib.pyplot as plt

    style.apply_style()
    outdir = Path(outdir)
    paths: list[Path] = []
    f, inter = tables["factor"], tables["interaction"]
    name = study.get("name", "")
    for y, fy in f.groupby("y", sort=False):
        samples = list(dict.fromkeys(fy["sample"]))
        fig, axes = plt.subplots(1, len(samples), figsize=(3.6 * len(samples), 0.6 + 0.45 *
                                 len(set(fy["x"])) + 0.8), squeeze=False, sharex=True)
        for ax, s in zip(axes[0], samples, strict=False):
            d = fy[fy["sample"] == s].reset_index(drop=True)
            pos = np.arange(len(d))
            colors = [style.DOMAIN_COLORS.get(indicator_meta(dictionary, x, "domain"),
                                              style.OKABE_ITO[4]) for x in d["x"]]
            q = d["q"].to_numpy(float)
            ax.barh(pos, np.nan_to_num(q), color=colors)
            style.draw_interval(ax, pos, d["ci_low"], d["ci_high"], lw=0.8)
            for i, r in d.iterrows():
                txt = _stars(r["p_value"]) if r["status"] == "ok" else "not computed"
                xpos = r["ci_high"] if np.isfinite(r["ci_high"]) else (r["q"] if np.isfinite(
                    r["q"]) else 0)
                ax.text(xpos + 0.02, i, txt, va="center", fontsize=7)
            ax.set_yticks(pos, [label_of(dictionary, x, False) for x in d["x"]])
            ax.invert_yaxis()
            ax.set_xlim(0, 1.15)
            ax.set_xlabel("q (share of variance between strata)")
            n_obs = int(d["n_obs"].max()) if d["n_obs"].notna().any() else 0
            ax.set_title(f"{s} (n = {n_obs})")
        fig.suptitle(f"Factor detector: {label_of(dictionary, y)} ({name})", fontsize=10)
        layout.tight_layout(fig)
        meth = fy["method"].iloc[0]
        k = fy["n_strata_requested"].iloc[0]
        cap = sources_caption(
            dictionary, [y] + list(fy["x"]),
            f"{meth} bins, {k} requested; bars: q with unit-block bootstrap interval (binning "
            "fixed); noncentral-F p: *** <.001, ** <.01, * <.05. Association, not cause; q grows "
            "with the number of strata.")
        paths += style.save(fig, outdir / f"geodetector_q_{y}.png", caption=cap)

        paths += _risk_figure(tables.get("risk", pd.DataFrame()), y, dictionary, name,
                              outdir / f"geodetector_risk_{y}.png")
        iy = inter[inter["y"] == y]
        if iy.empty:
            continue
        xs = list(dict.fromkeys(fy["x"]))
        fig, axes = plt.subplots(1, len(samples), figsize=(0.8 + 1.0 * len(xs) * len(samples),
                                 0.9 + 0.8 * len(xs)), squeeze=False)
        for k_ax, (ax, s) in enumerate(zip(axes[0], samples, strict=False)):
            # the factors' q on the diagonal, q(X1 n X2) off it: cells placed by position
            at = {x: i for i, x in enumerate(xs)}
            m = np.full((len(xs), len(xs)), np.nan)
            lab = np.full((len(xs), len(xs)), "", dtype=object)
            fs = fy[fy["sample"] == s].set_index("x")
            for x in xs:
                m[at[x], at[x]] = fs.loc[x, "q"] if x in fs.index else np.nan
            for r in iy[iy["sample"] == s].itertuples(index=False):
                for key in (r.x1, r.x2):
                    if key not in at:
                        raise ValueError(f"geodetector interaction table: x1/x2 = {key!r} (y = {y!r}, "
                                         f"sample = {s!r}) is not a factor of the factor table {xs}")
                i, j = at[r.x1], at[r.x2]
                m[i, j] = m[j, i] = r.q_x1x2
                lab[i, j] = lab[j, i] = (ABBREV.get(r.interaction, "") if isinstance(r.interaction, str)
                                         else "")
            im = ax.imshow(m, cmap=style.SEQUENTIAL_CMAP, vmin=0, vmax=1)
            for i in range(len(xs)):
                for j in range(len(xs)):
                    v = m[i, j]
                    if np.isfinite(v):
                        ax.text(j, i, f"{v:.2f}\n{lab[i, j]}", ha="center", va="center",
                                fontsize=7, color="white" if v < 0.5 else "black")
            labels = [textwrap.fill(label_of(dictionary, x, False), 22) for x in xs]
            ax.set_xticks(range(len(xs)), labels, rotation=90, fontsize=7)
            ax.set_yticks(range(len(xs)), labels if k_ax == 0 else [], fontsize=7)
            ax.set_title(s)
            ax.grid(False)
        fig.colorbar(im, ax=list(axes[0]), label="q (diagonal: single factor)")
        fig.suptitle(f"Interaction detector: {label_of(dictionary, y, False)} ({name})",
                     fontsize=10)
        cap = sources_caption(
            dictionary, [y] + xs,
            "Off-diagonal: q of the overlay X1 n X2; NW nonlinear-weaken, UW uni-weaken, BE "
            "bi-enhance, IN independent, NE nonlinear-enhance (Wang et al. 2010). Overlay cells "
            "can be small, which inflates q.")
        layout.freeze(fig)
        paths += style.save(fig, outdir / f"geodetector_interaction_{y}.png", caption=cap)
    return paths
