"""Cheaper figures, same pixels (issue 16): ticks and titles fixed once a figure is laid out
(plots/layout.py), and the figures that use it draw the same data.

Each helper is checked against matplotlib doing the work itself: the PNG written after
:func:`layout.freeze` / :func:`layout.tight_layout` / :func:`layout.hline` equals, pixel for
pixel, the PNG of the same figure drawn the ordinary way (``fig.tight_layout()``, automatic
ticks and titles, ``axhline``)."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.ticker import FixedFormatter, FixedLocator, ScalarFormatter  # noqa: E402
from PIL import Image  # noqa: E402

from dlddrivers.plots import layout, style  # noqa: E402


def _png(fig) -> np.ndarray:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    buf.seek(0)
    return np.asarray(Image.open(buf))


def _small_multiples(hline: str | None = None, big: bool = False):
    """Nine panels, two of them left empty (invisible), shared x, titles, one panel whose values
    need an offset text (``1e6``) when ``big``; a zero line drawn by ``axhline`` or
    :func:`layout.hline` when ``hline`` names one."""
    style.apply_style()
    rng = np.random.default_rng(5)
    fig, axes = plt.subplots(3, 3, figsize=(7, 5.5), sharex=True, squeeze=False)
    for ax in axes.flat[7:]:
        ax.set_visible(False)
    years = np.arange(2001, 2024)
    for k, ax in enumerate(axes.flat[:7]):
        y = np.cumsum(rng.standard_normal(len(years))) + 3 * k + 1  # panel 0 crosses zero, others may not
        if big and k == 3:
            y = 2.0e6 + 1e3 * y
        ax.plot(years, y, "-o", ms=2, lw=0.8)
        if hline == "axhline":
            ax.axhline(0, color="#999999", lw=0.5)
        elif hline == "hline":
            layout.hline(ax, 0, color="#999999", lw=0.5)
        ax.set_title(f"unit {k} with a longer title", fontsize=8)
    for ax in axes[-1, :]:
        ax.set_xlabel("year")
    fig.suptitle("small multiples")
    return fig, axes


@pytest.mark.parametrize("big", [False, True])
def test_tight_layout_and_frozen_ticks_draw_the_same_pixels(big):
    """layout.tight_layout (ticks fixed while measuring, then fixed at the final size) gives
    the subplot parameters and the PNG of fig.tight_layout() with automatic ticks and titles;
    with an offset text (1e6) that axis keeps its own locator and formatter."""
    ref, _ = _small_multiples(big=big)
    ref.tight_layout()
    params = (ref.subplotpars.left, ref.subplotpars.right, ref.subplotpars.bottom, ref.subplotpars.top,
              ref.subplotpars.wspace, ref.subplotpars.hspace)
    a = _png(ref)
    fig, axes = _small_multiples(big=big)
    layout.tight_layout(fig)
    assert (fig.subplotpars.left, fig.subplotpars.right, fig.subplotpars.bottom, fig.subplotpars.top,
            fig.subplotpars.wspace, fig.subplotpars.hspace) == params
    y_big = axes.flat[3].yaxis
    if big:
        assert isinstance(y_big.get_major_formatter(), ScalarFormatter)  # its offset text stays live
        assert not isinstance(y_big.get_major_locator(), FixedLocator)
    else:
        assert isinstance(y_big.get_major_formatter(), FixedFormatter)
    assert isinstance(axes.flat[0].xaxis.get_major_locator(), FixedLocator)
    b = _png(fig)
    assert a.shape == b.shape and np.array_equal(a, b)


def test_frozen_ticks_are_the_locators_ticks_inside_the_view():
    """After freeze an axis holds exactly the ticks matplotlib draws (positions inside the view,
    labels as its formatter writes them), and thaw gives the locator and formatter back."""
    style.apply_style()
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0.13, 7.9], [-0.31, 2.2])
    fig.canvas.draw()
    drawn = {a: [(t.get_loc(), t.label1.get_text()) for t in a._update_ticks()] for a in (ax.xaxis, ax.yaxis)}
    loc0, fmt0 = ax.yaxis.get_major_locator(), ax.yaxis.get_major_formatter()
    undo: list = []
    counts = layout.freeze(fig, undo)
    assert counts == {"axes": 1, "axis_fixed": 2, "titles_fixed": 1}
    for a in (ax.xaxis, ax.yaxis):
        locs = list(a.get_major_locator()())
        labels = a.get_major_formatter().format_ticks(locs)
        assert list(zip(locs, labels, strict=True)) == drawn[a]
    layout.thaw(undo)
    assert ax.yaxis.get_major_locator() is loc0 and ax.yaxis.get_major_formatter() is fmt0
    assert ax.yaxis.isDefault_majloc and ax.yaxis.isDefault_majfmt
    plt.close(fig)


def test_title_left_to_matplotlib_where_it_may_move():
    """A title over top-side tick labels is placed by matplotlib (it moves up); a title over
    bottom-side ones is fixed at y = 1, where matplotlib leaves it."""
    style.apply_style()
    fig, (a, b) = plt.subplots(1, 2, figsize=(6, 3))
    for ax in (a, b):
        ax.plot([0, 1], [0, 1])
        ax.set_title("title")
    b.xaxis.tick_top()
    fig.canvas.draw()
    y_top = b.title.get_position()[1]
    assert y_top > 1.0  # matplotlib moved it above the top tick labels
    layout.freeze(fig)
    assert a._autotitlepos is False and b._autotitlepos is True
    plt.close(fig)


def test_hline_draws_what_axhline_draws():
    """Same line (data, transform, style), same limits (the zero line widens panels whose values
    are all positive) and the same pixels as axhline, on axes sharing x."""
    ref, ref_axes = _small_multiples(hline="axhline")
    fig, axes = _small_multiples(hline="hline")
    for r, f in zip(ref_axes.flat[:7], axes.flat[:7], strict=True):
        # equal up to rounding: axhline's y enters the data limits through the view's transform
        assert f.get_ylim() == pytest.approx(r.get_ylim(), rel=1e-13, abs=1e-13)
        assert r.get_ylim()[0] <= 0 <= r.get_ylim()[1]
        lr, lf = r.get_lines()[-1], f.get_lines()[-1]
        assert np.array_equal(lr.get_xydata(), lf.get_xydata())
        assert lf.get_zorder() == lr.get_zorder()
        assert lr.get_color() == lf.get_color() and lr.get_linewidth() == lf.get_linewidth()
        # x in axes fractions, y in data: the same display points in both figures
        assert np.allclose(lr.get_transform().transform([[0, 0], [1, 0]]),
                           lf.get_transform().transform([[0, 0], [1, 0]]), rtol=1e-12, atol=1e-9)
    ref.tight_layout()
    layout.tight_layout(fig)
    a, b = _png(ref), _png(fig)
    assert np.array_equal(a, b)


def test_unit_drivers_figure_draws_the_standardised_table(tmp_path, monkeypatch):
    """Each panel of the unit-drivers figure draws its unit's rows of the standardised table:
    every driver's z, the outcome's z and its trend_z (read back from the axes), and the zero
    line."""
    from dlddrivers.plots import trends as T

    rng = np.random.default_rng(2)
    rows = []
    for u in ("A", "B", "C"):
        for ind, role in (("y", "outcome"), ("d1", "driver"), ("d2", "driver")):
            z = rng.standard_normal(8)
            rows.append(pd.DataFrame({"unit": u, "year": np.arange(2010, 2018), "indicator": ind, "role": role,
                                      "z": z, "trend_z": 0.1 * np.arange(8) - 0.35}))
    z = pd.concat(rows, ignore_index=True)
    dictionary = pd.DataFrame({"indicator": ["y", "d1", "d2"], "label": ["Y", "D1", "D2"],
                               "domain": ["outcome", "climate", "grazing"], "source": ["s", "s", "s"]})
    figs = []
    monkeypatch.setattr(style, "save", lambda fig, path, caption=None: figs.append(fig) or [Path(path)])
    T._unit_drivers_figure(z, "y", dictionary, {"name": "t"}, tmp_path / "u.png")
    (fig,) = figs
    for ax, u in zip(fig.axes, ("A", "B", "C"), strict=True):
        lines = ax.get_lines()
        got = [line.get_ydata() for line in lines]
        zu = z[z["unit"] == u]
        want = [zu.loc[zu["indicator"] == "d1", "z"], zu.loc[zu["indicator"] == "d2", "z"],
                zu.loc[zu["indicator"] == "y", "z"], zu.loc[zu["indicator"] == "y", "trend_z"], [0, 0]]
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(np.asarray(g, float), np.asarray(w, float))
        assert np.array_equal(lines[-1].get_xdata(), [0, 1])  # the zero line spans the axes
    plt.close(fig)


def _reference_draw_units(ax, geoms, colors, *, edgecolor="white", linewidth=0.4, default="#FFFFFF", hatch=None):
    """draw_units as it was: one PatchCollection of PathPatches per unit, each added with its
    own limit update."""
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MPath

    for unit, geom in geoms.items():
        patches = []
        for poly in geom:
            verts = np.concatenate([np.asarray(r) for r in poly])
            codes = np.concatenate([[MPath.MOVETO] + [MPath.LINETO] * (len(r) - 1) for r in poly])
            patches.append(PathPatch(MPath(verts, codes.astype(np.uint8))))
        ax.add_collection(PatchCollection(patches, facecolor=colors.get(unit, default), edgecolor=edgecolor,
                                          linewidth=linewidth, hatch=(hatch or {}).get(unit)))


def test_draw_units_draws_what_one_patch_collection_per_unit_draws():
    """Polygons with a hole, a unit of two polygons, hatched and unhatched neighbours, a unit
    without a colour: the map's pixels and the axes' data limits equal those of the former
    drawing (PatchCollection per unit, limits updated per unit)."""
    from dlddrivers.plots import maps

    def square(x, y, s):
        return np.array([[x, y], [x + s, y], [x + s, y + s], [x, y + s], [x, y]], dtype=float)

    geoms = {"A": [[square(0, 0, 4), square(1, 1, 1)]],  # a hole
             "B": [[square(4, 0, 3)], [square(8, 1, 1.5)]],  # two polygons
             "C": [[square(0, 4, 3)]], "D": [[square(3, 4, 4.5)]], "E": [[square(7.5, 3, 2)]]}
    colors = {"A": "#AB2328", "B": "#45A146", "C": (0.2, 0.3, 0.8, 1.0), "E": "#F5F1E3"}  # D: default
    hatch = {"B": "////", "D": "xxxx"}
    figs = []
    for draw in (_reference_draw_units, maps.draw_units):
        style.apply_style()
        fig, ax = plt.subplots(figsize=(4, 3))
        draw(ax, geoms, colors, edgecolor="#999999", hatch=hatch)
        figs.append((fig, ax, ax.dataLim.frozen()))
        maps._frame(ax, geoms)
    (f0, a0, lim0), (f1, a1, lim1) = figs
    assert np.array_equal(lim0.get_points(), lim1.get_points())
    assert len(a1.collections) == len(geoms)  # one collection per unit, in order
    assert [c.get_hatch() for c in a1.collections] == [None, "////", None, "xxxx", None]
    assert np.array_equal(_png(f0), _png(f1))


def test_frozen_heatmap_with_colour_bar_draws_the_same_pixels():
    """An image (inverted y axis) with text cells, categorical tick labels and a colour bar:
    the same PNG with ticks and titles fixed by freeze as without."""
    def make():
        style.apply_style()
        fig, ax = plt.subplots(figsize=(4, 3.5))
        m = np.linspace(-1, 1, 16).reshape(4, 4)
        im = ax.imshow(m, cmap="RdBu_r", vmin=-1, vmax=1)
        for i in range(4):
            for j in range(4):
                ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=7)
        ax.set_xticks(range(4), ["a", "b", "c", "d"], rotation=90)
        ax.set_yticks(range(4), ["w", "x", "y", "z"])
        fig.colorbar(im, ax=ax, label="r")
        ax.set_title("heatmap")
        return fig

    a = _png(make())
    fig = make()
    counts = layout.freeze(fig)
    assert counts["axes"] == 2 and counts["titles_fixed"] == 2
    assert isinstance(fig.axes[1].yaxis.get_major_locator(), FixedLocator)  # the colour bar's ticks
    assert np.array_equal(a, _png(fig))


def test_series_figure_draws_each_units_panel_rows_and_trend_line():
    """Each panel of a trends figure draws its unit's panel rows in year order (the panel is
    shuffled here) and the Theil-Sen line of the trends table from first to last year (read back
    from the axes); panels beyond the units are hidden."""
    from dlddrivers.plots import trends as T

    rng = np.random.default_rng(4)
    units = ["U1", "U2", "U3", "U4", "U5"]
    panel = pd.DataFrame([(u, y, rng.normal()) for u in units for y in range(2000, 2012)],
                         columns=["unit", "year", "v"]).sample(frac=1.0, random_state=1)
    tab = pd.DataFrame({"unit": units, "status": ["ok"] * 4 + ["insufficient_data"], "slope": [0.1, -0.2, 0.0, 0.3, np.nan],
                        "intercept": [-200.0, 400.0, 1.0, -600.0, np.nan], "first_year": 2000, "last_year": 2011,
                        "significant": [True, False, False, True, False], "slope_per_decade": [1.0, -2.0, 0.0, 3.0, np.nan],
                        "mk_p": [0.01, 0.3, 0.9, 0.02, np.nan]})
    style.apply_style()
    fig = T._series_figure(tab, panel, None, {"name": "t"}, "v")
    axes = fig.axes
    assert [ax.get_visible() for ax in axes] == [True] * 5 + [False] * 3
    for ax, r in zip(axes, tab.itertuples(), strict=False):
        g = panel[panel["unit"] == r.unit].sort_values("year")
        lines = ax.get_lines()
        np.testing.assert_array_equal(lines[0].get_xdata(), g["year"].to_numpy())
        np.testing.assert_array_equal(lines[0].get_ydata(), g["v"].to_numpy())
        if r.status == "ok":
            np.testing.assert_allclose(lines[1].get_ydata(), r.intercept + r.slope * np.array([2000.0, 2011.0]))
        else:
            assert len(lines) == 1
    plt.close(fig)


def test_shared_text_metrics_draw_the_same_pixels_and_measure_each_text_once():
    """With the shared metrics cache (installed by apply_style) a figure is drawn exactly as
    with matplotlib's per-renderer cache; drawing it again measures no text again (the second
    figure's renderers reuse the sizes), and a change of a font setting is measured anew."""
    def draw():
        fig, _ = _small_multiples()
        layout.tight_layout(fig)
        return _png(fig)

    import matplotlib.text as mtext

    style.apply_style()
    layout.share_text_metrics(False)

    own = mtext._get_text_metrics_with_cache
    style.apply_style = _no_share(style.apply_style)
    try:
        ref = draw()
    finally:
        style.apply_style = style.apply_style.__wrapped__
    assert mtext._get_text_metrics_with_cache is own  # not installed while drawing the reference
    layout.share_text_metrics()
    assert mtext._get_text_metrics_with_cache is not own
    first = draw()
    measured = layout._SHARED["measured"]
    assert measured > 0
    second = draw()
    assert layout._SHARED["measured"] == measured  # every text of the same figure known
    assert np.array_equal(ref, first) and np.array_equal(ref, second)
    with matplotlib.rc_context({"text.hinting": "no_hinting"}):
        draw()
    assert layout._SHARED["measured"] > measured  # another font setting: measured again
    layout.share_text_metrics(False)
    assert mtext._get_text_metrics_with_cache is own


