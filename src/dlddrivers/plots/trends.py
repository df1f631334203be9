"""Figures of the trends stage: per-unit time series with Theil-Sen lines; within correlations."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..dictionary import indicator_meta
from . import layout, style


def label_of(dictionary: pd.DataFrame | None, indicator: str, with_measure: bool = True) -> str:
    """``label (measure)`` of an indicator from the dictionary (the id when unknown)."""
    lab = indicator_meta(dictionary, indicator, "label", indicator)
    meas = indicator_meta(dictionary, indicator, "measure")
    return f"{lab} ({meas})" if with_measure and meas else lab


def sources_caption(dictionary: pd.DataFrame | None, indicators, prefix: str = "") -> str:
    """Caption naming the sources of ``indicators`` (from ``dictionary.source``)."""
    srcs: list[str] = []
    if dictionary is not None and "source" in dictionary:
        sub = dictionary[dictionary["indicator"].isin(list(indicators))]
        srcs = sorted({str(s) for s in sub["source"].dropna()})
    text = "Sources: " + "; ".join(srcs) + "." if srcs else ""
    return " ".join(x for x in (prefix, text) if x)


def _series_figure(tab: pd.DataFrame, panel: pd.DataFrame, dictionary, study, ind: str):
    import matplotlib.pyplot as plt

    units = list(tab["unit"])
    ncol = min(4, len(units))
    nrow = math.ceil(len(units) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(2.6 * ncol, 2.0 * nrow + 0.4), sharex=True,
                             squeeze=False)
    for ax in axes.flat[len(units):]:
        ax.set_visible(False)
    by_unit = dict(tuple(panel.groupby("unit", sort=False)))  # one pass; rows in panel order
    for ax, (_, r) in zip(axes.flat, tab.iterrows(), strict=False):
        g = by_unit.get(r["unit"], panel.iloc[:0]).sort_values("year")
        ax.plot(g["year"], g[ind], "-o", ms=2.5, lw=0.8, color=style.OKABE_ITO[4])
        if r["status"] == "ok" and np.isfinite(r["slope"]):
            x = np.array([r["first_year"], r["last_year"]], dtype=float)
            ax.plot(x, r["intercept"] + r["slope"] * x, "-", lw=1.6, color=style.OKABE_ITO[5])
            mark = "*" if bool(r["significant"]) else "n.s."
            txt = f"{r['slope_per_decade']:.3g}/decade {mark}\np={r['mk_p']:.2g}"
        else:
            txt = str(r["status"])
        ax.set_title(style.unit_name(study, r["unit"]), fontsize=8)
        ax.text(0.02, 0.97, txt, transform=ax.transAxes, va="top", fontsize=6.5)

    from matplotlib.ticker import MaxNLocator

    for ax in axes.flat:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
    for ax in axes[-1, :]:
        ax.set_xlabel("year")
    fig.suptitle(f"{label_of(dictionary, ind)}: Theil-Sen line per unit "
                 f"({study.get('name', '')})", fontsize=10)
    layout.tight_layout(fig)  # laid out, with the ticks and titles drawn from here on fixed
    return fig


def _condition_figure(g: pd.DataFrame, dictionary, study, path: Path) -> list[Path]:
    """Trends.Earth-style summary of one indicator: 100 % bars of the share of units and of area
    improving / stable / degrading, and the table beside them (from ``land_condition``)."""
    import matplotlib.pyplot as plt

    from .style import STATUS_COLORS

    ind = str(g["indicator"].iloc[0])
    cls = g[g["condition"].isin(list(STATUS_COLORS))].set_index("condition").reindex(list(STATUS_COLORS))
    if cls["n_units"].fillna(0).eq(0).all():
        return []
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 2.9), gridspec_kw={"width_ratios": [1.3, 1]})
    bars = [("units", "unit_share")] + ([("area", "area_share")] if cls["area_share"].notna().any() else [])
    for k, (_, col) in enumerate(bars):
        left = 0.0
        for c, r in cls.iterrows():
            v = float(r[col]) if np.isfinite(r[col]) else 0.0
            a1.barh(k, v, left=left, color=STATUS_COLORS[c], edgecolor="#666666", lw=0.5, height=0.6)
            if v >= 0.08:
                a1.text(left + v / 2, k, f"{v:.0%}", ha="center", va="center", fontsize=7.5,
                        color="white" if c != "stable" else "black")
            left += v
    a1.set_yticks(range(len(bars)))
    a1.set_yticklabels([f"share of {b[0]}" for b in bars])
    a1.set_xlim(0, 1)
    a1.invert_yaxis()
    a1.set_xlabel("fraction of the units (or of their area) with a computed trend")
    from matplotlib.patches import Patch

    a1.legend(handles=[Patch(facecolor=v, edgecolor="#666666", label=k) for k, v in STATUS_COLORS.items()],
              loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=3, frameon=False)
    a2.axis("off")
    area_ok = cls["area_km2"].notna().any()
    cells = [[c, str(int(r["n_units"])), f"{r['unit_share']:.0%}" if np.isfinite(r["unit_share"]) else "",
              f"{r['area_km2']:,.0f}" if area_ok and np.isfinite(r["area_km2"]) else "",
              f"{r['area_share']:.0%}" if np.isfinite(r["area_share"]) else ""] for c, r in cls.iterrows()]
    tb = a2.table(cellText=cells, colLabels=["class", "units", "% units", "area km²", "% area"],
                  loc="center", cellLoc="center")
    tb.auto_set_font_size(False)
    tb.set_fontsize(7.5)
    tb.scale(1, 1.3)
    better = str(g["better"].dropna().iloc[0]) if g["better"].notna().any() else "?"
    fig.suptitle(f"{study.get('name', '')}: {label_of(dictionary, ind, False)}, improving / stable / degrading "
                 f"(better = {better})", fontsize=9.5)
    layout.tight_layout(fig)
    other = g[~g["condition"].isin(list(STATUS_COLORS))]
    cap = ("Trends.Earth-style classes from trends/land_condition.csv: a significant Mann-Kendall trend in the "
           "better direction = improving, in the worse = degrading, none = stable (short series: no detectable "
           "change, not proof of stability). "
           + (f"Not classed: {', '.join(f'{int(n)} {c}' for c, n in zip(other['condition'], other['n_units'], strict=True))}. "
              if len(other) else "")
           + f"Status: {g['status'].iloc[0]}. " + sources_caption(dictionary, [ind]))
    return style.save(fig, path, caption=cap)


def _unit_drivers_figure(z: pd.DataFrame, ind: str, dictionary, study, path: Path) -> list[Path]:
    """Per unit: the outcome (black) and every driver (domain colours), each standardised within
    the unit, and the outcome's Theil-Sen trend (dashed), all from the ``standardised`` table."""
    import matplotlib.pyplot as plt

    units = sorted(z.loc[z["indicator"] == ind, "unit"].unique())
    drivers = list(dict.fromkeys(z.loc[z["role"] == "driver", "indicator"]))
    if not units:
        return []
    # each driver: its domain's colour and a line style of its own within the domain
    styles, seen = {}, {}
    for d in drivers:
        dom = indicator_meta(dictionary, d, "domain")
        k = seen.get(dom, 0)
        seen[dom] = k + 1
        styles[d] = (style.color(dom), ["-", "--", ":", "-."][k % 4])
    ncol = min(4, len(units))
    nrow = math.ceil(len(units) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(2.7 * ncol, 1.9 * nrow + 1.2), sharex=True, sharey=True,
                             squeeze=False)
    for ax in axes.flat[len(units):]:
        ax.set_visible(False)
    # each (unit, indicator) series in one pass over the table, rows in table order
    rows = dict(tuple(z.groupby(["unit", "indicator"], sort=False)))
    none = z.iloc[:0]
    for ax, u in zip(axes.flat, units, strict=False):
        for d in drivers:
            s = rows.get((u, d), none)
            ax.plot(s["year"], s["z"], lw=0.8, alpha=0.85, color=styles[d][0], ls=styles[d][1])
        s = rows.get((u, ind), none)
        ax.plot(s["year"], s["z"], "-o", ms=2, lw=1.4, color="black")
        ax.plot(s["year"], s["trend_z"], "-", lw=2.2, color=style.OKABE_ITO[5], alpha=0.9)
        layout.hline(ax, 0, color="#999999", lw=0.5)
        ax.set_title(style.unit_name(study, u), fontsize=8)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color="black", marker="o", ms=2, lw=1.4, label=label_of(dictionary, ind, False)),
               Line2D([], [], color=style.OKABE_ITO[5], lw=2.2, label="its Theil-Sen trend")]
    for d in drivers:
        handles.append(Line2D([], [], color=styles[d][0], lw=1, ls=styles[d][1],
                              label=label_of(dictionary, d, False)))
    fig.legend(handles=handles, loc="lower center", ncol=min(3, len(handles)), frameon=False, fontsize=7,
               bbox_to_anchor=(0.5, 0.0))
    for ax in axes[:, 0]:
        ax.set_ylabel("SDs from the unit's mean", fontsize=7)
    from matplotlib.ticker import MaxNLocator

    for ax in axes.flat:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=3))
        ax.tick_params(labelsize=6.5)
    n_leg_rows = math.ceil(len(handles) / 3)
    fig.suptitle(f"{study.get('name', '')}: {label_of(dictionary, ind, False)} and its drivers per unit, "
                 "standardised within each unit", fontsize=9.5)
    layout.tight_layout(fig, rect=(0, 0.32 * n_leg_rows / fig.get_figheight(), 1, 0.97), w_pad=1.2)
    cap = ("Each series minus its mean over the unit's years, divided by its SD (trends/standardised.csv); "
           "the vermilion line is the outcome's Theil-Sen trend on the same scale. Lines show co-movement, "
           "not cause. " + sources_caption(dictionary, [ind, *drivers]))
    return style.save(fig, path, caption=cap)


