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


# --------------------------------------------------------------------------- indicator reuse
def _old_demean_by(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The former demean_by (a new indicator in every call): the reference of the reuse."""
    x = np.asarray(x, float)
    two_d = x.ndim == 2
    xx = x if two_d else x[:, None]
    ng = int(g.max()) + 1 if len(g) else 0
    cnt = np.bincount(g, minlength=ng).astype(float)
    ind = np.zeros((len(g), ng))
    ind[np.arange(len(g)), g] = 1.0
    means = (ind.T @ xx) / cnt[:, None]
    out = xx - means[g]
    return out if two_d else out[:, 0]


def _old_within(x, unit, year=None, *, trend=None, tol=P.WITHIN_TOL, max_iter=P.WITHIN_MAX_ITER):
    """The former within (indicators rebuilt in every sweep)."""
    x = np.asarray(x, float)

    def by_unit(v):
        return _old_demean_by(v, unit) if trend is None else P.detrend_by_unit(v, unit, trend)

    if year is None:
        return by_unit(x)
    cur = by_unit(x)
    scale = max(float(np.abs(x).max()) if x.size else 0.0, 1.0)
    for _ in range(max_iter):
        nxt = by_unit(_old_demean_by(cur, year))
        if float(np.abs(nxt - cur).max()) <= tol * scale if cur.size else True:
            return nxt
        cur = nxt
    return cur


def _gappy_panel(seed: int, n_units: int, n_years: int, k: int):
    """Codes of an unbalanced panel (random gaps, units of very different lengths) and data."""
    rng = np.random.default_rng(seed)
    keep = rng.random((n_units, n_years)) < rng.uniform(0.3, 1.0, size=(n_units, 1))
    keep[:, 0] = True  # every unit has a row; every year has one (unit 0 complete)
    keep[0] = True
    unit, year = np.nonzero(keep)
    x = rng.normal(size=(len(unit), k)) * rng.uniform(0.01, 100.0, size=k) + rng.normal(size=k)
    return unit.astype(np.intp), year.astype(np.intp), x


@pytest.mark.parametrize("seed,n_units,n_years,k", [(1, 7, 12, 3), (2, 40, 9, 5), (3, 3, 30, 1),
                                                    (4, 100, 30, 6)])
def test_within_with_reused_indicators_is_bit_identical(seed, n_units, n_years, k):
    """The indicators built once per call (and cached across calls) give the same numbers, bit
    for bit, as rebuilding them in every sweep: unbalanced panels with gaps, one- and two-way,
    with unit trends, 1-d and 2-d, C- and F-ordered input, and a second call (cache hit)."""
    unit, year, x = _gappy_panel(seed, n_units, n_years, k)
    t = (2000 + year).astype(float)
    P._INDICATORS.clear()
    for xx in (x, np.asfortranarray(x), x[:, 0], x[::-1][::-1]):
        for _ in range(2):  # the second round reads the cached indicators
            for args, kw in (((unit,), {}), ((unit, year), {}), ((unit, year), {"trend": t}),
                             ((unit,), {"trend": t}), ((year, unit), {})):
                new, old = P.within(xx, *args, **kw), _old_within(xx, *args, **kw)
                assert new.shape == old.shape
                assert new.tobytes() == old.tobytes()
            assert P.demean_by(xx, year).tobytes() == _old_demean_by(xx, year).tobytes()
    assert P._INDICATORS  # the cache was used


def test_group_indicator_values_cache_and_read_only():
    """The indicator is the 0/1 matrix of the codes with the group sizes; equal codes (another
    array, same bytes) return the cached matrix; the cache keeps a bounded number; the arrays
    cannot be changed by a caller."""
    g = np.array([2, 0, 2, 1, 2], dtype=np.intp)
    ind, cnt = P.group_indicator(g)
    np.testing.assert_array_equal(ind, np.eye(3)[g])
    assert ind.flags.c_contiguous
    np.testing.assert_array_equal(cnt, [1.0, 1.0, 3.0])
    assert P.group_indicator(g.copy())[0] is ind
    assert P.group_indicator(g.astype(np.int32))[0] is not ind  # another dtype: another key
    with pytest.raises(ValueError):
        ind[0, 0] = 5.0
    for s in range(P.INDICATOR_CACHE_SIZE + 3):
        P.group_indicator(np.arange(s + 1, dtype=np.intp))
    assert len(P._INDICATORS) == P.INDICATOR_CACHE_SIZE
    assert P.group_indicator(g)[0] is not ind  # evicted, rebuilt: the same values
    np.testing.assert_array_equal(P.group_indicator(g)[0], ind)


def _former_complete_cases(panel, columns):
    """The former complete_cases (every column through pd.to_numeric): the reference."""
    cols = list(dict.fromkeys(["unit", "year", *columns]))
    sub = panel[cols].copy()
    vals = sub[list(columns)].apply(pd.to_numeric, errors="coerce").astype(float)
    ok = np.isfinite(vals.to_numpy()).all(axis=1) if len(columns) else np.ones(len(sub), bool)
    out = sub.loc[ok].copy()
    out[list(columns)] = vals.loc[ok]
    out["year"] = out["year"].astype(int)
    out["unit"] = out["unit"].astype(str)
    out = out.sort_values(["unit", "year"]).reset_index(drop=True)
    return out, int((~ok).sum())


@pytest.mark.parametrize("case", ["floats", "floats_with_gaps", "int_and_object", "repeated",
                                  "year_as_column", "no_columns"])
def test_complete_cases_float_path_equals_the_conversion_path(case):
    """Float columns skip pd.to_numeric: the frame (values, dtypes, order, index) and the drop
    count equal the former code's, and the driver matrices the methods take from it have the
    same values and memory layout; other dtypes, repeated names and no columns too."""
    rng = np.random.default_rng(8)
    n = 60
    df = pd.DataFrame({"unit": rng.choice(["b", "a", "c"], size=n), "year": rng.integers(1990, 2010, n),
                       "x": rng.normal(size=n), "z": rng.normal(size=n), "w": rng.normal(size=n)})
    cols = ["x", "z", "w"]
    if case == "floats_with_gaps":
        df.loc[::5, "z"] = np.nan
        df.loc[3, "w"] = np.inf
    if case == "int_and_object":
        df["z"] = rng.integers(0, 5, n)
        df["w"] = df["w"].astype(object)
        df.loc[4, "w"] = "n/a"
    if case == "repeated":
        cols = ["x", "z", "x"]
    if case == "year_as_column":
        cols = ["x", "year"]
    if case == "no_columns":
        cols = []
    if case == "repeated":  # the same error as before
        with pytest.raises(ValueError, match="Columns must be same length as key"):
            _former_complete_cases(df, cols)
        with pytest.raises(ValueError, match="Columns must be same length as key"):
            P.complete_cases(df, cols)
        return
    got, got_n = P.complete_cases(df, cols)
    ref, ref_n = _former_complete_cases(df, cols)
    pd.testing.assert_frame_equal(got, ref, check_exact=True)
    assert got_n == ref_n
    if case == "floats_with_gaps":
        assert got_n == 13
    names = list(dict.fromkeys(cols)) or ["year"]
    a, b = got[names].to_numpy(float), ref[names].to_numpy(float)
    assert a.tobytes() == b.tobytes()
    assert (a.flags.c_contiguous, a.flags.f_contiguous) == (b.flags.c_contiguous, b.flags.f_contiguous)
