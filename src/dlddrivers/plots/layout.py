"""Cheaper drawing of figures with many axes: fix ticks and titles once they are final.

:func:`plots.style.save` lays a figure out, measures it and renders it; each of these passes
(and ``fig.tight_layout()`` before them) asks every axis' locator for its tick positions and its
formatter for their labels again, and places every axes' title again by measuring its x axis.
With tens of small multiples this is most of a figure's CPU. :func:`freeze` runs the locators
and formatters once, on the final view limits and axes size, and hands each axis the positions
and labels they gave (``FixedLocator``/``FixedFormatter``), and fixes a title at the place
matplotlib's automatic placement would give it; the PNG is unchanged.
"""

from __future__ import annotations


def freeze_axis(axis, undo: list | None = None) -> bool:
    """Fix ``axis``' major ticks at the positions and labels its locator and formatter give now;
    True when fixed. An axis whose formatter writes an offset or scale text (``1e6``) is left
    as it is (its offset text is computed by the formatter), and so is one with no major ticks.
    ``undo``: a list :func:`thaw` can restore the axis from (its locator and formatter are
    appended before they are replaced)."""
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

    ticker = axis.major
    if isinstance(ticker.locator, NullLocator):
        return False
    if isinstance(ticker.locator, FixedLocator) and isinstance(ticker.formatter, FixedFormatter):
        return True
    locs = axis.get_majorticklocs()  # the locator on the current (final) view and axes size
    labels = ticker.formatter.format_ticks(locs)  # formatted together, as matplotlib does
    if ticker.formatter.get_offset():
        return False
    # matplotlib draws (and measures) only the ticks inside the view interval, up to a relative
    # tolerance of 1e-10 on the axis' scale (Axis._update_ticks): the others need no tick object
    inside = _in_view(axis, locs)
    locs = [v for v, keep in zip(locs, inside, strict=True) if keep]
    labels = [t for t, keep in zip(labels, inside, strict=True) if keep]
    if undo is not None:
        undo.append(("axis", axis, ticker.locator, ticker.formatter, axis.isDefault_majloc,
                     axis.isDefault_majfmt))
    axis.set_major_locator(FixedLocator(locs))
    axis.set_major_formatter(FixedFormatter(labels))
    return True


def _in_view(axis, locs) -> list[bool]:
    """Whether each tick position lies in ``axis``' view interval as matplotlib tests it before
    drawing a tick: in the axis' scale (transformed), with a tolerance of 1e-10 times the
    interval's length."""
    import numpy as np

    lo, hi = sorted(axis.get_view_interval())
    tr = axis.get_transform()
    a, b = sorted(tr.transform(np.array([lo, hi], dtype=float)))
    tol = (b - a) * 1e-10
    out = []
    for v in locs:
        try:
            t = float(tr.transform(v))
        except (AssertionError, ValueError):  # a masked or invalid position is never drawn
            out.append(False)
            continue
        out.append(bool(a - tol <= t <= b + tol))
    return out


def _title_stays_at_top(ax) -> bool:
    """Whether matplotlib's automatic title placement (``Axes._update_title_position``) leaves
    the titles of ``ax`` at y = 1 whatever the layout: no twin, child or title-aligned axes, x
    tick labels and x label at the bottom only, and no offset text on the y axis. It moves a
    title up only above top-side x tick labels or an overlapping y offset text."""
    fig = ax.get_figure(root=False)
    if ax.child_axes or ax._twinned_axes.get_siblings(ax) != [ax]:
        return False
    if fig._align_label_groups["title"].get_siblings(ax) != [ax]:
        return False
    x = ax.xaxis
    if x.get_label_position() != "bottom" or x.major.formatter.get_offset():
        return False
    # every tick of an axis is made from its first one (its tick parameters), so the first major
    # and minor ticks tell whether any label is drawn at the top
    if x.majorTicks[0].label2.get_visible() or x.minorTicks[0].label2.get_visible():
        return False
    return not ax.yaxis.major.formatter.get_offset()


