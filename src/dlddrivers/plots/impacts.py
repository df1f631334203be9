"""Impact effects with intervals and the impact time series with the largest-loss years."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ..methods._common import indicator_meta
from . import style
from .panel_regression import _sources


def plot(tables: Mapping[str, pd.DataFrame], panel: pd.DataFrame, dictionary: pd.DataFrame,
         study: Mapping, outdir: Path) -> list[Path]:
    """Per impact: left, coefficients with wild-bootstrap intervals; right, each unit's series
    (thin grey) and the across-unit mean, with the ``loss_years`` marked."""
    import matplotlib.pyplot as plt

    style.apply_style()
    eff = tables.get("effects", pd.DataFrame())
    ly = tables.get("loss_years", pd.DataFrame())
    paths: list[Path] = []
    for imp, g in eff.groupby("impact", sort=False):
        ok = g[g["coef"].notna()]
        meas = indicator_meta(dictionary, imp, "measure", "impact units")
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
        for i, (_, r) in enumerate(ok.iterrows()):
            col = style.DOMAIN_COLORS.get(r["domain"], "#444444")
            a1.plot([r["ci_low"], r["ci_high"]], [i, i], color=col, lw=2)
            a1.plot(r["coef"], i, "o", color=col)
        a1.axvline(0, color="#666666", lw=0.8)
        a1.set_yticks(range(len(ok)))
        a1.set_yticklabels([f"{d} (lag {int(lag)})" for d, lag in zip(ok["driver"], ok["lag"], strict=True)], fontsize=7)
        a1.set_xlabel(f"change in {imp} ({meas}) per driver unit")
        a1.set_title("two-way FE associations")
        if imp in panel.columns:
            for _, s in panel.groupby("unit"):
                a2.plot(s["year"], s[imp], color="#BBBBBB", lw=0.6)
            m = panel.groupby("year")[imp].mean()
            a2.plot(m.index, m.to_numpy(), color="black", lw=1.5, label="mean across units")
        top = ly[ly["impact"] == imp] if len(ly) else ly
        for _, r in top.iterrows():
            if pd.notna(r.get("year")):
                a2.axvline(r["year"], color=style.OKABE_ITO[5], ls="--", lw=0.8)
                a2.text(r["year"], a2.get_ylim()[1], f"{int(r['year'])}", rotation=90, va="top", fontsize=7)
        a2.set_xlabel("year (winter labelled by the year it ends)")
        a2.set_ylabel(f"{imp} ({meas})")
        a2.set_title("largest-loss years (dashed)")
        a2.legend(frameon=False, fontsize=7)
        r0 = ok.iloc[0] if len(ok) else g.iloc[0]
        cap = (f"{study.get('name', '')}: associations (not causal) of {imp} with lagged drivers; unit and year "
               f"effects; {r0['n_units']} units, {r0['n_obs']} obs ({r0['n_dropped']} dropped); intervals: "
               f"{float(r0['ci_level']):.0%} wild cluster bootstrap. Sources: {_sources(dictionary, [imp, *ok['driver']])}.")
        paths += style.save(fig, Path(outdir) / f"impacts_{imp}", caption=cap)
    return paths
