"""Impact figures: standardised effects with intervals, the impact series with the largest-loss
years, the impact against each climate driver, and livestock heads lost per year."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..catalogue import BIOPHYSICAL
from ..dictionary import indicator_meta
from . import layout, style
from .panel_regression import std_forest


def _driver_values(panel: pd.DataFrame, driver: str, lag: int) -> pd.Series:
    """The driver as the regression saw it: shifted by ``lag`` years within each unit."""
    p = panel.sort_values(["unit", "year"])
    v = p.groupby("unit")[driver].shift(lag) if lag else p[driver]
    return v.reindex(panel.index)


def _term_label(dictionary: pd.DataFrame, r: pd.Series) -> str:
    """A term of the effects table in words: the driver's label and lag, or the interaction."""
    if str(r.get("term", "main")) != "main":
        return "drought × grazing (centred product)"
    d = str(r["driver"])
    if indicator_meta(dictionary, d, "label", ""):  # a catalogue column (a carried lag names its lag)
        return indicator_meta(dictionary, d, "label", d)
    base = d.split("_lag")[0]
    return indicator_meta(dictionary, base, "label", base) + (f" (lag {int(r['lag'])})" if int(r["lag"]) else "")


def plot(tables: Mapping[str, pd.DataFrame], panel: pd.DataFrame, dictionary: pd.DataFrame,
         study: Mapping, outdir: Path) -> list[Path]:
    """Per impact: ``impacts_<imp>.png`` (standardised coefficients with wild-bootstrap
    intervals; each unit's series and the across-unit mean of the ``unit_mean`` table with the
    ``loss_years`` marked) and
    ``impact_vs_climate_<imp>.png`` (the impact against each climate driver of the ``effects``
    table, at the lag it entered with, largest-loss years highlighted); ``heads_lost.png``
    from the ``heads_lost`` table (million heads per year)."""
    import matplotlib.pyplot as plt

    style.apply_style()
    eff = tables.get("effects", pd.DataFrame())
    ly = tables.get("loss_years", pd.DataFrame())
    um = tables.get("unit_mean", pd.DataFrame(columns=["impact", "year", "mean"]))
    paths: list[Path] = []
    for imp, g in eff.groupby("impact", sort=False):
        ok = g[g["std_coef"].notna()] if "std_coef" in g else g.iloc[0:0]
        meas = indicator_meta(dictionary, imp, "measure", "impact units")
        lab_imp = indicator_meta(dictionary, imp, "label", imp)
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, max(4.2, 0.4 * len(ok) + 2.2)))
        if len(ok):
            std_forest(a1, ok, [_term_label(dictionary, r) for _, r in ok.iterrows()])
        a1.set_xlabel(f"SDs of {imp} per SD of the driver (within unit and year)")
        a1.set_title("two-way FE associations, standardised", fontsize=9)
        style.draw_flags(a1, style.flag_lines(g), loc="lower right")
        top = ly[ly["impact"] == imp] if len(ly) else ly
        if imp in panel.columns:
            for _, s in panel.groupby("unit"):
                a2.plot(s["year"], s[imp], color="#BBBBBB", lw=0.6)
            m = um[um["impact"] == imp]
            a2.plot(m["year"].to_numpy(), m["mean"].to_numpy(float), color="black", lw=1.5,
                    label="mean across units")
            a2.plot([], [], color="#BBBBBB", lw=0.6, label="one unit")
        years = [int(r["year"]) for _, r in top.iterrows() if pd.notna(r.get("year"))]
        for yr in years:
            a2.axvline(yr, color=style.OKABE_ITO[5], ls="--", lw=0.8)
        if years:
            a2.plot([], [], color=style.OKABE_ITO[5], ls="--", lw=0.8,
                    label="largest-loss years: " + ", ".join(str(y) for y in sorted(years)))
        a2.set_xlabel("year (winter labelled by the year it ends)")
        a2.set_ylabel(f"{lab_imp}\n({meas})")
        a2.set_title("impact per unit and year", fontsize=9)
        a2.legend(frameon=False, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
        fig.suptitle(f"{study.get('name', '')}: {lab_imp}", fontsize=10)
        layout.tight_layout(fig)
        r0 = ok.iloc[0] if len(ok) else g.iloc[0]
        cap = (f"{study.get('name', '')}: associations (not causal) of {imp} with lagged drivers; unit and year "
               f"effects; {r0['n_units']} units, {r0['n_obs']} obs ({r0['n_dropped']} dropped); intervals: "
               f"{float(r0['ci_level']):.0%} wild cluster bootstrap, scaled like the coefficients. "
               + style.caption_sources(dictionary, [imp, *ok["driver"]]))
        paths += style.save(fig, Path(outdir) / f"impacts_{imp}", caption=cap)
        # the impact against each climate driver (the dzud mechanism, as the data show it)
        clim = ok[ok["domain"].isin(BIOPHYSICAL) & (ok["term"] == "main")] if len(ok) else ok
        clim = clim[clim["driver"].map(lambda d: d in panel.columns or str(d).split("_lag")[0] in panel.columns)]
        if imp in panel.columns and len(clim):
            n = len(clim)
            fig, axes = plt.subplots(1, n, figsize=(3.7 * n, 3.6), sharey=True, squeeze=False)
            is_loss = panel["year"].isin(years)
            for ax, (_, r) in zip(axes[0], clim.iterrows(), strict=True):
                # a panel column is used as it is (a carried lag is already lagged); a ``_lag<k>``
                # term is its base column shifted by k years within each unit
                carried = r["driver"] in panel.columns
                base = str(r["driver"]) if carried else str(r["driver"]).split("_lag")[0]
                x = _driver_values(panel, base, 0 if carried else int(r["lag"]))
                ax.scatter(x[~is_loss], panel.loc[~is_loss, imp], s=7, color="#888888", alpha=0.6,
                           label="other years")
                ax.scatter(x[is_loss], panel.loc[is_loss, imp], s=12, color=style.OKABE_ITO[5],
                           label="largest-loss years")
                ax.set_xlabel(indicator_meta(dictionary, base, "label", base)
                              + (f", lag {int(r['lag'])}" if int(r["lag"]) and not carried else "")
                              + f"\n({indicator_meta(dictionary, base, 'measure', '')})", fontsize=8)
                ax.set_title(f"std. coef. {r['std_coef']:+.2f} [{r['std_ci_low']:+.2f}, {r['std_ci_high']:+.2f}]",
                             fontsize=8)
            axes[0, 0].set_ylabel(f"{lab_imp}\n({meas})", fontsize=8)
            axes[0, 0].legend(frameon=False, fontsize=7, loc="upper left")
            fig.suptitle(f"{study.get('name', '')}: {lab_imp} against each climate driver "
                         "(one point per unit and year)", fontsize=9.5)
            layout.tight_layout(fig)
            cap = ("Raw panel values (no model); the title of each panel gives the standardised two-way FE "
                   "coefficient and its interval from impacts/effects.csv, which holds the other drivers fixed. "
                   + style.caption_sources(dictionary, [imp, *clim["driver"]]))
            paths += style.save(fig, Path(outdir) / f"impact_vs_climate_{imp}", caption=cap)
    hl = tables.get("heads_lost", pd.DataFrame())
    if len(hl) and hl["heads_lost_million"].notna().any():
        fig, ax = plt.subplots(figsize=(9, 3.6))
        partial = hl["n_units_missing"] > 0
        ax.bar(hl["year"], hl["heads_lost_million"].fillna(0), color=np.where(partial, "#BBBBBB", "#444444"),
               width=0.8)
        ax.set_ylabel("adult livestock lost (million head)")
        ax.set_xlabel("year (winter labelled by the year it ends)")
        best = hl.dropna(subset=["heads_lost_million"]).nlargest(3, "heads_lost_million")
        for _, r in best.iterrows():
            ax.text(r["year"], r["heads_lost_million"], f"{r['heads_lost_million']:.1f} M", ha="center",
                    va="bottom", fontsize=7)
        ax.set_ylim(0, float(hl["heads_lost_million"].max()) * 1.15)
        if partial.any():
            from matplotlib.patches import Patch

            ax.legend(handles=[Patch(color="#444444", label="all units report"),
                               Patch(color="#BBBBBB", label="units missing (lower bound)")],
                      frameon=False, fontsize=7, loc="upper left")
        ax.set_title(f"{study.get('name', '')}: livestock lost per year", fontsize=10)
        xs = hl["year"].astype(int)
        ax.set_xticks(list(range(int(xs.min()), int(xs.max()) + 1, 4)))
        n_units = int(hl["n_units"].iloc[0])
        cap = (f"Sum over the study's {n_units} units of {hl['source_column'].iloc[0]} (species mortality x the "
               "previous December's herd, five species) from impacts/heads_lost.csv; a year with units "
               "missing is a lower bound. Descriptive, not an official national total. "
               + style.caption_sources(dictionary, [hl["source_column"].iloc[0]]))
        layout.freeze(fig)
        paths += style.save(fig, Path(outdir) / "heads_lost", caption=cap)
    return paths
