"""Choropleth maps of stage results (drawing only: values come from stage tables, geometries
from the caller).

This module reads no boundary file and computes no statistic. The geometries it draws are handed
to it, read by :mod:`dlddrivers.sources.boundaries` from the boundary files declared in
``config/sources.yaml`` (which unit each file outlines, its code field and the features outside
the unit: ``boundary`` in ``config/units.yaml``); the tile grid of the national map is each
country's ``tile`` in ``config/units.yaml``. Geometries are drawn with matplotlib patches (no
GIS stack). A country without a boundary file is shown as a labelled tile only: the national
map shows every country as a tile and draws the outlines it has beside the tiles. Coordinates
are lon/lat drawn with the aspect ``1/cos(mean latitude)``.

Entry points: :func:`mongolia_maps` (aimag studies), :func:`national_map` (country study) and
:func:`study_maps` (by level); they return the paths they wrote (an empty list when the table
they need is absent).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..sources.boundaries import label_point
from . import layout
from .style import GROUP_COLORS, apply_style, save

Ring = np.ndarray
Geometry = list[list[Ring]]  # polygons, each [outer ring, hole, ...]

Tile = tuple[float, float, float, float]  # x, y, width, height in tile units

#: Units outside the study and units without a value are white with a hatch, never a grey that a
#: colour scale could also produce (a diverging scale's mid-point, cividis' middle).
NO_DATA_COLOR = "#FFFFFF"
NO_DATA_HATCH = "xxxx"
OUTSIDE_COLOR = "#FFFFFF"
OUTSIDE_HATCH = "...."


# ------------------------------------------------------------------------------------------
# geometry


def _paths(geom: Geometry):
    """One matplotlib path per polygon of ``geom`` (its outer ring and holes)."""
    from matplotlib.path import Path as MPath

    out = []
    for poly in geom:
        verts, codes = [], []
        for ring in poly:
            r = np.asarray(ring)
            verts.append(r)
            c = np.full(len(r), MPath.LINETO, dtype=np.uint8)
            c[0] = MPath.MOVETO
            codes.append(c)
        out.append(MPath(np.concatenate(verts), np.concatenate(codes)))
    return out


def draw_units(ax, geoms: Mapping[str, Geometry], colors: Mapping[str, object], *,
               edgecolor: str = "white", linewidth: float = 0.4, default: object = NO_DATA_COLOR,
               hatch: Mapping[str, str] | None = None) -> None:
    """Fill each unit's polygons with ``colors[unit]`` (``default`` when absent): one collection
    per unit, in the order of ``geoms``. The axes' data limits grow to the polygons once, after
    the last unit (adding each collection with its own limit update autoscales the axes each
    time, over every artist already added)."""
    from matplotlib.collections import PathCollection

    hatch = hatch or {}
    verts = []
    for unit, geom in geoms.items():
        paths = _paths(geom)
        ax.add_collection(PathCollection(paths, facecolor=colors.get(unit, default), edgecolor=edgecolor,
                                         linewidth=linewidth, hatch=hatch.get(unit)), autolim=False)
        verts += [p.vertices for p in paths]
    if verts:
        ax.update_datalim(np.concatenate(verts))
        ax.autoscale_view()


def _save(fig, path, caption: str | None = None) -> list[Path]:
    """:func:`plots.style.save` of a complete map, its ticks and titles fixed first
    (:func:`plots.layout.freeze`: computed once instead of on every layout pass)."""
    layout.freeze(fig)
    return save(fig, path, caption=caption)


def _extent(geoms: Mapping[str, Geometry]) -> tuple[float, float, float, float]:
    pts = np.concatenate([r for g in geoms.values() for poly in g for r in poly[:1]])
    return float(pts[:, 0].min()), float(pts[:, 0].max()), float(pts[:, 1].min()), float(pts[:, 1].max())


def _frame(ax, geoms: Mapping[str, Geometry], pad: float = 0.5) -> None:
    x0, x1, y0, y1 = _extent(geoms)
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(y0 - pad, y1 + pad)
    ax.set_aspect(1 / np.cos(np.radians((y0 + y1) / 2)))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for s in ax.spines.values():
        s.set_visible(False)


def _unit_labels(ax, geoms: Mapping[str, Geometry], units, min_size: float = 1.5,
                 names: Mapping[str, str] | None = None) -> None:
    """Write each unit's registry name in it (the code when no name is known). Units smaller
    than ``min_size`` degrees across are left unlabelled, and a label that would overlap one
    already placed (largest units first) is removed, so labels never overlap."""
    order = sorted((u for u in units if u in geoms),
                   key=lambda u: -max(_extent({u: geoms[u]})[1] - _extent({u: geoms[u]})[0],
                                      _extent({u: geoms[u]})[3] - _extent({u: geoms[u]})[2]))
    renderer = ax.figure.canvas.get_renderer()
    placed = []
    for u in order:
        x0, x1, y0, y1 = _extent({u: geoms[u]})
        if max(x1 - x0, y1 - y0) < min_size:
            continue
        x, y = label_point(geoms[u])
        t = ax.text(x, y, str((names or {}).get(u, u)), ha="center", va="center", fontsize=5.5,
                    color="#111111", bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.7})
        bb = t.get_window_extent(renderer)
        if any(bb.overlaps(b) for b in placed):
            t.remove()
            continue
        placed.append(bb)


def _norm(values: pd.Series, diverging: bool, fixed: tuple[float, float] | None = None):
    from matplotlib.colors import Normalize, TwoSlopeNorm

    if fixed is not None:
        return Normalize(*fixed)
    v = values.replace([np.inf, -np.inf], np.nan).dropna()
    if v.empty:
        return Normalize(0, 1)
    if diverging:
        m = float(np.nanmax(np.abs(v))) or 1.0
        return TwoSlopeNorm(0.0, -m, m)
    lo, hi = float(v.min()), float(v.max())
    return Normalize(lo, hi if hi > lo else lo + 1)


def choropleth(ax, geoms: Mapping[str, Geometry], values: pd.Series, *, cmap: str,
               diverging: bool, label: str, marked: Sequence[str] = (),
               outside: Sequence[str] = (), fixed: tuple[float, float] | None = None) -> None:
    """One choropleth panel: ``values`` indexed by unit; ``marked`` units hatched (e.g. not
    significant); ``outside`` units drawn light grey (not in the study)."""
    import matplotlib.pyplot as plt

    norm = _norm(values, diverging, fixed)
    cm = plt.get_cmap(cmap)
    colors: dict[str, object] = {u: cm(norm(v)) for u, v in values.items() if np.isfinite(v)}
    hatch = {u: NO_DATA_HATCH for u in geoms if u not in colors}
    hatch.update({u: "////" for u in marked})
    for u in outside:
        colors[u] = OUTSIDE_COLOR
        hatch[u] = OUTSIDE_HATCH
    draw_units(ax, geoms, colors, hatch=hatch, edgecolor="#999999")
    _frame(ax, geoms)
    sm = plt.cm.ScalarMappable(norm=norm, cmap=cm)
    cb = ax.figure.colorbar(sm, ax=ax, orientation="horizontal", fraction=0.05, pad=0.02, shrink=0.8)
    cb.set_label(label, fontsize=8)
    cb.ax.tick_params(labelsize=7)


def _legend(ax, entries: Sequence[tuple[str, object, str | None]]) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=c, edgecolor="#888888", hatch=h, label=lab) for lab, c, h in entries]
    ax.legend(handles=handles, loc="lower left", frameon=False, fontsize=7)


# ------------------------------------------------------------------------------------------
# Mongolia (aimag studies)


def _measure(dictionary: pd.DataFrame, indicator: str) -> str:
    m = dictionary.loc[dictionary["indicator"] == indicator, "measure"]
    return str(m.iloc[0]) if len(m) else ""


def _label(dictionary: pd.DataFrame, indicator: str) -> str:
    m = dictionary.loc[dictionary["indicator"] == indicator, "label"]
    return str(m.iloc[0]) if len(m) else indicator


def trend_cmap(dictionary: pd.DataFrame, indicator: str) -> tuple[str, str]:
    """Colour map of a trend and a caption phrase, from the catalogue's ``better`` (data
    dictionary): green always marks an improvement (``better: lower``: falling values green;
    ``higher``: rising values green); no direction: a neutral purple-orange scale."""
    from ..dictionary import better_of

    b = better_of(dictionary, indicator)
    if b == "lower":
        return "BrBG_r", "green = falling = improvement (lower is better, catalogue `better: lower`)"
    if b == "higher":
        return "BrBG", "green = rising = improvement (higher is better, catalogue `better: higher`)"
    return "PuOr_r", "no direction of improvement in the catalogue (neutral colours)"


def trend_map(trends: pd.DataFrame, geoms: Mapping[str, Geometry], dictionary: pd.DataFrame,
              indicator: str, study: str, path: str | Path, *, caption_source: str,
              names: Mapping[str, str] | None = None) -> list[Path]:
    """Theil-Sen slope per decade of ``indicator`` per aimag; hatched where Mann-Kendall p >= 0.05."""
    import matplotlib.pyplot as plt

    t = trends[(trends["indicator"] == indicator) & (trends["unit"] != "pooled")].set_index("unit")
    if t.empty:
        return []
    vals = t["slope_per_decade"].astype(float)
    notsig = [u for u in t.index if not bool(t.loc[u, "significant"])]
    outside = [u for u in geoms if u not in t.index]
    years = f"{int(t['first_year'].min())}-{int(t['last_year'].max())}"
    measure = _measure(dictionary, indicator)
    fig, ax = plt.subplots(figsize=(7.5, 5.2))
    cmap, direction = trend_cmap(dictionary, indicator)
    choropleth(ax, geoms, vals, cmap=cmap, diverging=True, label=f"Theil-Sen slope, {measure} per decade", marked=notsig,
               outside=outside)
    _unit_labels(ax, geoms, t.index, names=names)
    ax.set_title(f"{study}: trend of {_label(dictionary, indicator)}, {years}\n"
                 "(estimand: trend; hatched = Mann-Kendall p >= 0.05)", fontsize=9)
    _legend(ax, [("not significant", "white", "////"), ("not in study", OUTSIDE_COLOR, OUTSIDE_HATCH),
                 ("no value", NO_DATA_COLOR, NO_DATA_HATCH)])
    return _save(fig, path, caption=f"Per aimag: Theil-Sen slope of {indicator} from trends/trends.csv; "
                 f"{direction}. {caption_source}")


def attribution_map(attribution: pd.DataFrame, geoms: Mapping[str, Geometry], outcome: str,
                    study: str, path: str | Path, *, caption_source: str,
                    names: Mapping[str, str] | None = None, outcome_label: str | None = None) -> list[Path]:
    """Per aimag: LMG anthropogenic share of explained variance, and whether the three
    attribution methods name the same larger group."""
    import matplotlib.pyplot as plt

    a = attribution[(attribution["outcome"] == outcome) & (attribution["unit"].astype(str) != "pooled")]
    lmg = a[(a["method"] == "lmg") & (a["quantity"] == "anthropogenic_share")].set_index("unit")
    if lmg.empty:
        return []
    outside = [u for u in geoms if u not in set(a["unit"])]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    # viridis, not cividis: cividis' middle is a grey that reads as "no data"
    choropleth(axes[0], geoms, lmg["value"].astype(float), cmap="viridis", diverging=False,
               label="anthropogenic share of explained variance (fraction of R²)", outside=outside,
               fixed=(0.0, 1.0))
    _unit_labels(axes[0], geoms, lmg.index, names=names)
    axes[0].set_title("LMG: anthropogenic share of within-aimag R²\n(estimand: share_of_explained_variance)",
                      fontsize=9)
    agree = a.drop_duplicates("unit").set_index("unit")
    cats = {
        "all methods: anthropogenic larger": GROUP_COLORS["anthropogenic"],
        "all methods: biophysical larger": GROUP_COLORS["biophysical"],
        "methods disagree": "#F0E442",
        "undetermined": "#BBBBBB",
    }
    colors: dict[str, object] = {u: OUTSIDE_COLOR for u in outside}
    hatch = {u: OUTSIDE_HATCH for u in outside}
    for u, r in agree.iterrows():
        if r["ranking_agreement"] == "agree":
            key = f"all methods: {r['larger_group_lmg']} larger"
        elif r["ranking_agreement"] == "disagree":
            key = "methods disagree"
        else:
            key = "undetermined"
        colors[u] = cats.get(key, NO_DATA_COLOR)
    draw_units(axes[1], geoms, colors, hatch=hatch, edgecolor="#999999")
    _frame(axes[1], geoms)
    axes[1].set_title("Do LMG, trend decomposition and counterfactual\nname the same larger group?",
                      fontsize=9)
    from matplotlib.patches import Patch

    _unit_labels(axes[1], geoms, agree.index, names=names)
    axes[1].legend(handles=[Patch(facecolor=c, edgecolor="#888888", label=k) for k, c in cats.items()]
                   + [Patch(facecolor=OUTSIDE_COLOR, edgecolor="#888888", hatch=OUTSIDE_HATCH,
                            label="not in study")],
                   loc="upper left", bbox_to_anchor=(0.0, -0.02), ncol=2, frameon=False, fontsize=7)
    fig.suptitle(f"{study}: attribution of {outcome_label or outcome} per aimag", fontsize=10)
    return _save(fig, path, caption="From attribution/attribution.csv (per-aimag rows; LMG on each aimag's "
                 "time series, intervals in the table). Share of explained variance is not a share of "
                 f"the change. {caption_source}")


def restrend_map(restrend: pd.DataFrame, geoms: Mapping[str, Geometry], dictionary: pd.DataFrame,
                 outcome: str, study: str, path: str | Path, *, caption_source: str,
                 names: Mapping[str, str] | None = None) -> list[Path]:
    """Per aimag: the RESTREND residual trend (Theil-Sen slope of the climate-model residuals,
    per decade) from ``restrend/restrend.csv``; hatched where Mann-Kendall p >= 0.05; aimags
    where RESTREND was refused (climate fit not significant, too few years) drawn as no value
    and named in the caption."""
    import matplotlib.pyplot as plt

    r = restrend[(restrend["outcome"] == outcome) & (restrend["unit"].astype(str) != "pooled")].set_index("unit")
    if r.empty:
        return []
    vals = r["residual_slope"].astype(float) * 10
    notsig = [u for u in r.index if np.isfinite(vals.get(u, np.nan)) and not (float(r.loc[u, "mk_p"]) < 0.05)]
    outside = [u for u in geoms if u not in r.index]
    refused = [u for u in r.index if not np.isfinite(vals.get(u, np.nan))]
    fig, ax = plt.subplots(figsize=(7.5, 5.2))
    choropleth(ax, geoms, vals, cmap="BrBG", diverging=True,
               label=f"residual trend, {_measure(dictionary, outcome)} per decade", marked=notsig,
               outside=outside)
    _unit_labels(ax, geoms, r.index, names=names)
    ax.set_title(f"{study}: RESTREND residual trend of {_label(dictionary, outcome)}\n"
                 "(non-climatic change, not automatically human; hatched = Mann-Kendall p >= 0.05)",
                 fontsize=9)
    _legend(ax, [("not significant", "white", "////"), ("not in study", OUTSIDE_COLOR, OUTSIDE_HATCH),
                 ("refused / no value", NO_DATA_COLOR, NO_DATA_HATCH)])
    why = "; ".join(f"{(names or {}).get(u, u)}: {r.loc[u, 'status']}" for u in refused)
    return _save(fig, path, caption="Theil-Sen slope of the residuals of each aimag's regression on climate, "
                 f"from restrend/restrend.csv (x10 per decade). Refused: {why or 'none'}. {caption_source}")


def condition_map(units: pd.DataFrame, geoms: Mapping[str, Geometry], dictionary: pd.DataFrame,
                  indicator: str, study: str, path: str | Path, *, caption_source: str,
                  names: Mapping[str, str] | None = None) -> list[Path]:
    """Per aimag: improving / stable / degrading (Trends.Earth style) from
    ``trends/land_condition_units.csv``."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from .style import STATUS_COLORS

    u = units[units["indicator"] == indicator].set_index("unit")
    if u.empty or not u["condition"].isin(list(STATUS_COLORS)).any():
        return []
    outside = [g for g in geoms if g not in u.index]
    colors: dict[str, object] = {k: STATUS_COLORS.get(c, NO_DATA_COLOR) for k, c in u["condition"].items()}
    hatch = {k: NO_DATA_HATCH for k, c in u["condition"].items() if c not in STATUS_COLORS}
    for k in outside:
        colors[k], hatch[k] = OUTSIDE_COLOR, OUTSIDE_HATCH
    fig, ax = plt.subplots(figsize=(7.5, 5.0))
    draw_units(ax, geoms, colors, hatch=hatch, edgecolor="#999999")
    _frame(ax, geoms)
    _unit_labels(ax, geoms, u.index, names=names)
    better = str(u["better"].dropna().iloc[0]) if u["better"].notna().any() else "?"
    ax.legend(handles=[Patch(facecolor=c, edgecolor="#888888", label=k) for k, c in STATUS_COLORS.items()]
              + [Patch(facecolor=OUTSIDE_COLOR, edgecolor="#888888", hatch=OUTSIDE_HATCH, label="not in study"),
                 Patch(facecolor=NO_DATA_COLOR, edgecolor="#888888", hatch=NO_DATA_HATCH, label="no trend")],
              loc="upper left", bbox_to_anchor=(0.0, -0.01), ncol=5, frameon=False, fontsize=7)
    ax.set_title(f"{study}: {_label(dictionary, indicator)}, improving / stable / degrading\n"
                 f"(significant Mann-Kendall trend in the better ({better}) or worse direction)", fontsize=9)
    return _save(fig, path, caption="Classes from trends/land_condition_units.csv: stable = no significant "
                 f"trend (with short series: no detectable change, not proof of stability). {caption_source}")


