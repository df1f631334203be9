"""One plot style for every figure: colour-blind-safe palette, labelled axes, source caption."""

from __future__ import annotations

from pathlib import Path

# Okabe & Ito (2008) colour-blind-safe palette.
OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"]

#: A fixed colour per indicator domain, so a domain looks the same in every figure.
DOMAIN_COLORS = {
    "climate": "#0072B2",
    "grazing": "#E69F00",
    "agriculture": "#009E73",
    "mining": "#D55E00",
    "land_use": "#CC79A7",
    "population": "#56B4E9",
    "economy": "#999933",  # Paul Tol muted olive: no other domain shares a colour
    "impact": "#000000",
    "outcome": "#999999",
}

#: Colours of the driver groups and of the unexplained remainder. None equals a domain colour
#: (Paul Tol's "muted" indigo and wine), so "anthropogenic" never looks like "mining" and
#: "biophysical" never like "climate" (tests/test_palette.py checks it).
GROUP_COLORS = {
    "biophysical": "#332288",
    "anthropogenic": "#882255",
    "remainder": "#BBBBBB",
    "climate_variability": "#88CCEE",
}

#: Every named colour: domains first, then groups (lookups by domain or group name).
COLORS = {**DOMAIN_COLORS, **GROUP_COLORS}

#: Trends.Earth-style classes and their colours (Trends.Earth uses red / beige / green).
STATUS_COLORS = {"degrading": "#AB2328", "stable": "#F5F1E3", "improving": "#45A146"}

#: Diverging colour map that is colour-blind safe (blue-white-red is fine for CVD when paired).
DIVERGING_CMAP = "RdBu_r"
SEQUENTIAL_CMAP = "viridis"


def color(key: str, default: str = "#444444") -> str:
    """Colour of a domain or a group (:data:`COLORS`)."""
    return COLORS.get(str(key), default)


def unit_name(study, unit) -> str:
    """The registry name of ``unit`` for people to read (``study["unit_names"]``, set by the
    stage job from the panel's coverage table); the code when the name is unknown."""
    names = (study or {}).get("unit_names") or {}
    return str(names.get(str(unit), unit))


#: The matplotlib settings of seaborn's theme ``sns.set_theme(context="paper",
#: style="whitegrid", palette=OKABE_ITO)`` (seaborn 0.13), written out so that a figure job
#: does not import seaborn (0.4 s a job) only to set them. ``axes.prop_cycle`` is added by
#: :func:`apply_style` (the palette as RGB). One key differs from seaborn's theme: seaborn sets
#: ``image.cmap`` to its own ``"rocket"``, which exists only once seaborn is imported; here it is
#: our sequential map, and every figure names its colour map anyway.
#: tests/test_plot_style.py compares this with seaborn's theme, key by key.
SEABORN_THEME: dict = {
    "axes.axisbelow": True,
    "axes.edgecolor": ".8",
    "axes.grid": True,
    "axes.labelcolor": ".15",
    "axes.labelsize": 9.600000000000001,
    "axes.linewidth": 1.0,
    "axes.titlesize": 9.600000000000001,
    "font.sans-serif": ["Arial", "DejaVu Sans", "Liberation Sans", "Bitstream Vera Sans", "sans-serif"],
    "font.size": 9.600000000000001,
    "grid.color": ".8",
    "image.cmap": SEQUENTIAL_CMAP,
    "legend.fontsize": 8.8,
    "legend.title_fontsize": 9.600000000000001,
    "lines.linewidth": 1.2000000000000002,
    "lines.markersize": 4.800000000000001,
    "lines.solid_capstyle": "round",
    "patch.edgecolor": "w",
    "patch.force_edgecolor": True,
    "patch.linewidth": 0.8,
    "text.color": ".15",
    "xtick.bottom": False,
    "xtick.color": ".15",
    "xtick.labelsize": 8.8,
    "xtick.major.size": 4.800000000000001,
    "xtick.major.width": 1.0,
    "xtick.minor.size": 3.2,
    "xtick.minor.width": 0.8,
    "ytick.color": ".15",
    "ytick.labelsize": 8.8,
    "ytick.left": False,
    "ytick.major.size": 4.800000000000001,
    "ytick.major.width": 1.0,
    "ytick.minor.size": 3.2,
    "ytick.minor.width": 0.8,
}


