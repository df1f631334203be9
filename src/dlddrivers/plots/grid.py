"""Figures of grid studies: geodetector q bars with the chosen discretisation, interaction
heatmap with GD's types, risk detector per stratum, q against cell size, SHAP beeswarm and
grouped shares."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..catalogue import group_of_domain
from . import style

ABBREV = {"Enhance, nonlinear": "NE", "Enhance, bi-": "BE", "Independent": "IN",
          "Weaken, uni-": "UW", "Weaken, nonlinear": "NW"}
CAPTION = ("Data: GD R package (Song et al. 2020), NDVI change 2010-2014, Inner Mongolia; "
           "units as provided. q: association, not cause.")


def _labels(dictionary: pd.DataFrame) -> dict[str, str]:
    return dict(zip(dictionary["indicator"], dictionary["label"], strict=False))


def _domain_color(dictionary: pd.DataFrame, x: str) -> str:
    dom = dict(zip(dictionary["indicator"], dictionary["domain"], strict=False)).get(x, "")
    return style.DOMAIN_COLORS.get(dom, "#777777")


def plot_geodetector(tables: dict, dictionary: pd.DataFrame, outdir: Path, km: int) -> list[Path]:
    """q bars (chosen method and class count written beside each bar), interaction heatmap
    (q12 with the type abbreviation), risk detector (stratum means with n, per variable)."""
    import matplotlib.pyplot as plt

    style.apply_style()
    outdir = Path(outdir)
    lab = _labels(dictionary)
    paths: list[Path] = []
    f = tables["factor"].dropna(subset=["q"]).sort_values("q")
    fig, ax = plt.subplots(figsize=(6.5, 0.5 + 0.45 * len(f)))
    ax.barh([lab.get(x, x) for x in f["x"]], f["q"],
            xerr=[f["q"] - f["ci_low"].fillna(f["q"]), f["ci_high"].fillna(f["q"]) - f["q"]],
            color=[_domain_color(dictionary, x) for x in f["x"]])
    for i, r in enumerate(f.itertuples()):
        how = "classes" if r.type == "categorical" else f"{r.method}, k={int(r.k)}"
        ax.text(r.q + 0.01, i, f"q={r.q:.3f} ({how}; {int(r.n_strata)} strata)", va="center",
                fontsize=7)
    ax.set_xlim(0, 1.25)
    ax.set_xlabel("q (share of variance of NDVI change between strata)")
    ax.set_title(f"Factor detector, {km} km cells (n = {int(f['n_obs'].iloc[0]) if len(f) else 0})")
    paths += style.save(fig, outdir / "geodetector_q.png", caption=CAPTION)

    it = tables["interaction"]
    xs = list(tables["factor"]["x"])
    if len(it):
        m = pd.DataFrame(np.nan, index=xs, columns=xs)
        t = pd.DataFrame("", index=xs, columns=xs)
        for r in it.itertuples():
            m.loc[r.x2, r.x1] = r.q_x1x2
            t.loc[r.x2, r.x1] = f"{r.q_x1x2:.2f}\n{ABBREV.get(r.interaction, '?')}"
        fig, ax = plt.subplots(figsize=(6.5, 5.5))
        im = ax.imshow(m.to_numpy(float), cmap=style.SEQUENTIAL_CMAP, vmin=0, vmax=1)
        for i in range(len(xs)):
            for j in range(len(xs)):
                if t.iloc[i, j]:
                    ax.text(j, i, t.iloc[i, j], ha="center", va="center", fontsize=7,
                            color="white" if m.iloc[i, j] < 0.6 else "black")
        # vertical labels: their boxes never overlap (slanted ones' boxes do)
        ax.set_xticks(range(len(xs)), [lab.get(x, x) for x in xs], rotation=90)
        ax.set_yticks(range(len(xs)), [lab.get(x, x) for x in xs])
        ax.grid(False)
        fig.colorbar(im, ax=ax, label="q(X1 n X2)")
        ax.set_title(f"Interaction detector, {km} km cells: q(X1 n X2) and type\nNE enhance "
                     "nonlinear, BE enhance bi-, IN independent, UW weaken uni-, NW weaken "
                     "nonlinear", fontsize=8)
        fig.tight_layout()
        fig.subplots_adjust(bottom=0.3)
        paths += style.save(fig, outdir / "geodetector_interaction.png", caption=CAPTION)

    rm = tables["risk_means"]
    if len(rm):
        vs = list(dict.fromkeys(rm["x"]))
        ncol = 3
        nrow = -(-len(vs) // ncol)
        most = int(rm.groupby("x").size().max())
        # horizontal bars, one row per stratum labelled with its interval and cell count: the
        # labels stay readable (and apart) for up to ~30 strata
        fig, axes = plt.subplots(nrow, ncol, figsize=(11, (0.6 + 0.14 * most) * nrow + 0.6),
                                 squeeze=False)
        for ax, x in zip(axes.ravel(), vs, strict=False):
            d = rm[rm["x"] == x]
            ax.barh(range(len(d)), d["mean"], color=_domain_color(dictionary, x))
            ax.set_yticks(range(len(d)), [f"{r.label}  n={r.n}" for r in d.itertuples()], fontsize=6)
            ax.set_ylim(len(d) - 0.5, -0.5)
            ax.set_title(lab.get(x, x), fontsize=8)
            ax.set_xlabel("mean NDVI change", fontsize=7)
        for ax in axes.ravel()[len(vs):]:
            ax.axis("off")
        fig.suptitle(f"Risk detector, {km} km: mean NDVI change per stratum (pairwise Welch "
                     "t-tests in risk.csv)", fontsize=9)
        fig.tight_layout()
        paths += style.save(fig, outdir / "geodetector_risk.png", caption=CAPTION)
    plt.close("all")
    return paths


def plot_ml(tables: dict, dictionary: pd.DataFrame, outdir: Path, km: int) -> list[Path]:
    """SHAP beeswarm (explained cells) and grouped shares of mean |SHAP| with intervals."""
    import matplotlib.pyplot as plt
    import shap

    style.apply_style()
    outdir = Path(outdir)
    lab = _labels(dictionary)
    paths: list[Path] = []
    sv = tables["shap_values"]
    xs = [c[5:] for c in sv.columns if c.startswith("shap_")]
    if len(sv):
        plt.figure()
        # shap draws the points in an order shuffled with numpy's global generator: seeded
        # here (and the caller's state put back) so the figure repeats pixel for pixel
        state = np.random.get_state()
        np.random.seed(0)
        try:
            shap.summary_plot(sv[[f"shap_{x}" for x in xs]].to_numpy(), sv[xs].astype(float),
                              feature_names=[lab.get(x, x) for x in xs], show=False,
                              plot_size=(7, 4))
        finally:
            np.random.set_state(state)
        fig = plt.gcf()
        fig.axes[0].set_title(f"SHAP values, {km} km cells ({len(sv)} explained cells)")
        paths += style.save(fig, outdir / "shap_beeswarm.png",
                            caption=CAPTION.replace("q: association", "SHAP: association"))
    sh = tables["shares"]
    if len(sh):
        fig, ax = plt.subplots(figsize=(5, 2.4))
        ax.barh(sh["group"], sh["share"], color=[style.DOMAIN_COLORS.get(g, "#777") for g in sh["group"]],
                xerr=[sh["share"] - sh["ci_low"], sh["ci_high"] - sh["share"]])
        for i, r in enumerate(sh.itertuples()):
            ax.text(min(r.ci_high + 0.02, 0.8), i, f"{100 * r.share:.1f} % "
                    f"[{100 * r.ci_low:.1f}, {100 * r.ci_high:.1f}]", va="center", fontsize=7)
        ax.set_xlim(0, 1.05)
        ax.set_xlabel("share of mean |SHAP| (estimand share_of_mean_abs_shap)")
        ax.set_title(f"Grouped SHAP shares, {km} km (CV R2 = {sh['cv_r2'].iloc[0]:.2f})")
        paths += style.save(fig, outdir / "shap_group_shares.png",
                            caption="Not a share of variance, trend or cause. " + CAPTION)
    plt.close("all")
    return paths


def plot_scale(scale: pd.DataFrame, dictionary: pd.DataFrame, outdir: Path) -> list[Path]:
    """q per variable against cell size (the scale effect), and SHAP group shares by cell size."""
    import matplotlib.pyplot as plt

    style.apply_style()
    lab = _labels(dictionary)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    q = scale[scale["measure"] == "q"]
    dom = dict(zip(dictionary["indicator"], dictionary["domain"], strict=False))
    for i, (x, d) in enumerate(q.groupby("x", sort=False)):
        d = d.sort_values("grid_km")
        bio = group_of_domain(dom.get(x)) == "biophysical"
        axes[0].plot(d["grid_km"], d["value"], marker="os^Dv<>"[i % 7],
                     linestyle="-" if bio else "--", label=f"{lab.get(x, x)} ({'bio' if bio else 'anthr'})",
                     color=style.OKABE_ITO[i % len(style.OKABE_ITO)])
    axes[0].set_xlabel("cell size (km)")
    axes[0].set_ylabel("q (optimal discretisation)")
    axes[0].set_title("Factor detector q against cell size")
    axes[0].legend(fontsize=7)
    s = scale[scale["measure"] == "share_of_mean_abs_shap"]
    for g, d in s.groupby("x", sort=False):
        d = d.sort_values("grid_km")
        axes[1].errorbar(d["grid_km"], d["value"], yerr=[d["value"] - d["ci_low"], d["ci_high"] - d["value"]],
                         marker="o", label=g, color=style.DOMAIN_COLORS.get(g, "#777"), capsize=3)
    axes[1].set_xlabel("cell size (km)")
    axes[1].set_ylabel("share of mean |SHAP|")
    axes[1].set_ylim(0, 1)
    axes[1].set_title("ML grouped shares against cell size")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    paths = style.save(fig, Path(outdir) / "scale_q.png", caption=CAPTION)
    plt.close("all")
    return paths
