"""The figure theme written out in plots/style.py equals seaborn's theme (no seaborn import in
figure jobs, same figures)."""

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dlddrivers.plots import style  # noqa: E402


def _rc_after(setter) -> dict:
    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        setter()
        return dict(plt.rcParams)


def test_theme_equals_seaborns_key_by_key():
    sns = pytest.importorskip("seaborn")

    def seaborn_theme():
        sns.set_theme(context="paper", style="whitegrid", palette=style.OKABE_ITO)

    def ours():
        style.apply_style()

    theirs, mine, default = _rc_after(seaborn_theme), _rc_after(ours), _rc_after(lambda: None)
    changed_by_seaborn = {k for k in theirs if theirs[k] != default[k]}
    # every key seaborn changes is in the written-out theme (or is the palette cycle)
    assert changed_by_seaborn == set(style.SEABORN_THEME) | {"axes.prop_cycle"}
    for key in changed_by_seaborn - {"image.cmap"}:
        expected = theirs[key]
        if key in style.FIGURE_RC:
            continue  # apply_style sets its own value after the theme (below)
        assert mine[key] == expected, key
    assert theirs["image.cmap"] == "rocket" and mine["image.cmap"] == style.SEQUENTIAL_CMAP
    # our own sizes win over the theme's
    assert mine["axes.titlesize"] == 10 and mine["xtick.labelsize"] == 8


def _render(setter) -> np.ndarray:
    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        setter()
        fig, axes = plt.subplots(1, 2, figsize=(5, 2.5))
        x = np.arange(10)
        for k in range(4):
            axes[0].plot(x, np.sin(x / (k + 1)), marker="o", label=f"series {k}")
        axes[0].legend(title="legend")
        axes[1].bar(["a", "b", "c"], [1, 3, 2])
        axes[1].set_title("bars")
        axes[1].set_xlabel("x label")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=80)
        plt.close(fig)
    buf.seek(0)
    return plt.imread(buf)


def test_figure_drawn_with_the_written_theme_equals_seaborns_pixel_for_pixel():
    sns = pytest.importorskip("seaborn")

    def with_seaborn():  # apply_style as it was before the theme was written out
        matplotlib.use("Agg")
        sns.set_theme(context="paper", style="whitegrid", palette=style.OKABE_ITO)
        plt.rcParams.update(style.FIGURE_RC)

    def without():
        style.apply_style()

    a, b = _render(with_seaborn), _render(without)
    assert a.shape == b.shape and np.array_equal(a, b)
    # and the theme matters (a plain matplotlib figure differs), so the comparison can fail
    c = _render(lambda: None)
    assert a.shape != c.shape or not np.array_equal(a, c)