def plot(tables: dict, panel: pd.DataFrame, dictionary: pd.DataFrame, study: dict,
         outdir: Path) -> list[Path]:
    """One small-multiple figure per indicator and a within-unit correlation heatmap.

    Returns the written PNG paths.
    """
    import matplotlib.pyplot as plt

    style.apply_style()
    outdir = Path(outdir)
    paths: list[Path] = []
    t = tables["trends"]
    for ind, tab in t.groupby("indicator", sort=False):
        if ind not in panel.columns:
            continue
        fig = _series_figure(tab, panel, dictionary, study, ind)
        cap = sources_caption(dictionary, [ind],
                              "Vermilion line: Theil-Sen slope from the trends table; * = Mann-Kendall "
                              f"p < 0.05 ({tab['mk_variant'].iloc[0]}).")
        paths += style.save(fig, outdir / f"trends_{ind}.png", caption=cap)
    for ind, g in tables.get("land_condition", pd.DataFrame()).groupby("indicator", sort=False) \
            if len(tables.get("land_condition", pd.DataFrame())) else []:
        paths += _condition_figure(g, dictionary, study, outdir / f"land_condition_{ind}.png")
    z = tables.get("standardised", pd.DataFrame())
    for ind in (z.loc[z["role"].isin(["outcome", "impact"]), "indicator"].unique() if len(z) else []):
        paths += _unit_drivers_figure(z, ind, dictionary, study, outdir / f"unit_drivers_{ind}.png")
    c = tables["correlations"]
    c = c[c["kind"] == "within"]
    if not c.empty:
        names = list(dict.fromkeys(list(c["var1"]) + list(c["var2"])))
        m = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
        for _, r in c.iterrows():
            m.loc[r["var1"], r["var2"]] = m.loc[r["var2"], r["var1"]] = r["r"]
        fig, ax = plt.subplots(figsize=(1.0 + 0.7 * len(names), 0.8 + 0.6 * len(names)))
        im = ax.imshow(m.to_numpy(float), cmap=style.DIVERGING_CMAP, vmin=-1, vmax=1)
        for i in range(len(names)):
            for j in range(len(names)):
                v = m.iat[i, j]
                ax.text(j, i, "" if not np.isfinite(v) else f"{v:.2f}", ha="center",
                        va="center", fontsize=7, color="white" if abs(v) > 0.6 else "black")
        labels = [label_of(dictionary, n, False) for n in names]
        ax.set_xticks(range(len(names)), labels, rotation=90)
        ax.set_yticks(range(len(names)), labels)
        fig.colorbar(im, ax=ax, label="Pearson r (within units)")
        ax.set_title(f"Within-unit correlations ({study.get('name', '')})")
        ax.grid(False)
        n_obs = int(c["n_obs"].max())
        cap = sources_caption(dictionary, names, f"Each variable demeaned per unit; pairwise "
                              f"complete unit-years (up to {n_obs}). Association, not cause.")
        layout.freeze(fig)
        paths += style.save(fig, outdir / "trends_correlations_within.png", caption=cap)
    return paths
