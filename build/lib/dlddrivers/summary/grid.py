"""The summary of a grid study (level ``grid``): geodetector q across grid sizes, SHAP group shares, agreement, skill."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from .format import _labels, _name, fmt_estimate, fmt_num, md_table
from .read import _read_csv
from .study import _figure


def _source(d: Path, rel: Path, *tables: str) -> str:
    """The *Source:* line naming the tables (relative to the study folder) a section reads."""
    links = [f"[{t}]({Path(os.path.relpath(d / t, rel)).as_posix()})" for t in tables if (d / t).is_file()]
    return "*Source: " + "; ".join(links) + ".*" if links else ""


def is_grid_study(study_dir: str | Path) -> bool:
    """A grid study's result folder (cells and the not-applicable stage table, no panel)."""
    return (Path(study_dir) / "stages_not_applicable.csv").is_file()


def grid_study_summary(study_dir: str | Path, rel_to: str | Path | None = None) -> str:
    """The markdown summary of a grid study (level ``grid``): cells per size, geodetector q with
    the chosen discretisation, the scale effect, SHAP group shares and where the rankings agree.
    Every number is read from the tables under ``study_dir``."""
    d = Path(study_dir)
    rel = Path(rel_to) if rel_to is not None else d.parent
    prov = d / "data" / "provenance.json"
    pj = json.loads(prov.read_text()) if prov.is_file() else {}
    cfg = dict(pj.get("study_config") or {})
    desc = cfg.get("description", "")
    parts = [f"## Study `{d.name}`" + (f": {desc}" if desc else "")]
    labels = _labels(_read_csv(d / "data" / "data_dictionary.csv", keep_default_na=False))
    cells = pj.get("cells_per_grid_km", {})
    parts += ["### Data",
              "Cross-sectional grid cells (no years): "
              + ", ".join(f"{k} km: {int(v):,} cells" for k, v in cells.items())
              + ". Units are not documented upstream and are shown as provided.",
              _source(d, rel, "data/cells.csv", "data/provenance.json")]
    na = _read_csv(d / "stages_not_applicable.csv")
    if na is not None and len(na):
        parts += ["### Stages", "Not applicable (they need years): "
                  + ", ".join(f"`{x}`" for x in na["stage"]) + ". Run instead: the complete "
                  "geodetector and ML + SHAP per grid size, and the scale effect."]
    scale = _read_csv(d / "scale" / "scale.csv")
    if scale is not None and len(scale):
        q = scale[scale["measure"] == "q"]
        finest = q["grid_km"].min()
        rows = []
        for x, g in q.groupby("x", sort=False):
            g = g.set_index("grid_km").sort_index()
            f = g.loc[finest]
            rows.append({"driver": _name(x, labels),
                         f"q at {finest} km (interval)": fmt_estimate(f["value"], f["ci_low"],
                                                                      f["ci_high"]),
                         "discretisation": f["discretisation"],
                         f"rank at {finest} km": int(f["rank"]),
                         "q across sizes": " / ".join(f"{v:.2f}" for v in g["value"]),
                         "rank across sizes": " / ".join(str(int(r)) for r in g["rank"])})
        t = pd.DataFrame(rows).sort_values(f"rank at {finest} km")
        sizes = " / ".join(f"{int(k)}" for k in sorted(q["grid_km"].unique()))
        parts += ["### Geodetector q and the scale effect",
                  "Factor detector q (estimand `association`; optimal discretisation, chosen method "
                  f"and class count shown; across sizes {sizes} km):\n\n" + md_table(t),
                  _source(d, rel, "scale/scale.csv", *(f"grid_{k}km/geodetector/factor.csv" for k in cells))]
        sh = scale[scale["measure"] == "share_of_mean_abs_shap"]
        if len(sh):
            items = []
            for gname, g in sh.groupby("x", sort=False):
                g = g.sort_values("grid_km")
                items.append(f"{gname}: " + ", ".join(
                    f"{int(r.grid_km)} km {fmt_estimate(r.value, r.ci_low, r.ci_high, pct=True)}"
                    for r in g.itertuples()))
            parts += ["### Anthropogenic vs biophysical (ML + SHAP)",
                      "Share of mean |SHAP| of gradient-boosted trees (estimand "
                      "`share_of_mean_abs_shap`: the part of the model's mean absolute deviation a "
                      "group accounts for; not a share of variance, trend or cause):\n\n- "
                      + "\n- ".join(items),
                      _source(d, rel, "scale/scale.csv", *(f"grid_{k}km/ml/shares.csv" for k in cells))]
        rho = scale[scale["measure"] == "spearman_rho"]
        if len(rho):
            parts += ["### Where the geodetector and ML rankings agree",
                      "Spearman correlation of the q ranking and the mean |SHAP| ranking: "
                      + ", ".join(f"{int(r.grid_km)} km {fmt_num(r.value, 2)}"
                                  + ("" if r.status == "ok" else " (different top driver)")
                                  for r in rho.sort_values("grid_km").itertuples())
                      + ". Per driver: `grid_<k>km/ml/ranking_agreement.csv`.",
                      _source(d, rel, "scale/scale.csv")]
    cv_txt = []
    for km in cells:
        t = _read_csv(d / f"grid_{km}km" / "ml" / "cv.csv")
        if t is not None and len(t):
            m = t[t["fold"].astype(str) == "mean"]
            cv_txt.append(f"{km} km R2 {fmt_num(m['r2'].iloc[0], 2)}")
    if cv_txt:
        parts += ["### Out-of-sample skill of the ML model",
                  "5-fold cross-validation, encoding fitted inside the folds: " + ", ".join(cv_txt)
                  + ". Random folds are optimistic for spatially autocorrelated cells (the data "
                  "have no coordinates for spatial blocks).",
                  _source(d, rel, *(f"grid_{k}km/ml/cv.csv" for k in cells))]
    parts += ["### Caveats",
              "q and SHAP shares are associations, not causes; q depends on the discretisation and "
              "grows with the number of strata; cells are spatially autocorrelated, so p-values and "
              "intervals are optimistic; the data hold one 2010-2014 change, so no trend or "
              "within-cell analysis is possible."]
    figs = []
    if cells:
        finest = min(int(k) for k in cells)
        for sub, names in ((f"grid_{finest}km/geodetector",
                            ("geodetector_q", "geodetector_interaction", "geodetector_risk")),
                           (f"grid_{finest}km/ml", ("shap_beeswarm", "shap_group_shares")),
                           ("scale", ("scale_q",))):
            for n in names:
                p = d / sub / f"{n}.png"
                if p.is_file():
                    figs.append(_figure(p, rel, f"{d.name}: {sub}/{n}"))
    if figs:
        parts += ["### Figures", "\n\n".join(figs)]
    return "\n\n".join(p for p in parts if p)