def _no_share(apply_style):
    """apply_style without installing the shared metrics cache (the reference drawing)."""
    import functools

    @functools.wraps(apply_style)
    def wrapped():
        apply_style()
        layout.share_text_metrics(False)

    return wrapped


_CAPTION_WORDS = ("Sources: FAOSTAT land use (FAO); World Bank WDI; CRU TS 4.09 precipitation, "
                  "temperature and SPEI-12 (University of East Anglia); Mongolian statistical "
                  "yearbooks (NSO 1212.mn), livestock census and dzud losses; "
                  "mining-licence registry (MRPAM) km² 1992-2020 ± 95 % CI; "
                  "Supercalifragilisticexpialidociousandevenlongerwordthanaline. end").split(" ")


def _captions(rng, n: int) -> list[str]:
    """Caption-like texts: real source words in random order and number, with double spaces,
    a forced newline, an empty line and a word wider than the line among them."""
    out = ["", "one", "two words", "x  y   z", "first line\nsecond line\n\nafter an empty line"]
    for _ in range(n):
        k = int(rng.integers(1, 60))
        words = [str(w) for w in rng.choice(_CAPTION_WORDS, size=k)]
        if rng.random() < 0.3:
            words.insert(int(rng.integers(0, k)), "")  # a double space
        if rng.random() < 0.3:
            words[int(rng.integers(0, k))] += "\n"
        out.append(" ".join(words))
    return out


