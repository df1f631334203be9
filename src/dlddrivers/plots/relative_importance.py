"""LMG shares as shares of the explained part of the (within) R², with the total R² beside them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..dictionary import indicator_meta
from . import layout, style


def plot(tables: Mapping[str, pd.DataFrame], panel: pd.DataFrame, dictionary: pd.DataFrame,
         study: Mapping, outdir: Path) -> list[Path]:
    """Per outcome, two panels from the ``shares`` table:

    left, one bar of the total R² (explained vs not explained, with its interval), so a model
    that explains 19 % of the variance looks like it; right, each group's and domain's share of
    the *explained* part (points, summing to 1 within a level) with its bootstrap interval drawn
    in full (the axis widens to hold it, nothing clipped). Flags written by the stage are drawn.
    """
    import matplotlib.pyplot as plt

    style.apply_style()
    sh = tables.get("shares", pd.DataFrame())
    paths: list[Path] = []
    if "variation" not in sh.columns:
        sh = sh.assign(variation="levels")
    for (y, variation), g in sh.groupby(["outcome", "variation"], sort=False):
        grp = g[(g["level"] == "group") & g["share"].notna()]
        if grp.empty:
            continue
        groups = [k for k in ("biophysical", "anthropogenic") if k in set(grp["predictor"])]
        doms = sorted(set(grp["predictor"]) - {"biophysical", "anthropogenic", "other"})
        rows = grp.set_index("predictor").loc[[*groups, *doms]]
        r0 = g.iloc[0]
        tot = float(r0["total_r2"])
        fig, (a0, a1) = plt.subplots(1, 2, figsize=(8, 0.42 * len(rows) + 2.4),
                                     gridspec_kw={"width_ratios": [1, 4.2]})
        # total R2: explained vs not
        a0.bar(0, tot, color="#555555", width=0.6)
        a0.bar(0, 1 - tot, bottom=tot, color="#EEEEEE", width=0.6, edgecolor="#BBBBBB")
        style.draw_interval(a0, [0.0], [r0["total_r2_ci_low"]], [r0["total_r2_ci_high"]], orient="v",
                            color="black", cap=0.1)
        top = float(r0["total_r2_ci_high"]) if np.isfinite(float(r0["total_r2_ci_high"])) else tot
        a0.text(0, min(max(top, tot), 0.9) + 0.03, f"R² = {tot:.2f}", ha="center", va="bottom", fontsize=8)
        a0.set_xlim(-0.6, 0.6)
        a0.set_ylim(0, 1)
        a0.set_xticks([0])
        a0.set_xticklabels(["within R²" if bool(r0["within"]) else "R²"])
        a0.set_ylabel("fraction of the outcome's variance")
        a0.set_title("explained", fontsize=9)
        # shares of the explained part
        pos = np.arange(len(rows))[::-1].astype(float)
        if groups and doms:
            pos[len(groups):] -= 0.6  # gap between groups and domains
        lo = rows["share_ci_low"].astype(float).to_numpy()
        hi = rows["share_ci_high"].astype(float).to_numpy()
        calibrated = "placebo_p95" in rows.columns
        for p, (k, r) in zip(pos, rows.iterrows(), strict=True):
            col = style.color(k)
            a1.barh(p, float(r["share"]), color=col, height=0.55, alpha=0.85)
            style.draw_interval(a1, [p], [r["share_ci_low"]], [r["share_ci_high"]], color="black", cap=0.12)
            if calibrated and k == "anthropogenic" and pd.notna(r.get("placebo_p95")):
                # what placebo drivers with the same trends and persistence reach (95th percentile)
                a1.plot([r["placebo_p95"]] * 2, [p - 0.35, p + 0.35], color="#E69F00", lw=2.2,
                        label="placebo 95th percentile")
                hi = np.append(hi, float(r["placebo_p95"]))
        a1.axvline(0, color="#666666", lw=0.6)
        style.share_axis(a1, pos, [("group: " if k in groups else "domain: ") + k.replace("_", " ")
                                   for k in rows.index], lo, hi)
        if calibrated and rows.get("placebo_p95", pd.Series(dtype=float)).notna().any():
            a1.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        a1.set_xlabel(f"share of the explained part (R² = {tot:.2f}); each level sums to 1")
        a1.set_title(f"{indicator_meta(dictionary, y, 'label', y)}: LMG shares"
                     + ("" if variation == "levels" else " of year-to-year variation"), fontsize=9)
        style.draw_flags(a1, style.flag_lines(g), loc="lower right")
        kind = "within (unit and year effects removed)" if bool(r0["within"]) else "pooled"
        if variation == "year_to_year":
            kind += ", unit-specific linear trends removed (year-to-year variation)"
        calib = ""
        if calibrated and "anthropogenic" in rows.index and pd.notna(rows.loc["anthropogenic", "placebo_p95"]):
            a = rows.loc["anthropogenic"]
            calib = (f" Anthropogenic share {a['share']:.2f} vs placebo drivers with the same trends and "
                     f"persistence: median {a['placebo_median']:.2f}, 95th percentile {a['placebo_p95']:.2f} "
                     f"({str(a['calibration']).replace('_', ' ')}).")
        fig.suptitle(f"{study.get('name', '')}: relative importance of driver groups", fontsize=10)
        layout.tight_layout(fig)
        cap = (f"Share of explained variance, not of change or cause: the shares divide the {kind} "
               f"R² = {tot:.2f} [{float(r0['total_r2_ci_low']):.2f}, {float(r0['total_r2_ci_high']):.2f}]; "
               f"{1 - tot:.0%} of the variance is not explained. {int(r0['n_units'])} units, "
               f"{int(r0['n_years'])} years, {int(r0['n_obs'])} obs ({int(r0['n_dropped'])} dropped). "
               f"Whiskers: {float(r0['ci_level']):.0%} unit block bootstrap ({int(r0['bootstrap_draws'])} draws), "
               f"drawn in full.{calib} Status: {r0['status']}. "
               + style.caption_sources(dictionary, [y, *g.loc[g['level'] == 'predictor', 'predictor']]))
        paths += style.save(fig, Path(outdir) / (f"lmg_shares_{y}" if variation == "levels"
                                                    else f"lmg_shares_{y}_{variation}"), caption=cap)
    return paths