def _names(study_dir: Path) -> dict[str, str]:
    p = study_dir / "coverage.csv"
    if not p.is_file():
        return {}
    cov = pd.read_csv(p, usecols=["unit", "unit_name"], dtype=str).drop_duplicates("unit")
    return dict(zip(cov["unit"], cov["unit_name"], strict=False))


def _setup(study_dir: str | Path, outdir: str | Path, study: str | None
           ) -> tuple[Path, str, Path, pd.DataFrame, dict[str, str]]:
    """Style, the study folder and name, the output folder (created), the data dictionary and
    the registry names of the units (coverage table)."""
    apply_style()
    d = Path(study_dir)
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    return d, study or d.name, out, pd.read_csv(d / "data_dictionary.csv", keep_default_na=False), _names(d)


def _read(path: Path) -> pd.DataFrame | None:
    return pd.read_csv(path) if path.is_file() else None


def mapped_tables(study_dir: str | Path) -> dict[str, pd.DataFrame]:
    """The per-unit result rows that the maps draw, one table per map (layer name -> rows):
    trends of outcomes, impacts and grazing drivers; LMG anthropogenic share and method agreement
    per unit; RESTREND residual trends; land condition classes. Rows are copied from the stage
    tables unchanged."""
    d = Path(study_dir)
    out: dict[str, pd.DataFrame] = {}
    trends = _read(d / "trends" / "trends.csv")
    if trends is not None and len(trends):
        roles = trends.drop_duplicates("indicator").set_index("indicator")
        keep = [i for i, r in roles.iterrows() if r["role"] in ("outcome", "impact")
                or (r["role"] == "driver" and r["domain"] == "grazing")]
        for ind in keep:
            out[f"trend_{ind}"] = trends[(trends["indicator"] == ind) & (trends["unit"].astype(str) != "pooled")]
    attr = _read(d / "attribution" / "attribution.csv")
    if attr is not None and len(attr):
        for y in attr["outcome"].dropna().unique():
            a = attr[(attr["outcome"] == y) & (attr["unit"].astype(str) != "pooled") & (attr["method"] == "lmg")
                     & (attr["quantity"] == "anthropogenic_share")]
            if len(a):
                out[f"attribution_{y}"] = a
    rest = _read(d / "restrend" / "restrend.csv")
    if rest is not None and len(rest):
        for y in rest["outcome"].dropna().unique():
            out[f"restrend_{y}"] = rest[(rest["outcome"] == y) & (rest["unit"].astype(str) != "pooled")]
    cond = _read(d / "trends" / "land_condition_units.csv")
    if cond is not None and len(cond):
        for ind in cond["indicator"].dropna().unique():
            out[f"condition_{ind}"] = cond[cond["indicator"] == ind]
    return {k: v.reset_index(drop=True) for k, v in out.items() if len(v)}