def freeze(fig, undo: list | None = None) -> dict:
    """Fix the ticks (:func:`freeze_axis`) of every visible axes of ``fig`` and, where the
    automatic placement would leave it there (:func:`_title_stays_at_top`), its titles at
    y = 1. Call it when the figure is complete and laid out (after ``tight_layout``): the
    positions are those the locators give for the final view limits and axes size. Axes sharing
    an axis share its ticker, which is fixed once. Returns counts of what was fixed. ``undo``:
    a list to restore the figure from with :func:`thaw`."""
    done: set[int] = set()
    n_axis = n_title = 0
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for axis in (ax.xaxis, ax.yaxis):
            if id(axis.major) not in done and freeze_axis(axis, undo):
                done.add(id(axis.major))
                n_axis += 1
        if getattr(ax, "_autotitlepos", None) and _title_stays_at_top(ax):
            ax._autotitlepos = False  # matplotlib's flag for a title placed by hand
            if undo is not None:
                undo.append(("title", ax))
            n_title += 1
    return {"axes": len(fig.axes), "axis_fixed": n_axis, "titles_fixed": n_title}


def thaw(undo: list) -> None:
    """Undo :func:`freeze` (most recent first): the axes get their locators and formatters back
    and their titles are placed automatically again."""
    while undo:
        item = undo.pop()
        if item[0] == "title":
            item[1]._autotitlepos = True
            continue
        _, axis, locator, formatter, default_loc, default_fmt = item
        axis.set_major_locator(locator)
        axis.set_major_formatter(formatter)
        axis.isDefault_majloc, axis.isDefault_majfmt = default_loc, default_fmt


def tight_layout(fig, **kwargs) -> None:
    """``fig.tight_layout(**kwargs)`` with each axis' ticks computed once for its measurement
    (fixed while the layout measures the figure, then given back to the locators, which place
    them for the new axes sizes), then :func:`freeze`: call it when the figure is complete."""
    undo: list = []
    freeze(fig, undo)
    try:
        fig.tight_layout(**kwargs)
    finally:
        thaw(undo)
    freeze(fig)


def hline(ax, y: float, **kwargs):
    """``ax.axhline(y, **kwargs)`` (a line across the axes at data height ``y``) without
    reading the y limits: ``axhline`` reads them to decide whether ``y`` widens the view, which
    autoscales the axes and every axes sharing its y axis, once per call. Here the axes is
    asked to autoscale its y axis when next drawn (as ``axhline`` does when ``y`` is outside
    the limits; inside them autoscaling gives the same limits). Returns the line."""
    from matplotlib.lines import Line2D

    line = Line2D([0, 1], [y, y], transform=ax.get_yaxis_transform(which="grid"), **kwargs)
    ax.add_line(line)
    if ax.get_autoscaley_on():
        ax.autoscale(enable=True, axis="y")
    return line


#: Font settings a text's size depends on besides its FontProperties (a family name such as
#: "sans-serif" is resolved through ``font.<family>`` when the font is looked up; hinting
#: changes the glyph advances). Part of every key of the shared metrics cache.
_METRIC_RC = ("text.hinting", "text.hinting_factor", "text.kerning_factor", "font.family",
              "font.sans-serif", "font.serif", "font.monospace", "font.cursive", "font.fantasy")
#: The shared metrics cache: its state (``original``: matplotlib's function, ``cache``: the
#: measured sizes, ``measured``: how many texts the renderer measured since it was installed).
_SHARED: dict = {}
#: Entries kept before the cache starts afresh (matplotlib's own cache keeps 4,096 a renderer).
_SHARED_MAX = 50_000