def test_fast_wrap_gives_matplotlibs_lines():
    """layout.wrapped_text breaks every caption-like text where matplotlib's own wrapping
    does, for figure widths, font sizes, positions and the three alignments."""
    from matplotlib.text import Text

    style.apply_style()
    rng = np.random.default_rng(20261201)
    texts = _captions(rng, 40)
    checked = breaks = 0
    for width, size, x, ha in [(6.4, 7, 0.01, "left"), (3.0, 9, 0.3, "left"),
                               (5.0, 7, 0.95, "right"), (8.0, 8, 0.5, "center")]:
        fig = plt.figure(figsize=(width, 3), dpi=150)
        renderer = fig.canvas.get_renderer()
        for s in texts:
            t = fig.text(x, 0.5, s, ha=ha, fontsize=size, wrap=True)
            t._renderer = renderer  # as get_window_extent and draw set it
            ours, theirs = layout.wrapped_text(t), Text._get_wrapped_text(t)
            assert ours == theirs, (width, size, x, ha, s)
            checked += 1
            breaks += theirs.count("\n") - s.count("\n")
            t.remove()
        plt.close(fig)
    assert checked == 4 * len(texts) and breaks > 100  # most texts are wrapped somewhere


def test_fast_wrap_measures_less_and_draws_the_same_pixels(monkeypatch):
    """A saved figure with a long caption is pixel for pixel the one matplotlib's wrapping
    gives (the layout pass and the cropped PNG wrap at different widths), from fewer width
    measurements."""
    from matplotlib.text import Text

    style.apply_style()
    caption = " ".join(_CAPTION_WORDS * 4)

    def saved(tmp: Path) -> tuple[np.ndarray, int]:
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.plot([1, 2, 3], [2, 1, 3])
        calls = {"n": 0}
        measure = Text._get_rendered_text_width

        def counted(self, text):
            calls["n"] += 1
            return measure(self, text)

        monkeypatch.setattr(Text, "_get_rendered_text_width", counted)
        style.save(fig, tmp, caption=caption)
        monkeypatch.setattr(Text, "_get_rendered_text_width", measure)
        return np.asarray(Image.open(tmp.with_suffix(".png"))), calls["n"]

    import tempfile

    with tempfile.TemporaryDirectory() as d:
        fast, n_fast = saved(Path(d) / "fast")
        monkeypatch.setattr(layout, "fast_wrap", lambda text: text)  # matplotlib's own wrapping
        own, n_own = saved(Path(d) / "own")
    assert np.array_equal(fast, own)
    assert n_fast < 0.7 * n_own, (n_fast, n_own)