def mongolia_maps(study_dir: str | Path, geoms: Mapping[str, Geometry], outdir: str | Path,
                  study: str | None = None, *, provider: str = "") -> list[Path]:
    """Maps for an aimag study: outcome/impact trend, grazing-pressure trend, attribution,
    RESTREND residual trend, land condition; and ``<study>.gpkg`` with one layer per map.
    ``geoms``: aimag polygons keyed by unit id; ``provider``: the boundary file's provider
    (caption)."""
    d, study, out, dictionary, names = _setup(study_dir, outdir, study)
    src = ("Boundaries: " + (provider or "not recorded") + "; dotted: Ulaanbaatar and aimags "
           "outside the study.")
    written: list[Path] = []
    tables = mapped_tables(d)
    for name, t in tables.items():
        kind, _, ind = name.partition("_")
        prov = dictionary.loc[dictionary["indicator"] == ind, "provider"]
        s = f"Data: {prov.iloc[0]}. " if len(prov) else ""
        if kind == "trend":
            trends = pd.read_csv(d / "trends" / "trends.csv")
            written += trend_map(trends, geoms, dictionary, ind, study, out / f"map_trend_{ind}.png",
                                 caption_source=s + src, names=names)
        elif kind == "attribution":
            attr = pd.read_csv(d / "attribution" / "attribution.csv")
            written += attribution_map(attr, geoms, ind, study, out / f"map_attribution_{ind}.png",
                                       caption_source=src, names=names, outcome_label=_label(dictionary, ind))
        elif kind == "restrend":
            written += restrend_map(t, geoms, dictionary, ind, study, out / f"map_restrend_{ind}.png",
                                    caption_source=s + src, names=names)
        elif kind == "condition":
            written += condition_map(t, geoms, dictionary, ind, study, out / f"map_condition_{ind}.png",
                                     caption_source=s + src, names=names)
    if tables:
        from ..gis import layer_frame, unit_geometries, write_layers

        shapes = unit_geometries(geoms)
        written.append(write_layers(out / f"{study}.gpkg",
                                    {k: layer_frame(v, shapes, names) for k, v in tables.items()}))
    if not written:
        written += _placeholder(out / "map_none.png", f"{study}: no trends or attribution table to map yet")
    return written


