"""Attribution of the observed change as a waterfall (components with intervals, remainder shown)
and the LMG group shares per unit."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..dictionary import indicator_meta
from . import layout, style

#: The additive components of the observed change, in waterfall order: (quantity, colour key, label).
COMPONENTS = [("climate_change", "climate", "climate change"),
              ("climate_variability", "climate_variability", "climate variability"),
              ("anthropogenic", "anthropogenic", "anthropogenic drivers"),
              ("remainder", "remainder", "remainder (unexplained)")]


def waterfall(ax, comp: pd.DataFrame, *, labels: bool = True, annotate: bool = True) -> None:
    """Draw one waterfall on ``ax`` from the rows of one unit's ``trend_decomposition``
    (indexed by quantity, columns ``value, ci_low, ci_high``): each component a floating bar
    from the running sum, its interval drawn around the bar's end, then the observed change as a
    bar from zero. The components add up to the observed change (the method checks it)."""
    run = 0.0
    xs = np.arange(len(COMPONENTS) + 1)
    for x, (q, ckey, _lab) in zip(xs, COMPONENTS, strict=False):
        if q not in comp.index:
            continue
        v = float(comp.loc[q, "value"])
        if not np.isfinite(v):
            continue
        ax.bar(x, v, bottom=run, color=style.color(ckey), width=0.7,
               edgecolor="#333333" if q == "remainder" else "none", hatch="//" if q == "remainder" else None)
        # the component's interval, placed where its bar ends (running sum before it + bound)
        style.draw_interval(ax, [x], [run + comp.loc[q, "ci_low"]], [run + comp.loc[q, "ci_high"]],
                            orient="v", color="black", cap=0.1)
        ax.plot([x + 0.35, x + 0.65], [run + v, run + v], color="#777777", lw=0.6)  # connector
        run += v
    obs = comp.loc["observed_change"] if "observed_change" in comp.index else None
    if obs is not None and np.isfinite(float(obs["value"])):
        ax.bar(xs[-1], float(obs["value"]), color="#222222", width=0.7)
        if np.isfinite(obs["ci_low"]) and np.isfinite(obs["ci_high"]):
            style.draw_interval(ax, [xs[-1]], [obs["ci_low"]], [obs["ci_high"]], orient="v",
                                color="#E69F00", cap=0.1)
    ax.axhline(0, color="#666666", lw=0.6)
    ax.set_xticks(xs)
    if labels:
        ax.set_xticklabels(["climate\nchange", "climate\nvariability", "anthropo-\ngenic", "remainder",
                            "observed\nchange"], fontsize=7)
    else:
        ax.set_xticklabels([])


def _unit_table(g: pd.DataFrame, unit: str) -> pd.DataFrame:
    return (g[(g["method"] == "trend_decomposition") & (g["unit"].astype(str) == unit)]
            .drop_duplicates("quantity").set_index("quantity")[["value", "ci_low", "ci_high"]].astype(float))


def plot(tables: Mapping[str, pd.DataFrame], panel: pd.DataFrame, dictionary: pd.DataFrame,
         study: Mapping, outdir: Path) -> list[Path]:
    """Per outcome: ``attribution_<y>.png``, the pooled waterfall (observed Theil-Sen change =
    climate change + climate variability + anthropogenic + remainder, each with its bootstrap
    interval) beside the per-unit LMG group shares with intervals; and
    ``attribution_units_<y>.png``, one small waterfall per unit (registry names). Flags from the
    table are drawn."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    style.apply_style()
    tab = tables.get("attribution", pd.DataFrame())
    paths: list[Path] = []
    for y, g in tab.groupby("outcome", sort=False):
        td = g[g["method"] == "trend_decomposition"]
        if td.empty:
            continue
        meas = indicator_meta(dictionary, y, "measure", "outcome units")
        label = indicator_meta(dictionary, y, "label", y)
        units = [u for u in dict.fromkeys(td["unit"].astype(str)) if u != "pooled"]
        has_pooled = (td["unit"].astype(str) == "pooled").any()
        main_unit = "pooled" if has_pooled else units[0]
        r0 = g[g["unit"].astype(str) == main_unit].iloc[0]
        lmg = g[(g["method"] == "lmg") & g["quantity"].isin(["biophysical_share", "anthropogenic_share"])
                & g["value"].notna() & (g["unit"].astype(str) != "pooled")]
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, max(4.2, 0.28 * len(units) + 1.8)),
                                     gridspec_kw={"width_ratios": [1.3, 1]})
        waterfall(a1, _unit_table(g, main_unit))
        a1.set_ylabel(f"change over the period ({meas})")
        a1.set_title(("all units pooled" if main_unit == "pooled" else style.unit_name(study, main_unit))
                     + ": observed change and its components", fontsize=9)
        style.draw_flags(a1, style.flag_lines(g[g["unit"].astype(str) == main_unit]), loc="upper left")
        if len(lmg):
            ypos = np.arange(len(units))[::-1]
            for k, (q, grp) in enumerate([("biophysical_share", "biophysical"),
                                          ("anthropogenic_share", "anthropogenic")]):
                s = lmg[lmg["quantity"] == q].drop_duplicates("unit").set_index("unit").reindex(units)
                yy = ypos + (0.5 - k) * 0.3
                a2.plot(s["value"], yy, "o", color=style.color(grp), label=grp, ms=4)
                style.draw_interval(a2, yy, s["ci_low"], s["ci_high"], color=style.color(grp), cap=0.08)
            style.share_axis(a2, ypos, [style.unit_name(study, u) for u in units], lmg["ci_low"],
                             lmg["ci_high"], fontsize=7, ylim=(-0.7, len(units) - 0.3))
            a2.set_xlabel("share of the explained part of each unit's R²")
            a2.set_title("LMG group shares per unit", fontsize=9)
            a2.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        else:
            a2.axis("off")
            a2.text(0.5, 0.5, "no per-unit LMG shares\n(see attribution.csv status)", ha="center",
                    va="center", fontsize=8, transform=a2.transAxes)
        fig.suptitle(f"{study.get('name', '')}: attribution of the change in {label}", fontsize=10)
        layout.tight_layout(fig)
        cap = (f"Left: waterfall of the observed Theil-Sen change of {y} ({main_unit}): climate change + climate "
               f"variability + anthropogenic drivers + remainder = observed change (black bar, orange its interval). "
               f"Whiskers: {float(r0['ci_level']):.0%} bootstrap intervals of each component, drawn at the bar's end. "
               f"The remainder (hatched) is not attributed to people. Right: LMG shares of the explained part per unit. "
               f"Associations from a unit-FE model, not causal effects. {int(r0['n_units'])} units, "
               f"{int(r0['n_obs'])} obs; status: {r0['status']}. {style.caption_sources(dictionary, [y])}")
        paths += style.save(fig, Path(outdir) / f"attribution_{y}", caption=cap)
        if units and has_pooled:
            ncol = min(5, len(units))
            nrow = math.ceil(len(units) / ncol)
            fig, axes = plt.subplots(nrow, ncol, figsize=(2.3 * ncol, 2.1 * nrow + 1.0), squeeze=False)
            for ax, u in zip(axes.flat, units, strict=False):
                waterfall(ax, _unit_table(g, u), labels=False)
                ax.set_title(style.unit_name(study, u), fontsize=7.5)
                ax.tick_params(axis="y", labelsize=6.5)
            for ax in axes.flat[len(units):]:
                ax.set_visible(False)
            handles = [Patch(facecolor=style.color(c), label=lab, hatch="//" if q == "remainder" else None,
                             edgecolor="#333333" if q == "remainder" else "none") for q, c, lab in COMPONENTS]
            handles.append(Patch(facecolor="#222222", label="observed change"))
            fig.legend(handles=handles, loc="lower center", ncol=5, frameon=False, bbox_to_anchor=(0.5, 0.0))
            fig.suptitle(f"{study.get('name', '')}: change in {label} per unit ({meas}); "
                         "bars left to right: climate change, climate variability, anthropogenic, "
                         "remainder, observed", fontsize=8.5)
            layout.tight_layout(fig, rect=(0, 0.06, 1, 0.96), h_pad=1.2)
            cap = (f"Per-unit waterfalls of attribution/attribution.csv (method trend_decomposition), whiskers "
                   f"{float(r0['ci_level']):.0%} bootstrap intervals. Each unit has its own axis.")
            paths += style.save(fig, Path(outdir) / f"attribution_units_{y}", caption=cap)
    return paths