#: Our settings on top of the theme (sizes, resolution, reproducible SVG ids).
FIGURE_RC: dict = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "svg.hashsalt": "dlddrivers",  # reproducible SVG ids
    "path.simplify": True,
}


def apply_style() -> None:
    """Set the defaults used by every figure: seaborn's paper / whitegrid theme with the
    Okabe-Ito palette (:data:`SEABORN_THEME`), then ours (:data:`FIGURE_RC`); non-interactive backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from cycler import cycler
    from matplotlib.colors import to_rgb

    plt.rcParams.update(SEABORN_THEME)
    plt.rcParams["axes.prop_cycle"] = cycler("color", [to_rgb(c) for c in OKABE_ITO])
    plt.rcParams.update(FIGURE_RC)
    from .layout import share_text_metrics

    share_text_metrics()  # each text measured once per process (same sizes, same pixels)


def add_caption(fig, text: str, renderer=None, *, tight=None):
    """Write a source/caveat caption under everything already drawn (legends and tick labels
    placed below the axes included), wrapped to the figure's width; return the text artist.
    ``renderer``: the renderer of a layout pass already made (the figure is laid out once more
    when None); ``tight``: the figure's tight bounding box (inches) from that pass."""
    if renderer is None:
        fig.draw_without_rendering()  # lay out ticks and labels without rasterising
        renderer = fig.canvas.get_renderer()
    if tight is None:
        tight = fig.get_tightbbox(renderer)
    bottom = tight.y0 * fig.dpi  # inches -> display pixels
    y = min(-0.02, (bottom - 6) / (fig.get_figheight() * fig.dpi))
    label = fig.text(0.01, y, text, ha="left", va="top", fontsize=7, color="#444444", wrap=True)
    from .layout import fast_wrap

    return fast_wrap(label)  # matplotlib's line breaks from fewer measurements


#: Overlapping text found by :func:`save` in this process: figure file name -> pairs of texts.
#: The stage job writes it to ``run.json`` (``text_overlaps``); tests assert it stays empty.
OVERLAPS: dict[str, list[tuple[str, str]]] = {}


def text_overlaps(fig, pad: float = 0.5, renderer=None) -> list[tuple[str, str]]:
    """Pairs of visible, non-empty texts of ``fig`` whose rendered bounding boxes overlap
    (each box shrunk by ``pad`` pixels, so touching boxes do not count). Measured with the
    figure's own renderer (Agg) at the figure's dpi after a layout pass (made here when
    ``renderer`` is None; pass the renderer of a layout pass already made to reuse it);
    wrapped texts are measured as drawn."""
    import matplotlib.text as mtext
    import numpy as np

    if renderer is None:
        fig.draw_without_rendering()  # the layout as drawn, without rasterising
        renderer = fig.canvas.get_renderer()
    # tick labels whose tick lies outside the axis' view are not drawn although they are visible
    hidden = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            eps = 1e-9 * max(abs(hi - lo), 1e-12)
            for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
                loc = tick.get_loc()
                if loc is None or not (lo - eps <= loc <= hi + eps):
                    hidden.update({id(tick.label1), id(tick.label2)})
    for ax in fig.axes:  # every text of a hidden axes (its axis labels included)
        if not ax.get_visible():
            hidden.update(id(t) for t in ax.findobj(mtext.Text))
    texts, boxes = [], []
    for t in fig.findobj(mtext.Text):
        if id(t) in hidden or not t.get_visible() or not t.get_text().strip():
            continue
        if t.axes is not None and not t.axes.get_visible():
            continue
        bb = t.get_window_extent(renderer)
        if not (np.isfinite([bb.x0, bb.x1, bb.y0, bb.y1]).all()) or bb.width <= 0 or bb.height <= 0:
            continue
        texts.append(t.get_text())
        boxes.append((bb.x0 + pad, bb.y0 + pad, bb.x1 - pad, bb.y1 - pad))
    if len(boxes) < 2:
        return []
    b = np.asarray(boxes)
    ov = ((b[:, None, 0] < b[None, :, 2]) & (b[None, :, 0] < b[:, None, 2])
          & (b[:, None, 1] < b[None, :, 3]) & (b[None, :, 1] < b[:, None, 3]))
    i, j = np.nonzero(np.triu(ov, k=1))
    return [(texts[a], texts[c]) for a, c in zip(i, j, strict=True)]