def _placeholder(path: Path, text: str) -> list[Path]:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 1.2))
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=10)
    return _save(fig, path)


# ------------------------------------------------------------------------------------------
# national study


def _country_panel(ax, geoms_by_country: Mapping[str, Mapping[str, Geometry]], values: pd.Series,
                   cmap, norm, outside: Mapping[str, Collection[str]] | None = None) -> None:
    """Draw every sub-national feature of a country in the country's colour (no inner edges);
    the features in ``outside[country]`` (not part of the statistical unit) are left unfilled."""
    allg: dict[str, Geometry] = {}
    for iso, geoms in geoms_by_country.items():
        v = values.get(iso, np.nan)
        col = cmap(norm(v)) if np.isfinite(v) else NO_DATA_COLOR
        colors = {}
        for code, g in geoms.items():
            key = f"{iso}:{code}"
            allg[key] = g
            colors[key] = OUTSIDE_COLOR if code in (outside or {}).get(iso, ()) else col
        feats = {f"{iso}:{c}": g for c, g in geoms.items()}
        # country outline without dissolving: thick dark edges first, then the fills on top
        # cover the inner half of every edge, so only the outer boundary stays visible
        draw_units(ax, feats, colors, edgecolor="#333333", linewidth=1.4)
        draw_units(ax, feats, colors, edgecolor="white", linewidth=0.15)
    _frame(ax, allg, pad=1.0)
    for iso, geoms in geoms_by_country.items():
        x0, x1, y0, y1 = _extent(geoms)
        ax.text((x0 + x1) / 2, (y0 + y1) / 2, iso, ha="center", va="center", fontsize=8, weight="bold",
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8})


