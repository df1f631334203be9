"""Figure of the SDG 15.3.1 productivity terms: a unit x term heatmap per indicator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..methods.sdg import TERMS
from . import layout, style
from .trends import label_of, sources_caption

TERM_LABELS = {"trajectory": "Trajectory", "state": "State", "performance": "Performance",
               "sdg_productivity": "Combined\n(1-5)", "trajectory_climate_corrected":
               "Trajectory\nclimate-corr."}


def _cell_text(r: pd.Series) -> str:
    if r["status"] != "ok":
        s = str(r["status"])
        return "refused" if s.startswith("refused") else "n/a" if s.startswith("insuff") else "-"
    if r["term"] == "state":
        v = int(r["value"])
        return f"{v:+d}" if v else "0"
    if r["term"] == "performance":
        return f"{r['value']:.2f}"
    if r["term"] == "sdg_productivity":
        return f"{int(r['cls'])}"
    c = int(r["cls"])
    return f"{c:+d}" if c else "0"


def plot(tables: dict, panel: pd.DataFrame, dictionary: pd.DataFrame, study: dict,
         outdir: Path) -> list[Path]:
    """Heatmap of units (rows) by term (columns), coloured by degradation (-1 degraded,
    0 stable, +1 improved; grey where the term was not computed), annotated with the class:
    trajectory -3..+3, state change in decile classes, performance ratio, combined class 1-5."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    style.apply_style()
    outdir = Path(outdir)
    t = tables["sdg_terms"]
    # degraded, stable, improved; not computed in dark grey
    # the Trends.Earth classes' colours (style.STATUS_COLORS), never a domain colour
    cmap = ListedColormap([style.STATUS_COLORS["degrading"], style.STATUS_COLORS["stable"],
                           style.STATUS_COLORS["improving"]]).with_extremes(bad="#BBBBBB")
    paths: list[Path] = []
    name = study.get("name", "")
    for ind, d in t.groupby("indicator", sort=False):
        units = list(dict.fromkeys(d["unit"]))
        terms = [x for x in TERMS if x in set(d["term"])]
        m = np.full((len(units), len(terms)), np.nan)
        txt = [["" for _ in terms] for _ in units]
        for _, r in d.iterrows():
            i, j = units.index(r["unit"]), terms.index(r["term"])
            if r["status"] == "ok" and np.isfinite(r["degradation"]):
                m[i, j] = r["degradation"]
            txt[i][j] = _cell_text(r)
        fig, ax = plt.subplots(figsize=(1.4 + 1.3 * len(terms), 0.9 + 0.35 * len(units)))
        ax.imshow(np.ma.masked_invalid(m), cmap=cmap, vmin=-1.5, vmax=1.5, aspect="auto")
        for i in range(len(units)):
            for j in range(len(terms)):
                ax.text(j, i, txt[i][j], ha="center", va="center", fontsize=7,
                        color="white" if m[i, j] in (-1, 1) else "black")
        ax.set_xticks(range(len(terms)), [TERM_LABELS[x] for x in terms], fontsize=7)
        ax.set_yticks(range(len(units)), [style.unit_name(study, u) for u in units])
        ax.xaxis.tick_top()
        ax.grid(False)
        direction = "higher is better" if bool(d["higher_is_better"].iloc[0]) else \
            "lower is better (classes point to improvement)"
        ax.set_title(f"SDG 15.3.1 productivity terms: {label_of(dictionary, ind)}; "
                     f"{direction} ({name})", fontsize=9, pad=28)
        r0 = d.iloc[0]
        cap = sources_caption(
            dictionary, [ind],
            f"Period {r0['period']}, state baseline {r0['baseline']} vs recent {r0['recent']}. "
            "Red degraded, green improved, beige stable, dark grey not computed (see "
            "status). Trends.Earth definitions; detection, not attribution.")
        layout.freeze(fig)
        paths += style.save(fig, outdir / f"sdg_terms_{ind}.png", caption=cap)
    return paths
