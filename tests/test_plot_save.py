"""Saving a figure lays it out once (issue 16): the caption, the overlap check and the crop all
come from one layout pass, and the file equals what matplotlib's own ``bbox_inches="tight"``
gives (same crop within a pixel or two of text hinting)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from dlddrivers.plots import style  # noqa: E402

CAPTION = ("Sources: a provider with a long name; another provider with an even longer name, "
           "and a caveat that wraps over more than one line at this figure width.")


def _figure(overlap: bool = False):
    style.apply_style()
    fig, axes = plt.subplots(2, 3, figsize=(7, 4), sharex=True)
    x = np.arange(30)
    for k, ax in enumerate(axes.flat):
        ax.plot(x, np.sin(x / (k + 2)))
        ax.set_title(f"panel {k}")
    axes[1, 0].set_xlabel("year")
    fig.legend(["series"], loc="lower center", ncol=1, bbox_to_anchor=(0.5, -0.08))
    if overlap:
        axes[0, 0].text(5, 0, "first label")
        axes[0, 0].text(5, 0, "second label")
    fig.tight_layout()
    return fig


@pytest.mark.parametrize("layout", ["tight", "constrained"])
def test_one_layout_pass_gives_the_tight_crop(tmp_path, layout):
    """The file equals, pixel for pixel, what matplotlib's savefig(bbox_inches="tight") writes
    for the same figure with its caption placed at the file's dpi."""
    def make():
        if layout == "tight":
            return _figure()
        style.apply_style()
        fig, axes = plt.subplots(1, 2, figsize=(6, 3), layout="constrained")
        for ax in axes:
            ax.plot(np.arange(10), np.arange(10) ** 2)
        fig.suptitle("constrained")
        return fig

    fig = make()
    fig.set_dpi(float(matplotlib.rcParams["savefig.dpi"]))
    ref = tmp_path / "ref.png"
    style.add_caption(fig, CAPTION)
    fig.savefig(ref, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    out = style.save(make(), tmp_path / "one", caption=CAPTION)
    a, b = np.asarray(Image.open(ref)), np.asarray(Image.open(out[0]))
    assert a.shape == b.shape, (a.shape, b.shape)
    assert np.array_equal(a, b)


def test_caption_lies_below_everything_and_is_in_the_file(tmp_path):
    fig = _figure()
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    bottom = fig.get_tightbbox(renderer).y0 * fig.dpi
    text = style.add_caption(fig, CAPTION, renderer)
    box = text.get_window_extent(renderer)
    assert box.y1 <= bottom  # its top under the lowest text or legend drawn before
    plt.close(fig)
    # saved with the caption the PNG is taller than without it (the crop includes the caption)
    h_with = Image.open(style.save(_figure(), tmp_path / "a", caption=CAPTION)[0]).size[1]
    h_without = Image.open(style.save(_figure(), tmp_path / "b")[0]).size[1]
    assert h_with > h_without + 20


def test_overlaps_are_still_found_with_the_shared_pass(tmp_path):
    style.OVERLAPS.clear()
    style.save(_figure(overlap=True), tmp_path / "clash", caption=CAPTION)
    assert ("first label", "second label") in style.OVERLAPS.get("clash.png", [])
    style.OVERLAPS.clear()
    style.save(_figure(), tmp_path / "clean", caption=CAPTION)
    assert style.OVERLAPS == {}


def test_write_png_gives_the_pixels_and_resolution_back(tmp_path):
    """write_png is lossless (RGBA, transparent pixels included) and stores the resolution as
    Pillow does; the file is a plain PNG: IHDR, pHYs, IDAT, IEND."""
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, size=(37, 53, 4), dtype=np.uint8)
    img[:10, :20] = [255, 255, 255, 255]  # flat areas as in plots
    img[20:, 30:, 3] = 0
    ours = style.write_png(tmp_path / "ours.png", img, 150.0)
    Image.fromarray(img, "RGBA").save(tmp_path / "pil.png", dpi=(150.0, 150.0))
    a, b = Image.open(ours), Image.open(tmp_path / "pil.png")
    assert a.mode == "RGBA" and np.array_equal(np.asarray(a), img)
    assert a.info["dpi"] == b.info["dpi"]
    data, kinds, i = ours.read_bytes(), [], 8
    while i < len(data):
        n = int.from_bytes(data[i:i + 4], "big")
        kinds.append(data[i + 4:i + 8])
        i += 12 + n
    assert kinds == [b"IHDR", b"pHYs", b"IDAT", b"IEND"]
    with pytest.raises(ValueError, match="expected \\(height, width, 4\\)"):
        style.write_png(tmp_path / "bad.png", img[..., :3], 150.0)