def place_boxes(fig, renderer) -> int:
    """Place the children of every legend and offset box of ``fig`` (legends, anchored texts,
    annotation boxes) as drawing places them, without drawing anything else; return how many.

    Their texts get their positions only when the box is drawn (``OffsetBox.draw`` sets each
    child's offset); everything else :func:`save` measures is placed by ``get_tightbbox``
    itself (ticks and tick labels, axis labels, titles), so this replaces the full layout draw
    (``draw_without_rendering``) of a figure without a layout engine: the overlap check then
    measures the legends' texts where they are drawn."""
    from matplotlib.legend import Legend
    from matplotlib.offsetbox import AnnotationBbox, OffsetBox

    boxes = []
    for parent in (fig, *fig.axes):
        if parent is not fig and not parent.get_visible():
            continue
        boxes += [a for a in parent.get_children()
                  if isinstance(a, (Legend, OffsetBox, AnnotationBbox)) and a.get_visible()]
    if boxes:
        with renderer._draw_disabled():  # matplotlib's own no-output mode (draw_without_rendering)
            for b in boxes:
                b.draw(renderer)
    return len(boxes)


def save(fig, path: str | Path, *, caption: str | None = None, svg: bool = False) -> list[Path]:
    """Save ``fig`` as PNG (and SVG if asked) with an optional caption; close it; return paths.

    The figure is laid out once (ticks, labels, titles; no rasterising): that pass places the
    caption under everything drawn, measures the texts for the overlap check
    (:data:`OVERLAPS`) and gives the tight bounding box the file is cropped to, so the PNG is
    rendered once (``savefig(bbox_inches="tight")`` would lay the figure out again); the pass
    runs at the file's dpi (``savefig.dpi``), so texts are measured as printed. Without a
    layout engine the pass is ``get_tightbbox`` itself (it places ticks, labels and titles as
    drawing does) after :func:`place_boxes` (legends), not a full draw; a figure with a layout
    engine (constrained layout) is drawn without rendering, and again after its caption is
    added. The PNG is encoded by :func:`write_png` from the Agg buffer."""
    import matplotlib as mpl
    import matplotlib.pyplot as plt
    from matplotlib.layout_engine import PlaceHolderLayoutEngine
    from matplotlib.transforms import Bbox

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(fig.get_layout_engine(), PlaceHolderLayoutEngine):
        # left by fig.tight_layout(): lays nothing out, but makes savefig lay out once more
        fig.set_layout_engine(None)
    engine = fig.get_layout_engine()
    dpi = mpl.rcParams["savefig.dpi"]
    if dpi != "figure":  # lay out at the file's dpi: texts measure and wrap as they are printed
        fig.set_dpi(float(dpi))
    if engine is not None:
        fig.draw_without_rendering()  # the engine lays the figure out
        renderer = fig.canvas.get_renderer()
    else:
        renderer = fig.canvas.get_renderer()
        place_boxes(fig, renderer)
    tight = fig.get_tightbbox(renderer)  # inches: lays out ticks, labels and titles
    if caption:
        label = add_caption(fig, caption, renderer, tight=tight)
        if engine is not None:
            fig.draw_without_rendering()  # the engine lays the figure out again on each draw
            renderer = fig.canvas.get_renderer()
            tight = fig.get_tightbbox(renderer)
        else:  # nothing moved: the caption's own box widens the tight box
            box = label.get_window_extent(renderer).transformed(fig.dpi_scale_trans.inverted())
            tight = Bbox.union([tight, box])
    clashes = text_overlaps(fig, renderer=renderer)
    if clashes:
        import logging

        OVERLAPS[path.with_suffix(".png").name] = clashes
        logging.getLogger(__name__).warning("%s: overlapping text %s", path.name, clashes[:5])
    pad = mpl.rcParams["savefig.pad_inches"]
    if pad == "layout":  # savefig would use the layout engine's pads; the default pad here
        pad = mpl.rcParamsDefault["savefig.pad_inches"]
    pad = float(pad)
    bbox = tight.padded(pad, pad)  # what savefig(bbox_inches="tight") computes
    out = [path.with_suffix(".png")]
    _save_png(fig, out[0], bbox)
    if svg:
        out.append(path.with_suffix(".svg"))
        # measured by the SVG renderer itself (the crop above is the PNG renderer's)
        fig.savefig(out[1], metadata={"Date": None}, bbox_inches="tight")
    plt.close(fig)
    return out