def share_text_metrics(enable: bool = True) -> None:
    """Measure each text once per process instead of once per renderer (idempotent).

    matplotlib caches the size of a text (width, height, descent) per renderer instance, and
    every figure gets new renderers: the layout pass of :func:`plots.style.save`, its
    ``savefig`` (the cropped figure has another size, hence another renderer) and each new
    figure measure every text again, although an Agg renderer's measurement depends only on the
    text, its font properties, the dpi and the font settings (``RendererAgg.
    get_text_width_height_descent``: the font is looked up from the properties and sized at
    the renderer's dpi; the canvas size plays no part). With ``enable`` the measurement of
    plain texts on Agg renderers is cached under (renderer dpi, dpi, text, font properties,
    :data:`_METRIC_RC` settings), so a text measured once is never measured again in the
    process; mathtext, TeX and other renderers (SVG, PDF) go to matplotlib's own cache. The
    sizes are the renderer's own, so the figures are drawn exactly as before (pixel-identical;
    tests/test_plot_layout.py). ``enable=False`` restores matplotlib's function."""
    import matplotlib as mpl
    import matplotlib.text as mtext

    if not enable:
        if "original" in _SHARED:
            mtext._get_text_metrics_with_cache = _SHARED.pop("original")
            _SHARED.pop("cache", None)
        return
    if "original" in _SHARED or not callable(getattr(mtext, "_get_text_metrics_with_cache", None)):
        return  # installed already, or a matplotlib without this cache: its own caching stays
    from matplotlib.backends.backend_agg import RendererAgg

    original = mtext._get_text_metrics_with_cache
    cache: dict = {}
    rc = mpl.rcParams
    get = dict.__getitem__  # the stored value, without RcParams' per-read checks
    lists = [k for k in _METRIC_RC if isinstance(get(rc, k), list)]  # font families: lists
    scalars = [k for k in _METRIC_RC if k not in lists]

    def shared_metrics(renderer, text, fontprop, ismath, dpi):
        if ismath is not False or type(renderer) is not RendererAgg:
            return original(renderer, text, fontprop, ismath, dpi)
        prop = fontprop.copy()  # FontProperties is mutable: the key keeps its state now
        key = (renderer.dpi, dpi, text, prop, *[get(rc, k) for k in scalars],
               *[tuple(get(rc, k)) for k in lists])
        hit = cache.get(key)
        if hit is None:
            if len(cache) >= _SHARED_MAX:
                cache.clear()
            hit = cache[key] = renderer.get_text_width_height_descent(text, prop, ismath)
            _SHARED["measured"] = _SHARED.get("measured", 0) + 1
        return hit

    _SHARED.update(original=original, cache=cache, measured=0)
    mtext._get_text_metrics_with_cache = shared_metrics


def _first_over(over, n: int) -> int:
    """The smallest ``i`` in ``2..n`` with ``over(i)`` true, ``n + 1`` when there is none, for a
    predicate that stays true once true (``i`` = number of leading words of a line): doubling
    ``i`` from 2 until it holds (or ``n`` is reached), then bisecting."""
    lo, hi, i = 1, n + 1, 2  # over(lo) false (1: never asked, one word is never measured)
    while True:
        if over(i):
            hi = i
            break
        lo = i
        if i == n:
            return n + 1
        i = min(2 * i, n)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if over(mid):
            hi = mid
        else:
            lo = mid
    return hi


def wrapped_text(text) -> str:
    """``text._get_wrapped_text()``, matplotlib's wrapping of a text with ``wrap=True`` at the
    figure's edge, from fewer width measurements; the same string.

    matplotlib builds each line word by word and measures every prefix (a caption of 150 words
    is 150 measurements of strings up to a line long, every time the figure is laid out at
    another width, as the cropped PNG is), breaking before the first prefix wider than the
    line. The width of ``i`` words never decreases with ``i`` (the renderer's width of a
    string is that of the union of its glyphs' boxes, and appending a space and a word adds
    glyphs without moving the earlier ones), so the first prefix that is too wide is found by
    doubling and bisecting: about 2 log2(words per line) measurements a line instead of one per
    word. Math text (a ``$``), TeX and texts without ``wrap`` go to matplotlib's own method."""
    from matplotlib.text import Text

    s = text.get_text()
    if not text.get_wrap() or text.get_usetex() or "$" in s:
        return Text._get_wrapped_text(text)
    line_width = text._get_wrap_line_width()
    width = text._get_rendered_text_width  # the renderer's width (pixels, rounded up)
    lines: list[str] = []
    for unwrapped in s.split("\n"):  # newlines in the text force a break
        words = unwrapped.split(" ")
        while words:
            if len(words) == 1:
                lines.append(words.pop())
                continue
            i = _first_over(lambda k, w=words: width(" ".join(w[:k])) > line_width, len(words))
            if i > len(words):  # everything left fits on this line
                lines.append(" ".join(words))
                words = []
            else:  # break before word i (the first word stays on its line even when too wide)
                lines.append(" ".join(words[:i - 1]))
                words = words[i - 1:]
    return "\n".join(lines)


def fast_wrap(text):
    """Make ``text`` (a matplotlib Text with ``wrap=True``) wrap with :func:`wrapped_text`,
    which gives matplotlib's lines from fewer measurements; returns ``text``. Set on the
    instance (every layout and draw of this text calls it), nothing else changes."""
    import functools

    text._get_wrapped_text = functools.partial(wrapped_text, text)
    return text
