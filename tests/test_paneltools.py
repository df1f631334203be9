"""Tests for the panel toolkit (dlddrivers.methods.paneltools)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dlddrivers.methods import paneltools as P


def _dummy_residual(x: np.ndarray, unit: np.ndarray, year: np.ndarray | None) -> np.ndarray:
    """Residual of ``x`` on unit (and year) dummies by least squares."""
    D = np.eye(unit.max() + 1)[unit]
    if year is not None:
        D = np.column_stack([D, np.eye(year.max() + 1)[year][:, 1:]])
    return x - D @ np.linalg.lstsq(D, x, rcond=None)[0]


def test_two_way_within_by_hand_balanced():
    """2 units x 2 years: x - unit mean - year mean + grand mean, computed by hand."""
    # unit A: 1, 3; unit B: 5, 11. Unit means 2, 8; year means 3, 7; grand mean 5.
    x = np.array([1.0, 3.0, 5.0, 11.0])
    u = np.array([0, 0, 1, 1])
    y = np.array([0, 1, 0, 1])
    expected = np.array([1 - 2 - 3 + 5, 3 - 2 - 7 + 5, 5 - 8 - 3 + 5, 11 - 8 - 7 + 5], float)
    np.testing.assert_allclose(P.within(x, u, y), expected, atol=1e-14)
    # one-way: unit means only
    np.testing.assert_allclose(P.within(x, u), [-1.0, 1.0, -3.0, 3.0], atol=1e-14)


def test_two_way_within_unbalanced_by_hand_and_dummy_regression():
    """Unbalanced 3 x 3 panel (unit C lacks year 3) against the dummy regression.

    Rows (unit, year, x): A1 0, A2 1, A3 5, B1 2, B2 4, B3 6, C1 1, C2 6. The residuals of x on
    unit and year dummies, from the normal equations solved in exact fractions, are
    A: 7/12, -13/12, 1/2; B: 7/12, -1/12, -1/2; C: -7/6, 7/6.
    """
    unit = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    year = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    x = np.array([0.0, 1.0, 5.0, 2.0, 4.0, 6.0, 1.0, 6.0])
    hand = np.array([7 / 12, -13 / 12, 1 / 2, 7 / 12, -1 / 12, -1 / 2, -7 / 6, 7 / 6])
    np.testing.assert_allclose(P.within(x, unit, year), hand, atol=1e-11)
    ref = _dummy_residual(x, unit, year)
    got = P.within(x, unit, year)
    np.testing.assert_allclose(got, ref, atol=1e-11)
    # residuals are orthogonal to every unit and every year dummy (the defining property)
    np.testing.assert_allclose(np.bincount(unit, weights=got), 0.0, atol=1e-11)
    np.testing.assert_allclose(np.bincount(year, weights=got), 0.0, atol=1e-11)
    # an unbalanced panel needs more than one sweep: one sweep is not the answer
    one_sweep = P.demean_by(P.demean_by(P.demean_by(x, unit), year), unit)
    assert np.abs(one_sweep - ref).max() > 1e-3


def test_within_strictly_converged_on_slow_unbalanced_panel():
    """A panel built to converge slowly (two unit blocks linked by a few rows) agrees with the
    dummy regression to 1e-10 relative to the data scale, columns of very different scale too."""
    rng = np.random.default_rng(5)
    rows = []
    for u in range(12):
        years = range(0, 10) if u < 6 else range(10, 20)
        rows += [(u, t) for t in years]
    rows += [(0, 10), (6, 9)]  # the only links between the two blocks of years
    unit = np.array([r[0] for r in rows])
    year = np.array([r[1] for r in rows])
    x = np.column_stack([rng.normal(size=len(rows)) * 1e3, rng.normal(size=len(rows)) * 1e-3])
    got = P.within(x, unit, year)
    for j in range(2):
        ref = _dummy_residual(x[:, j], unit, year)
        scale = max(np.abs(x[:, j]).max(), 1.0)
        assert np.abs(got[:, j] - ref).max() <= 1e-10 * scale


def test_within_frame_two_and_one_way():
    df = pd.DataFrame({"unit": ["b", "b", "a", "a", "a"], "year": [2001, 2002, 2000, 2001, 2002],
                       "v": [1.0, 2.0, 3.0, 5.0, 10.0]})
    one = P.within_frame(df, ["v"], two_way=False)
    np.testing.assert_allclose(one["v"], [-0.5, 0.5, -3.0, -1.0, 4.0])
    two = P.within_frame(df, ["v"])
    ref = _dummy_residual(df["v"].to_numpy(), P.codes(df["unit"]), P.codes(df["year"]))
    np.testing.assert_allclose(two["v"], ref, atol=1e-11)
    assert list(two.columns) == ["unit", "year", "v"] and list(two["unit"]) == list(df["unit"])


def test_complete_cases_counts_sorts_and_reports_drops():
    df = pd.DataFrame({"unit": ["b", "a", "a", "a", "b"], "year": [2000, 2001, 2000, 2002, 2001],
                       "x": [1.0, np.nan, 2.0, np.inf, 3.0], "y": ["4", "5", "6", "7", "x"],
                       "other": [0, 0, 0, 0, 0]})
    out, dropped = P.complete_cases(df, ["x", "y"])
    # NaN, inf and a non-number are dropped and counted; the rest sorted by unit and year
    assert dropped == 3
    assert list(out.columns) == ["unit", "year", "x", "y"]
    assert out[["unit", "year"]].values.tolist() == [["a", 2000], ["b", 2000]]
    assert out["y"].tolist() == [6.0, 4.0] and out["y"].dtype == float
    assert P.counts(out) == {"n_units": 2, "n_years": 1, "n_obs": 2}
    assert P.counts(out.iloc[:0]) == {"n_units": 0, "n_years": 0, "n_obs": 0}


def test_lags_match_by_calendar_year_not_row():
    p = pd.DataFrame({"unit": ["A", "A", "A", "B"], "year": [2000, 2001, 2003, 2001],
                      "x": [1.0, 2.0, 4.0, 9.0]})
    lag = P.lag_by_year(p, "x")
    assert np.isnan(lag.iloc[0]) and lag.iloc[1] == 1.0
    assert np.isnan(lag.iloc[2]) and np.isnan(lag.iloc[3])
    out, mapping = P.add_lags(p, {"x": 1, "missing": 2})
    assert mapping == {"x": "x_lag1"}
    np.testing.assert_array_equal(out["x_lag1"].to_numpy(), lag.to_numpy())
    assert P.add_lags(p, {"x": 0})[1] == {"x": "x"}


def test_first_difference_and_detrend_by_hand():
    df = pd.DataFrame({"unit": ["A"] * 4 + ["B"] * 3, "year": [1, 2, 3, 5, 1, 2, 3],
                       "v": [1.0, 4.0, 9.0, 25.0, 2.0, 4.0, 6.0]})
    d, lost = P.first_difference(df, ["v"])
    # A: 2-1 -> 3, 3-2 -> 5 (5 follows a gap: lost); B: 2, 2
    assert d.values.tolist() == [["A", 2, 3.0], ["A", 3, 5.0], ["B", 2, 2.0], ["B", 3, 2.0]]
    assert lost == 3
    det = P.detrend_within_unit(df, ["v"])
    # B is exactly linear: its trend removed leaves its mean 4 in every year
    np.testing.assert_allclose(det.loc[df["unit"] == "B", "v"], 4.0)
    np.testing.assert_allclose(det.loc[df["unit"] == "A", "v"].mean(), df.loc[df["unit"] == "A", "v"].mean())


def test_codes_sorted_labels():
    np.testing.assert_array_equal(P.codes(["c", "a", "b", "a"]), [2, 0, 1, 0])


@pytest.mark.parametrize("two_way", [True, False])
def test_within_empty_frame(two_way):
    df = pd.DataFrame({"unit": pd.Series([], dtype=str), "year": pd.Series([], dtype=int),
                       "v": pd.Series([], dtype=float)})
    assert P.within_frame(df, ["v"], two_way=two_way).empty