#: zlib level of the PNGs written by :func:`write_png` (1 fastest .. 9 smallest). Level 3 on
#: unfiltered rows gives files about the size Pillow's default writes (level 6 after choosing a
#: filter per row) in a third of the time; the pixels are the same whatever the level.
PNG_LEVEL = 3


def write_png(path: str | Path, rgba, dpi: float, *, level: int = PNG_LEVEL) -> Path:
    """Write an RGBA image (array of shape (height, width, 4), uint8) as an 8-bit RGBA PNG,
    with its resolution (``pHYs``, as Pillow writes it) and nothing else; return the path.

    The rows are stored unfiltered (PNG filter type 0) and deflated at ``level``: Pillow tries
    the five PNG filters on every row before deflating, which costs more than the deflating
    itself on plots (large flat areas compress well unfiltered). Lossless: reading the file
    gives ``rgba`` back."""
    import struct
    import zlib

    import numpy as np

    a = np.ascontiguousarray(rgba, dtype=np.uint8)
    if a.ndim != 3 or a.shape[2] != 4:
        raise ValueError(f"write_png({path}): image shape {a.shape}, expected (height, width, 4)")
    h, w = a.shape[:2]
    rows = np.zeros((h, w * 4 + 1), dtype=np.uint8)  # first byte of each row: filter type 0
    rows[:, 1:] = a.reshape(h, w * 4)
    ppm = int(dpi / 0.0254 + 0.5)  # pixels per metre, rounded as Pillow rounds them

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path = Path(path)
    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
                     + chunk(b"pHYs", struct.pack(">IIB", ppm, ppm, 1))
                     + chunk(b"IDAT", zlib.compress(rows.tobytes(), level))
                     + chunk(b"IEND", b""))
    return path


def _save_png(fig, path: Path, bbox) -> None:
    """``fig.savefig(path, bbox_inches=bbox)`` as PNG, the pixels written by :func:`write_png`:
    the figure is rendered by Agg exactly as ``savefig`` renders it for a PNG (same crop, dpi
    and colours: ``format="rgba"`` takes the same path up to the file) and the buffer encoded
    here. A figure whose canvas keeps no Agg renderer is saved by matplotlib as before."""
    import io

    import numpy as np

    raw = io.BytesIO()
    fig.savefig(raw, format="rgba", bbox_inches=bbox, dpi=fig.dpi)
    renderer = getattr(fig.canvas, "renderer", None)
    shape = np.asarray(renderer.buffer_rgba()).shape if renderer is not None else ()
    data = raw.getbuffer()
    if len(shape) != 3 or shape[0] * shape[1] * 4 != len(data):
        fig.savefig(path, metadata={"Software": None}, bbox_inches=bbox, dpi=fig.dpi)
        return
    write_png(path, np.frombuffer(data, dtype=np.uint8).reshape(shape), fig.dpi)


def caption_sources(dictionary, indicators=None, *, sep: str = "; ", limit: int | None = None,
                    empty: str | None = "see data dictionary") -> str:
    """The caption sentence naming the sources of ``indicators`` (every source of the data
    dictionary when None): ``"Sources: a; b."``, sorted, at most ``limit`` names (then
    ``" ..."``); with no source ``"Sources: <empty>."``, or ``""`` when ``empty`` is None."""
    from ..dictionary import indicator_meta

    if indicators is None:
        have = dictionary is not None and "source" in dictionary
        names = sorted({str(x) for x in dictionary["source"].dropna().unique()} if have else set())
    else:
        names = sorted({indicator_meta(dictionary, i, "source") for i in indicators} - {""})
    if not names:
        return "" if empty is None else f"Sources: {empty}."
    more = " ..." if limit is not None and len(names) > limit else ""
    return "Sources: " + sep.join(names[:limit] if limit is not None else names) + more + "."


