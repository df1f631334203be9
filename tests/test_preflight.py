"""Pre-flight of the attribution stages: a sparse driver is named and left out (issue 13)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dlddrivers.methods import _common as C
from dlddrivers.methods import attribution as AT
from dlddrivers.methods import panel_regression as PR
from dlddrivers.methods import relative_importance as RI


def _panel(seed=0):
    rng = np.random.default_rng(seed)
    units = [f"C{i}" for i in range(6)]
    years = np.arange(1992, 2021)
    df = pd.MultiIndex.from_product([units, years], names=["unit", "year"]).to_frame(index=False)
    n = len(df)
    df["rain"] = rng.normal(size=n)
    df["graze"] = rng.normal(size=n) + 0.05 * (df["year"] - 1992)
    df["urban"] = rng.normal(size=n)
    # irrigation share: like WDI ag.lnd.irig.ag.zs on neasia, a handful of values in 3 countries
    df["irrig"] = np.nan
    pick = df.index[df["unit"].isin(["C0", "C1", "C2"]) & df["year"].isin([2001, 2006, 2011, 2016])][:11]
    df.loc[pick, "irrig"] = rng.normal(size=len(pick))
    df["y"] = 0.8 * df["rain"] - 0.5 * df["graze"] + rng.normal(0, 0.5, n)
    dic = pd.DataFrame({"indicator": ["y", "rain", "graze", "urban", "irrig"],
                        "role": ["outcome"] + ["driver"] * 4,
                        "domain": ["outcome", "climate", "grazing", "population", "agriculture"],
                        "measure": ["%", "mm", "SFU", "%", "%"], "label": ["y", "r", "g", "u", "i"]})
    study = {"name": "syn", "outcomes": ["y"], "drivers": ["rain", "graze", "urban", "irrig"], "seed": 3}
    return df, dic, study


def test_preflight_counts_and_names_sparse_driver():
    df, _, _ = _panel()
    kept, table, note = C.preflight(df, "y", ["rain", "graze", "urban", "irrig"], min_units=3, min_obs=30)
    assert kept == ["rain", "graze", "urban"]
    t = table.set_index("driver")
    assert t.loc["irrig", "n_obs_with_driver"] == 11 and t.loc["irrig", "n_units_with_driver"] == 3
    assert t.loc["irrig", "n_obs_without_driver"] == 174 and not t.loc["irrig", "kept"]
    assert "with it 11 complete rows in 3 units remain, without it 174 rows in 6 units" in note
    assert t.loc["rain", "status"] == "ok" and t.loc["rain", "n_obs_all"] == 174


def test_stages_run_without_the_sparse_driver_and_say_so():
    df, dic, study = _panel()
    ri = RI.compute(df, dic, study, {"bootstrap_draws": 30, "placebo_draws": 0})
    sh = ri["shares"]
    assert "irrig" not in set(sh["predictor"])
    assert sh["status"].str.contains("driver irrig left out").all()
    assert (sh["n_obs"] == 174).all()
    assert "preflight" in ri and len(ri["preflight"]) == 4
    pr = PR.compute(df, dic, study, {"bootstrap_draws": 49})["coefficients"]
    assert "irrig" not in set(pr["driver"]) and pr["status"].str.contains("driver irrig left out").all()
    assert not pr["status"].str.contains("no within variation").any()
    at = AT.compute(df, dic, study, {"bootstrap_draws": 10, "placebo_draws": 0})["attribution"]
    pooled = at[at["unit"] == "pooled"]
    assert pooled["status"].str.contains("driver irrig left out").all()
    assert pooled["value"].notna().any()


def test_preflight_counts_equal_pandas_counts_on_a_panel_with_gaps():
    """Every count of the pre-flight table equals a direct pandas count (dropna, nunique) of the
    rows with the outcome and the named drivers: gaps in several drivers, a non-numeric value,
    an infinite value and a unit that only has missing rows."""
    df, _, _ = _panel(seed=4)
    rng = np.random.default_rng(9)
    df.loc[rng.choice(len(df), 25, replace=False), "graze"] = np.nan
    df.loc[rng.choice(len(df), 10, replace=False), "y"] = np.nan
    df["urban"] = df["urban"].astype(object)
    df.loc[3, "urban"] = "n/a"  # coerced to missing
    df.loc[5, "rain"] = np.inf
    df.loc[df["unit"] == "C5", ["y"]] = np.nan
    drivers = ["rain", "graze", "urban", "irrig"]
    kept, table, _ = C.preflight(df, "y", drivers, min_units=3, min_obs=30)

    def count(cols):
        v = df[list(cols)].apply(pd.to_numeric, errors="coerce").astype(float)
        ok = np.isfinite(v.to_numpy()).all(axis=1)
        return int(ok.sum()), int(df.loc[ok, "unit"].nunique())

    assert kept == ["rain", "graze", "urban"]
    for _, r in table.iterrows():
        others = [k for k in kept if k != r["driver"]]
        assert (r["n_obs_with_driver"], r["n_units_with_driver"]) == count(["y", r["driver"]])
        assert (r["n_obs_without_driver"], r["n_units_without_driver"]) == count(["y", *others])
        assert (r["n_obs_all"], r["n_units_all"]) == count(["y", *kept])
        assert r["n_obs_outcome"] == count(["y"])[0]