def tile_layout(units: Sequence[str], tiles: Mapping[str, Tile] | None = None) -> dict[str, Tile]:
    """The configured ``tiles`` (registry ``tile`` per country) when every unit has one, in
    reading order (top row first, left to right); else a plain 4-column grid in sorted order."""
    tiles = tiles or {}
    if units and all(u in tiles for u in units):
        return {u: tuple(float(v) for v in tiles[u])
                for u in sorted(units, key=lambda u: (-tiles[u][1], tiles[u][0], u))}
    rows = (len(units) + 3) // 4
    return {u: (float(i % 4), float(rows - 1 - i // 4), 1.0, 1.0) for i, u in enumerate(sorted(units))}


def _tiles(ax, values: pd.Series, names: Mapping[str, str], cmap, norm, fmt, intervals,
           layout: Mapping[str, Tile]) -> None:
    from matplotlib.patches import Rectangle

    for iso, (x, y, w, h) in layout.items():
        v = values.get(iso, np.nan)
        col = cmap(norm(v)) if np.isfinite(v) else NO_DATA_COLOR
        ax.add_patch(Rectangle((x + 0.04, y + 0.04), w - 0.08, h - 0.08, facecolor=col,
                               edgecolor="white"))
        rgb = np.asarray(col[:3]) if not isinstance(col, str) else np.array([0.87, 0.87, 0.87])
        txt_col = "white" if rgb @ np.array([0.299, 0.587, 0.114]) < 0.5 else "black"
        lab = f"{names.get(iso, iso)}\n{fmt(v) if np.isfinite(v) else 'no value'}"
        if iso in intervals and np.isfinite(v):
            lab += f"\n{intervals[iso]}"
        ax.text(x + w / 2, y + h / 2, lab, ha="center", va="center", fontsize=7, color=txt_col)
    ax.set_xlim(0, max(x + w for x, _, w, _ in layout.values()))
    ax.set_ylim(0, max(y + h for _, y, _, h in layout.values()))
    ax.set_aspect("equal")
    ax.axis("off")


def national_map(study_dir: str | Path, boundaries: Mapping[str, Mapping[str, Geometry]],
                 outdir: str | Path, study: str | None = None, *,
                 providers: Mapping[str, str] | None = None,
                 outside: Mapping[str, Mapping[str, str]] | None = None,
                 tiles: Mapping[str, Tile] | None = None) -> list[Path]:
    """Per outcome: the LMG anthropogenic share per country (attribution table) and the
    outcome's Theil-Sen trend per country (trends table), as tiles for every country and as
    filled outlines for the countries with a boundary file.

    ``boundaries``: ``{country: {feature code: geometry}}``; ``providers``: the provider of
    each country's boundary file (caption); ``outside``: ``{country: {feature code: name}}``,
    features not part of the statistical unit (unfilled, left out of the GeoPackage geometry);
    ``tiles``: the tile grid (:func:`tile_layout`)."""
    import matplotlib.pyplot as plt

    d, study, out, dictionary, names = _setup(study_dir, outdir, study)
    layout = tile_layout(sorted(names), tiles)
    geoms = {iso: g for iso, g in boundaries.items() if iso in names}
    drawn = sorted(geoms)
    missing = [u for u in layout if u not in geoms]
    src_b = "; ".join((providers or {}).get(i, i) for i in drawn)
    left_out = {iso: dict((outside or {}).get(iso, {})) for iso in drawn}
    cap_geo = (f"Outlines drawn from the declared boundary files ({src_b or 'none'}); no boundary "
               "file for " + ", ".join(names.get(u, u) for u in missing) + " (tiles only)."
               + "".join(f" {', '.join(v.values())}: outside {names.get(iso, iso)} as its statistics "
                         "define it, left unfilled." for iso, v in left_out.items() if v))
    written: list[Path] = []
    specs = []
    apath = d / "attribution" / "attribution.csv"
    if apath.is_file():
        attr = pd.read_csv(apath)
        for outcome in attr["outcome"].dropna().unique():
            a = attr[(attr["outcome"] == outcome) & (attr["method"] == "lmg")
                     & (attr["quantity"] == "anthropogenic_share") & (attr["unit"] != "pooled")].set_index("unit")
            if a.empty:
                continue
            iv = {u: f"[{r.ci_low:.2f}, {r.ci_high:.2f}]" for u, r in a.iterrows() if np.isfinite(r.ci_low)}
            specs.append((f"map_lmg_{outcome}", a["value"].astype(float), "cividis", (0.0, 1.0),
                          f"anthropogenic share of explained variance of {outcome} (fraction of R²)",
                          f"{study}: LMG anthropogenic share, {_label(dictionary, str(outcome))}\n"
                          "(estimand: share_of_explained_variance; per-country time series)",
                          lambda v: f"{v:.2f}", iv,
                          "Values and intervals from attribution/attribution.csv (method lmg, per-country rows; "
                          "per-country LMG on one short series per country overfits: read the status column)."))
    tpath = d / "trends" / "trends.csv"
    if tpath.is_file():
        tr = pd.read_csv(tpath)
        for outcome in tr.loc[tr["role"] == "outcome", "indicator"].unique():
            t = tr[(tr["indicator"] == outcome) & (tr["unit"] != "pooled")].set_index("unit")
            measure = _measure(dictionary, str(outcome))
            iv = {u: f"[{r.ci_low * 10:.2g}, {r.ci_high * 10:.2g}]" for u, r in t.iterrows()
                  if np.isfinite(r.ci_low)}
            years = f"{int(t['first_year'].min())}-{int(t['last_year'].max())}"
            cmap_t, direction = trend_cmap(dictionary, str(outcome))
            specs.append((f"map_trend_{outcome}", t["slope_per_decade"].astype(float), cmap_t, None,
                          f"Theil-Sen slope, {measure} per decade",
                          f"{study}: trend of {_label(dictionary, str(outcome))}, {years}\n(estimand: trend)",
                          lambda v: f"{v:+.2g}/decade", iv,
                          f"Slopes and 95 % intervals (per decade) from trends/trends.csv; {direction}. "
                          + str(dictionary.loc[dictionary["indicator"] == outcome, "provider"].iloc[0]) + "."))
    for name, vals, cmap_name, fixed, clabel, title, fmt, iv, cap in specs:
        cmap = plt.get_cmap(cmap_name)
        norm = _norm(vals, fixed is None, fixed)
        fig = plt.figure(figsize=(11, 5.2))
        ax_map = fig.add_axes([0.0, 0.12, 0.58, 0.78])
        ax_tiles = fig.add_axes([0.60, 0.12, 0.40, 0.78])
        if geoms:
            _country_panel(ax_map, geoms, vals, cmap, norm, left_out)
            ax_map.set_title("Countries with a boundary file", fontsize=8)
        else:
            ax_map.axis("off")
            ax_map.text(0.5, 0.5, "no boundary file in the snapshot", ha="center", transform=ax_map.transAxes)
        _tiles(ax_tiles, vals, names, cmap, norm, fmt, iv, layout)
        ax_tiles.set_title(f"All {len(layout)} countries (tile grid, not to scale)", fontsize=8)
        cax = fig.add_axes([0.15, 0.06, 0.3, 0.025])
        cb = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), cax=cax, orientation="horizontal")
        cb.set_label(clabel, fontsize=8)
        cb.ax.tick_params(labelsize=7)
        fig.suptitle(title, fontsize=10)
        written += _save(fig, out / f"{name}.png", caption=cap + " " + cap_geo)
    tables = mapped_tables(d)
    if tables:
        from ..gis import country_geometries, layer_frame, write_layers

        shapes = country_geometries(geoms, {iso: set(v) for iso, v in left_out.items()})
        written.append(write_layers(out / f"{study}.gpkg",
                                    {k: layer_frame(v, shapes, names) for k, v in tables.items()}))
    if not written:
        written += _placeholder(out / "map_none.png", f"{study}: no trends or attribution table to map yet")
    return written


def study_maps(study_dir: str | Path, level: str, outdir: str | Path, *,
               aimags: Mapping[str, Geometry] | None = None,
               countries: Mapping[str, Mapping[str, Geometry]] | None = None,
               providers: Mapping[str, str] | None = None,
               outside: Mapping[str, Mapping[str, str]] | None = None,
               tiles: Mapping[str, Tile] | None = None) -> list[Path]:
    """The maps of one study by its level: ``aimag`` -> :func:`mongolia_maps` with ``aimags``
    (a placeholder when no aimag boundary was handed over), ``country`` -> :func:`national_map`
    with ``countries``; other levels get a placeholder saying no map is drawn. ``providers``
    is keyed by the unit whose boundary file it describes (``MNG`` for the aimags)."""
    providers = providers or {}
    if level == "aimag":
        if not aimags:
            apply_style()
            return _placeholder(Path(outdir) / "map_none.png", "no aimag boundary file declared or found")
        return mongolia_maps(study_dir, aimags, outdir, provider="; ".join(providers.values()))
    if level == "country":
        return national_map(study_dir, countries or {}, outdir, providers=providers, outside=outside,
                            tiles=tiles)
    apply_style()
    return _placeholder(Path(outdir) / "map_none.png", f"no map for level '{level}'")


__all__ = ["draw_units", "choropleth", "tile_layout", "trend_map", "attribution_map", "mongolia_maps",
           "national_map", "study_maps"]
