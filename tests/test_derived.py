"""The formula language of derived indicators."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dlddrivers.derived import evaluate, parse_formula


@pytest.mark.parametrize("text", [
    "__import__('os')", "a.b", "a if b else c", "'x'", "a < b", "open('f')", "a ** 2", "lag(a, -1)",
    "lag(a + b, 1)", "[a]", "a; b",
])
def test_rejects_everything_but_arithmetic(text):
    with pytest.raises(ValueError):
        parse_formula(text)


def test_names_and_arithmetic():
    f = parse_formula("(a + 2 * b) / c - -d")
    assert f.names == {"a", "b", "c", "d"}
    panel = pd.DataFrame({"unit": ["X"], "year": [2000], "a": [1.0], "b": [2.0], "c": [5.0], "d": [1.0]})
    vals, filled = evaluate(f, panel)
    assert vals.iloc[0] == pytest.approx((1 + 4) / 5 + 1) and filled == 0


def test_lag_per_unit_and_division_by_zero_is_gap():
    panel = pd.DataFrame({"unit": ["A", "A", "A", "B", "B"], "year": [2000, 2001, 2003, 2000, 2001],
                          "x": [1.0, 2.0, 4.0, 10.0, 20.0], "z": [1.0, 0.0, 1.0, 1.0, 1.0]})
    lagged, _ = evaluate("lag(x, 1)", panel)
    # 2003 has no 2002 value; B's first year has none either (never A's value)
    assert np.isnan(lagged.iloc[0]) and lagged.iloc[1] == 1.0 and np.isnan(lagged.iloc[2])
    assert np.isnan(lagged.iloc[3]) and lagged.iloc[4] == 10.0
    ratio, _ = evaluate("x / z", panel)
    assert np.isnan(ratio.iloc[1])


def test_zero_if_missing_counts_fills():
    panel = pd.DataFrame({"unit": ["A", "A"], "year": [2000, 2001], "c": [np.nan, 3.0], "s": [1.0, 1.0]})
    vals, filled = evaluate("5 * zero_if_missing(c) + s", panel)
    assert list(vals) == [1.0, 16.0] and filled == 1