def test_saved_png_is_written_by_write_png_with_matplotlibs_pixels(tmp_path, monkeypatch):
    """save() encodes the figure's Agg buffer itself (write_png) and the pixels equal
    matplotlib's own PNG of the same crop."""
    calls = []
    real = style.write_png
    monkeypatch.setattr(style, "write_png", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    fig = _figure()
    fig.set_dpi(float(matplotlib.rcParams["savefig.dpi"]))
    ref = tmp_path / "ref.png"
    fig.savefig(ref, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    out = style.save(_figure(), tmp_path / "ours")
    assert calls == [out[0]]
    assert np.array_equal(np.asarray(Image.open(ref)), np.asarray(Image.open(out[0])))
    assert Image.open(ref).info["dpi"] == Image.open(out[0]).info["dpi"]


def _boxed_figure():
    """A legend in an axes over a text, an anchored text box over another text, a figure
    legend, a caption-free tight-layout figure at the file's dpi."""
    from matplotlib.offsetbox import AnchoredText

    style.apply_style()
    fig, (a, b) = plt.subplots(1, 2, figsize=(6, 3))
    x = np.arange(10.0)
    a.plot(x, x, label="rising series")
    a.plot(x, -x, label="falling series")
    a.legend(loc="upper left")
    a.text(0.03, 0.93, "text under the legend", transform=a.transAxes, va="top")
    b.plot(x, x ** 2)
    b.add_artist(AnchoredText("anchored note", loc="lower right"))
    b.text(0.97, 0.04, "text under the note", transform=b.transAxes, ha="right")
    fig.legend(["figure legend entry"], loc="lower center", bbox_to_anchor=(0.5, -0.1))
    fig.tight_layout()
    fig.set_dpi(float(matplotlib.rcParams["savefig.dpi"]))
    return fig


def test_boxes_placed_without_the_layout_draw_measure_as_drawn():
    """save() measures a figure without a layout engine after place_boxes and get_tightbbox,
    not after a full layout draw: the overlap check finds the same clashes (texts of legends
    and anchored boxes included) and the crop is the same; without place_boxes the legends'
    texts are not where they are drawn and the check differs."""
    ref = _boxed_figure()
    ref.draw_without_rendering()
    r = ref.canvas.get_renderer()
    ref_tight, ref_clash = ref.get_tightbbox(r), style.text_overlaps(ref, renderer=r)
    assert ("text under the legend", "rising series") in ref_clash
    assert ("anchored note", "text under the note") in ref_clash
    fig = _boxed_figure()
    r = fig.canvas.get_renderer()
    assert style.place_boxes(fig, r) == 3
    tight = fig.get_tightbbox(r)
    assert style.text_overlaps(fig, renderer=r) == ref_clash
    assert np.allclose(tight.bounds, ref_tight.bounds, rtol=0, atol=1e-9)
    bare = _boxed_figure()
    r = bare.canvas.get_renderer()
    bare.get_tightbbox(r)
    assert style.text_overlaps(bare, renderer=r) != ref_clash
    for f in (ref, fig, bare):
        plt.close(f)
