"""Stacked LMG shares of the (within) R-squared: biophysical vs anthropogenic domains."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from . import style
from .panel_regression import _sources


def plot(tables: Mapping[str, pd.DataFrame], panel: pd.DataFrame, dictionary: pd.DataFrame,
         study: Mapping, outdir: Path) -> list[Path]:
    """Per outcome: left bar biophysical vs anthropogenic, right bar the domains stacked;
    whiskers are the group ``share_ci_low``/``share_ci_high`` from the table."""
    import matplotlib.pyplot as plt

    style.apply_style()
    sh = tables.get("shares", pd.DataFrame())
    paths: list[Path] = []
    if "variation" not in sh.columns:
        sh = sh.assign(variation="levels")
    for (y, variation), g in sh.groupby(["outcome", "variation"], sort=False):
        grp = g[(g["level"] == "group") & g["share"].notna()].set_index("predictor")
        if grp.empty:
            continue
        fig, ax = plt.subplots(figsize=(5.5, 4))
        bars = {0: [k for k in ("biophysical", "anthropogenic") if k in grp.index],
                1: ["biophysical", *[k for k in grp.index if k not in ("biophysical", "anthropogenic", "other")]]}
        for x, keys in bars.items():
            bottom = 0.0
            for k in keys:
                if k not in grp.index:
                    continue
                v = float(grp.loc[k, "share"])
                ax.bar(x, v, bottom=bottom, color=style.DOMAIN_COLORS.get(k, "#888888"),
                       label=k if x == 1 or k == "anthropogenic" else None, width=0.6)
                if x == 0:
                    style.draw_interval(ax, [x + (0.12 if k == "anthropogenic" else -0.12)],
                                        [bottom + grp.loc[k, "share_ci_low"]],
                                        [bottom + grp.loc[k, "share_ci_high"]], orient="v",
                                        color="black", cap=0.04)
                bottom += v
        ax.set_xticks([0, 1])
        ax.set_xticklabels(["biophysical vs\nanthropogenic", "by domain"])
        ax.set_ylabel("share of explained variance (fraction of R²)" if variation == "levels"
                      else "share of explained year-to-year variance (fraction of R²)")
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{study.get('name', '')}: LMG shares, {y}"
                     + ("" if variation == "levels" else " (year-to-year)"))
        ax.legend(frameon=False, fontsize=7, loc="upper right")
        r0 = g.iloc[0]
        kind = "within (unit and year effects removed)" if bool(r0["within"]) else "pooled"
        if variation == "year_to_year":
            kind += ", unit-specific linear trends removed (year-to-year variation)"
        calib = ""
        if "calibration" in grp.columns and "anthropogenic" in grp.index and pd.notna(grp.loc["anthropogenic", "placebo_p95"]):
            a = grp.loc["anthropogenic"]
            calib = (f" Anthropogenic share {a['share']:.2f} vs placebo drivers with the same trends and "
                     f"persistence: median {a['placebo_median']:.2f}, 95th percentile {a['placebo_p95']:.2f} "
                     f"({a['calibration'].replace('_', ' ')}).")
        cap = (f"Share of explained variance, not of change or cause. {kind} R² = {r0['total_r2']:.2f}; "
               f"{int(r0['n_units'])} units, {int(r0['n_years'])} years, {int(r0['n_obs'])} obs "
               f"({int(r0['n_dropped'])} dropped). Whiskers: {r0['ci_level']:.0%} unit block bootstrap "
               f"({int(r0['bootstrap_draws'])} draws).{calib} Status: {r0['status']}. "
               f"Sources: {_sources(dictionary, [y, *g.loc[g['level'] == 'predictor', 'predictor']])}.")
        paths += style.save(fig, Path(outdir) / (f"lmg_shares_{y}" if variation == "levels"
                                                    else f"lmg_shares_{y}_{variation}"), caption=cap)
    return paths
