"""The markdown summary of a pixel study (``level: pixel``), read from its result tables.

:func:`pixel_study_summary` writes one block per pixel study for ``results/summary.md``
(:func:`dlddrivers.summary.build_summary` dispatches to it for folders where
:func:`is_pixel_study` holds): the grid and years, the area per attribution class with its
share of the assessed area, the field-significance target and the discoveries it gave, the
RESTREND refusals and other pixels left out, the recovery of planted truth (synthetic studies),
links to the zonal tables and the maps. Every number is read from a file of the study's
``pixel/`` folder (``class_areas.csv``, ``fdr.csv``, ``drops.csv``, ``recovery.csv``,
``run.json``); nothing is recomputed.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pandas as pd

from ..summary.format import fmt_pct, md_table

#: the result folder of a pixel study inside its study folder
PIXEL_DIR = "pixel"

ZONAL_TABLES = {
    "zonal_panel.csv": "area-weighted means per unit and year (long; `static` layers labelled)",
    "zonal_panel_wide.csv": "the same, one column per layer (joins a panel study on unit, year)",
    "class_areas.csv": "area and share per unit and class (attribution, SDG productivity)",
    "unit_summaries.csv": "area-weighted mean slopes, R2 and shares per unit",
    "fdr.csv": "discoveries per test at the FDR target",
    "drops.csv": "pixels left out, by reason",
}


def _dir(study_dir: str | Path) -> Path:
    d = Path(study_dir)
    return d / PIXEL_DIR if (d / PIXEL_DIR / "run.json").is_file() else d


def is_pixel_study(study_dir: str | Path) -> bool:
    """A pixel study's result folder (``<study>/pixel/run.json`` and its class areas)."""
    d = _dir(study_dir)
    return (d / "run.json").is_file() and (d / "class_areas.csv").is_file()


def _num(x: object, digits: int = 3) -> str:
    """A number in general format (``0.05``, ``12.5``, ``1,536``): unlike
    :func:`~dlddrivers.summary.format.fmt_num`, no trailing zeros, so a target written ``0.05``
    in the config reads ``0.05`` here."""
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "n/a"
    if not math.isfinite(v):
        return "n/a"
    if v == 0:
        return "0"
    if abs(v) >= 10 ** digits:
        return f"{v:,.0f}"
    return f"{v:.{digits}g}"


def _link(path: Path, rel: Path, text: str | None = None) -> str:
    return f"[{text or path.name}]({Path(os.path.relpath(path, rel)).as_posix()})"


def _table(rows: list[list[str]], head: list[str]) -> str:
    """A pipe table of string cells (:func:`dlddrivers.summary.format.md_table`)."""
    return md_table(pd.DataFrame(rows, columns=head))


def attribution_area_table(class_areas: pd.DataFrame) -> pd.DataFrame:
    """Area per attribution class over all units and its share of the assessed area.

    ``class_areas``: the study's ``class_areas.csv``. Classes without a share in the unit rows
    (insufficient data, climate fit refused) are reported with their area and no share; the
    assessed area is the sum of the units' ``assessed_km2`` (one value per unit)."""
    att = class_areas[class_areas["scheme"] == "attribution"]
    assessed = float(att.groupby("unit")["assessed_km2"].first().sum())
    g = att.groupby(["class", "label"], sort=True).agg(area_km2=("area_km2", "sum"),
                                                       n_pixels=("n_pixels", "sum"),
                                                       has_share=("share", lambda s: s.notna().any()))
    g = g.reset_index()
    g["share"] = [a / assessed if (h and assessed > 0) else float("nan")
                  for a, h in zip(g["area_km2"], g["has_share"], strict=True)]
    g["assessed_km2"] = assessed
    return g.drop(columns="has_share")