def share_axis(ax, pos, labels, lo, hi, *, fontsize: float | None = None, pad: float = 0.03,
               ylim: tuple[float, float] | None = None) -> None:
    """An axis of shares drawn as rows with intervals: x from min(0, lowest bound) to max(1,
    highest bound), padded by ``pad`` (missing bounds ignored), one labelled tick per row at
    ``pos``; ``ylim`` when given."""
    import numpy as np

    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)
    left = min(0.0, float(np.nanmin(lo)) if np.isfinite(lo).any() else 0.0)
    right = max(1.0, float(np.nanmax(hi)) if np.isfinite(hi).any() else 1.0)
    ax.set_xlim(left - pad, right + pad)
    ax.set_yticks(pos)
    ax.set_yticklabels(labels, fontsize=fontsize)
    if ylim is not None:
        ax.set_ylim(*ylim)


def draw_interval(ax, pos, lo, hi, *, orient: str = "h", color: str = "#333333", lw: float = 1.0,
                  cap: float = 0.12) -> None:
    """Draw intervals [lo, hi] at positions ``pos`` as lines with end caps.

    Unlike ``errorbar`` this draws the interval as it is, also when a (percentile bootstrap)
    interval does not contain the point estimate. Missing bounds are skipped.
    """
    import numpy as np

    pos, lo, hi = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (pos, lo, hi))
    ok = np.isfinite(pos) & np.isfinite(lo) & np.isfinite(hi)
    pos, lo, hi = pos[ok], lo[ok], hi[ok]
    if orient == "h":
        ax.hlines(pos, lo, hi, color=color, lw=lw)
        ax.vlines(np.concatenate([lo, hi]), np.concatenate([pos - cap, pos - cap]),
                  np.concatenate([pos + cap, pos + cap]), color=color, lw=lw)
    else:
        ax.vlines(pos, lo, hi, color=color, lw=lw)
        ax.hlines(np.concatenate([lo, hi]), np.concatenate([pos - cap, pos - cap]),
                  np.concatenate([pos + cap, pos + cap]), color=color, lw=lw)


def flag_lines(df) -> list[str]:
    """Flags a stage wrote on the rows of ``df`` (any column named ``flag``/``flags`` or
    starting with ``flag_``; non-empty, non-false values), as ``"column: value"`` lines, each once."""
    import pandas as pd

    if df is None or len(df) == 0:
        return []
    cols = [c for c in df.columns if c in ("flag", "flags") or str(c).startswith("flag_")]
    out: list[str] = []
    for c in cols:
        for v in df[c].dropna().unique():
            if isinstance(v, (bool,)) or (not isinstance(v, str) and pd.api.types.is_number(v)):
                if bool(v):
                    out.append(str(c).removeprefix("flag_").replace("_", " "))
                continue
            text = str(v).strip()
            if text and text.lower() not in ("false", "none", "nan", "ok", "0"):
                out.append(text if c in ("flag", "flags") else f"{str(c).removeprefix('flag_')}: {text}")
    return list(dict.fromkeys(out))


def draw_flags(ax, lines, *, loc: str = "upper left") -> None:
    """Write the stage's flags in a framed box inside ``ax`` (nothing when there is none)."""
    if not lines:
        return
    import textwrap

    x, ha = (0.01, "left") if "left" in loc else (0.99, "right")
    y, va = (0.99, "top") if "upper" in loc else (0.01, "bottom")
    text = "\n".join(textwrap.fill("⚑ " + str(s), 60) for s in lines[:4])
    if len(lines) > 4:
        text += f"\n(+{len(lines) - 4} more flags in the table)"
    ax.text(x, y, text, transform=ax.transAxes, ha=ha, va=va, fontsize=6.5, color="#7A0000",
            bbox={"boxstyle": "round,pad=0.3", "fc": "#FFF4F0", "ec": "#7A0000", "lw": 0.6}, zorder=10)