def pixel_study_summary(study_dir: str | Path, rel_to: str | Path | None = None) -> str:
    """The markdown block of a pixel study from its result tables (``study_dir``: the study's
    result folder or its ``pixel/`` folder; links are relative to ``rel_to``, the folder of
    ``summary.md``, default the results folder). A missing table is said, not skipped."""
    d = _dir(study_dir)
    name = d.parent.name if d.name == PIXEL_DIR else d.name
    rel = Path(rel_to) if rel_to is not None else d.parent.parent
    run = json.loads((d / "run.json").read_text(encoding="utf-8"))
    opts = run.get("options") or {}
    parts = [f"## Study `{name}` (pixel study)"]
    y0, y1 = run.get("years", [None, None])
    grid = run.get("grid", [0, 0])
    tiles = run.get("tiles")
    parts.append(
        f"Outcome `{run.get('outcome')}` per pixel, {y0}-{y1} ({run.get('n_years')} years), "
        f"climate regressors {', '.join(f'`{c}`' for c in run.get('climate', []))}; grid "
        f"{grid[0]:,} x {grid[1]:,} = {int(run.get('n_pixels', 0)):,} pixels, "
        f"{int(run.get('n_pixels_valid', 0)):,} with enough valid years; zones: "
        f"{len(run.get('units', []))} units"
        + (f"; computed in {int(run['n_tiles'])} tiles" if run.get("n_tiles") else "")
        + (f" ({tiles})" if tiles else "") + ". Every number below is read from a table in "
        + _link(d, rel, f"{name}/{PIXEL_DIR}/") + ", written by "
        "`dlddrivers.gridded.pipeline.run_pixel_study` (inputs, options and timings: "
        + _link(d / "run.json", rel) + ").")
    # ---- attribution classes
    ca_path = d / "class_areas.csv"
    parts.append("### Area per attribution class")
    if ca_path.is_file():
        tab = attribution_area_table(pd.read_csv(ca_path))
        rows = [[str(int(r["class"])), str(r["label"]), _num(r["area_km2"]), fmt_pct(r["share"]),
                 f"{int(r['n_pixels']):,}"] for _, r in tab.iterrows()]
        assessed = float(tab["assessed_km2"].iloc[0]) if len(tab) else float("nan")
        parts.append(
            "Estimand: share of area (cell areas on the sphere) of the pixels inside the study's "
            f"units; shares are of the assessed area ({_num(assessed)} km2; not assessed: "
            "insufficient data and refused climate fits). Classes from the signs and FDR "
            "significance of the actual, climate-driven and residual trends (Xu et al. 2010; "
            f"Zhou et al. 2015). From {_link(ca_path, rel)}.")
        parts.append(_table(rows, ["class", "label", "area (km2)", "share of assessed", "pixels"]))
    else:
        parts.append(f"No class table ({ca_path.name} missing).")
    # ---- field significance
    fdr_path = d / "fdr.csv"
    parts.append("### Field significance (false discovery rate)")
    if fdr_path.is_file():
        f = pd.read_csv(fdr_path)
        target = f["fdr_target_q"].iloc[0] if len(f) else opts.get("fdr_q")
        rows = [[f"`{r['test']}`", f"{int(r['n_tested']):,}", f"{int(r['n_discoveries']):,}",
                 fmt_pct(r["share_of_tested"]), f"{int(r['n_raw_p_below_target']):,}"]
                for _, r in f.iterrows()]
        parts.append(f"Benjamini-Hochberg over all pixels of the study at target q = {_num(target)} "
                     f"(not per tile, not p < {_num(target)} per pixel). From {_link(fdr_path, rel)}.")
        parts.append(_table(rows, ["test", "pixels tested", "discoveries", "share of tested",
                                   f"raw p < {_num(target)}"]))
    else:
        parts.append(f"No FDR table ({fdr_path.name} missing).")
    rec_path = d / "recovery.csv"
    if rec_path.is_file():
        rec = pd.read_csv(rec_path)
        fd = rec[rec["metric"].astype(str).str.startswith("fdr")]
        if len(fd):
            parts.append("False discovery rate achieved against the planted truth (synthetic stack): "
                         + "; ".join(f"`{r['metric']}` {fmt_pct(r['value'])} " + (
                             f"(target at most {fmt_pct(r['target'])}, "
                             f"{'met' if str(r['met']) == 'True' else 'not met'})"
                             if pd.notna(r["target"]) else "(reported, no target)")
                             for _, r in fd.iterrows())
                         + f". All recovery metrics: {_link(rec_path, rel)}.")
    # ---- refusals and drops
    parts.append("### RESTREND refusals and pixels left out")
    dr_path = d / "drops.csv"
    if dr_path.is_file():
        dr = pd.read_csv(dr_path)
        parts.append("; ".join(f"{str(r['reason'])}: {int(r['n_pixels']):,} pixels" for _, r in dr.iterrows())
                     + f" (of {int(run.get('n_pixels', 0)):,}). Pixels with a refused climate fit are class 9 "
                     f"(actual trend only) and outside the attribution shares. From {_link(dr_path, rel)}.")
    else:
        parts.append(f"No drops table ({dr_path.name} missing).")
    # ---- zonal tables and maps
    parts.append("### Zonal tables")
    parts.append("\n".join(f"- {_link(d / n, rel)}: {what}" for n, what in ZONAL_TABLES.items()
                           if (d / n).is_file()))
    maps = sorted((d / "maps").glob("*.png"))
    if maps:
        parts.append("### Maps")
        parts.append("\n\n".join(f"![{m.stem}]({Path(os.path.relpath(m, rel)).as_posix()})" for m in maps))
    layers = sorted({p.stem for p in (d / "layers").glob("*") if p.suffix in (".nc", ".tif")} - {"zone"})
    if layers:
        fmts = sorted({p.suffix.lstrip(".") for p in (d / "layers").glob("*") if p.suffix in (".nc", ".tif")})
        parts.append(f"Layers ({', '.join('NetCDF' if f == 'nc' else 'Cloud-Optimised GeoTIFF' for f in fmts)}) "
                     f"in {_link(d / 'layers', rel, 'layers/')}: " + ", ".join(f"`{n}`" for n in layers) + ".")
    return "\n\n".join(parts)
