"""Tests for impacts (dlddrivers.methods.impacts)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dlddrivers.methods import impacts as im

DICT = pd.DataFrame({
    "indicator": ["mort_sfu", "spei3_jja", "t2m_djf", "sheep_units_per_km2"],
    "role": ["impact", "driver", "driver", "driver"],
    "domain": ["impact", "climate", "climate", "grazing"],
    "measure": ["% of herd", "SPEI", "degC", "SFU per km2"],
})
STUDY = {"name": "dzud", "impacts": ["mort_sfu"], "drivers": ["spei3_jja", "t2m_djf", "sheep_units_per_km2"],
         "seed": 9}


def make(n_units=21, n_years=30, seed=0, b_spei=-2.0, b_t=-0.5, b_g=0.1, b_int=0.0):
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n_units):
        yrs = np.arange(1992, 1992 + n_years)
        spei = rng.normal(0, 1, n_years)
        tdjf = rng.normal(-20, 2, n_years)
        graz = 20 + np.cumsum(rng.normal(0, 1, n_years))
        spei_l = np.r_[np.nan, spei[:-1]]
        graz_l = np.r_[np.nan, graz[:-1]]
        mort = (5 + i * 0.2 + b_spei * spei_l + b_t * (tdjf + 20) + b_g * graz_l
                + b_int * spei_l * (graz_l - 20) + rng.normal(0, 1, n_years))
        frames.append(pd.DataFrame({"unit": f"MN{i:02d}", "year": yrs, "mort_sfu": mort, "spei3_jja": spei,
                                    "t2m_djf": tdjf, "sheep_units_per_km2": graz}))
    df = pd.concat(frames, ignore_index=True)
    bad = df["year"] == 2010
    df.loc[bad & (df["unit"] < "MN10"), "mort_sfu"] += 15  # a dzud year
    return df


def test_recovers_lagged_drought_effect():
    df = make()
    out = im.compute(df, DICT, STUDY, {"bootstrap_draws": 199, "interaction": False})
    e = out["effects"].set_index("driver")
    assert "spei3_jja_lag1" in e.index and e.loc["spei3_jja_lag1", "lag"] == 1
    assert e.loc["spei3_jja_lag1", "coef"] == pytest.approx(-2.0, abs=0.25)
    assert e.loc["spei3_jja_lag1", "p_wild"] < 0.01
    assert e.loc["spei3_jja_lag1", "ci_low"] < -2.0 < e.loc["spei3_jja_lag1", "ci_high"]
    assert e.loc["t2m_djf", "lag"] == 0 and e.loc["sheep_units_per_km2_lag1", "lag"] == 1
    assert (e["n_dropped"] >= 21).all()  # first year of each unit lost to the lags, reported
    assert (e["estimand"] == "association").all()


def test_contemporaneous_drought_would_miss_it():
    """Fails if lags were ignored: same-year SPEI carries no planted effect."""
    df = make(seed=2)
    e = im.compute(df, DICT, STUDY, {"bootstrap_draws": 99, "interaction": False,
                                     "lags": {"sheep_units_per_km2": 1}})["effects"].set_index("driver")
    assert abs(e.loc["spei3_jja", "coef"]) < 0.5


def test_interaction_and_loss_years():
    df = make(seed=4, b_int=-0.3)
    out = im.compute(df, DICT, STUDY, {"bootstrap_draws": 99})
    e = out["effects"].set_index("driver")
    inter = "spei3_jja_lag1_x_sheep_units_per_km2_lag1"
    assert e.loc[inter, "term"].startswith("interaction")
    assert e.loc[inter, "coef"] == pytest.approx(-0.3, abs=0.1)
    ly = out["loss_years"]
    assert ly.iloc[0]["year"] == 2010 and ly.iloc[0]["rank"] == 1 and len(ly) == 5
    assert ly.iloc[0]["n_units_above_p90"] >= 8
    assert ly.iloc[0]["ci_low"] <= ly.iloc[0]["mean_loss"] <= ly.iloc[0]["ci_high"]
    assert (ly["estimand"] == "descriptive").all()


def test_plot_writes_png(tmp_path):
    from dlddrivers.plots import impacts as plot_mod

    df = make(n_units=6, n_years=15)
    tables = im.compute(df, DICT, STUDY, {"bootstrap_draws": 29})
    paths = plot_mod.plot(tables, df, DICT, STUDY, tmp_path)
    assert paths and all(p.exists() for p in paths)


def test_catalogue_lagged_driver_is_not_lagged_twice():
    """A driver defined as lag(x, 1) in the catalogue enters at lag 0 (no double lag)."""
    import pandas as pd

    from dlddrivers.methods.impacts import default_lags

    d = pd.DataFrame({
        "indicator": ["sheep_units_per_km2_prev", "sheep_units_per_km2", "t2m_djf", "spei3_jja_prev"],
        "domain": ["grazing", "grazing", "climate", "climate"],
        "role": ["driver"] * 4,
        "formula": ["lag(sheep_units_per_km2, 1)", "sheep_units_aimag / area_km2", "", "lag(spei3_jja, 1)"],
    })
    panel = pd.DataFrame(columns=["unit", "year", *d["indicator"]])
    lags = default_lags(d, list(d["indicator"]), panel)
    assert lags == {"sheep_units_per_km2_prev": 0, "sheep_units_per_km2": 1, "t2m_djf": 0, "spei3_jja_prev": 0}


def test_interaction_found_for_catalogue_lagged_drought():
    """The dzud study names the drought driver ``spei3_jja_prev`` (catalogue ``lag(spei3_jja, 1)``):
    the drought x grazing interaction must still be estimated, not silently dropped."""
    df = make(seed=4, b_int=-0.3)
    df = df.sort_values(["unit", "year"])
    df["spei3_jja_prev"] = df.groupby("unit")["spei3_jja"].shift(1)
    df["sheep_units_per_km2_prev"] = df.groupby("unit")["sheep_units_per_km2"].shift(1)
    d = pd.DataFrame({
        "indicator": ["mort_sfu", "spei3_jja_prev", "t2m_djf", "sheep_units_per_km2_prev"],
        "role": ["impact", "driver", "driver", "driver"],
        "domain": ["impact", "climate", "climate", "grazing"],
        "measure": ["% of herd", "SPEI", "degC", "SFU per km2"],
        "formula": ["", "lag(spei3_jja, 1)", "", "lag(sheep_units_per_km2, 1)"],
    })
    study = {**STUDY, "drivers": ["spei3_jja_prev", "t2m_djf", "sheep_units_per_km2_prev"]}
    e = im.compute(df, d, study, {"bootstrap_draws": 99})["effects"].set_index("driver")
    inter = "spei3_jja_prev_x_sheep_units_per_km2_prev"
    assert inter in e.index
    assert e.loc[inter, "term"].startswith("interaction")
    assert e.loc[inter, "coef"] == pytest.approx(-0.3, abs=0.1)


def test_heads_lost_sums_units_in_millions_and_counts_missing(tmp_path):
    """Hand sums: 1992 all three units report (1,500 + 2,500 + 6,000 thousand = 10 million);
    1993 one unit is missing (the total of the other two, flagged as a lower bound)."""
    df = pd.DataFrame({"unit": ["A", "B", "C"] * 2, "year": [1992] * 3 + [1993] * 3,
                       "heads_lost_kh": [1500.0, 2500.0, 6000.0, 100.0, np.nan, 300.0]})
    hl = im.heads_lost(df, "heads_lost_kh").set_index("year")
    assert hl.loc[1992, "heads_lost_million"] == pytest.approx(10.0)
    assert hl.loc[1992, "status"] == "ok" and hl.loc[1992, "n_units_reporting"] == 3
    assert hl.loc[1993, "heads_lost_million"] == pytest.approx(0.4)
    assert hl.loc[1993, "units_missing"] == "B" and hl.loc[1993, "status"].startswith("partial")
    # through the stage and its figures
    from dlddrivers.plots import impacts as plot_mod

    panel = make(n_units=6, n_years=15)
    panel["heads_lost_kh"] = 1000.0
    tables = im.compute(panel, DICT, STUDY, {"bootstrap_draws": 29})
    assert tables["heads_lost"]["heads_lost_million"].tolist() == pytest.approx([6.0] * 15)
    names = {p.name for p in plot_mod.plot(tables, panel, DICT, STUDY, tmp_path)}
    assert {"heads_lost.png", "impacts_mort_sfu.png", "impact_vs_climate_mort_sfu.png"} <= names


def test_carried_lag_keeps_first_year():
    """A lag carried by the panel (catalogue formula lag(spei3_jja, 1)) is used instead of
    lagging inside the panel, so the first year is not lost (issue 13)."""
    df = make(seed=4)
    df["mort_sfu"] = df["mort_sfu"].fillna(5.0)  # the simulated first year has no lagged forcing
    prev = df.groupby("unit")["spei3_jja"].shift(1)
    # the carried column knows the year before the panel starts (read from the raw series)
    df["spei3_jja_prev"] = prev.fillna(0.0)
    dic = pd.concat([DICT, pd.DataFrame({"indicator": ["spei3_jja_prev"], "role": ["carried"],
                                         "domain": ["climate"], "measure": ["SPEI"],
                                         "formula": ["lag(spei3_jja, 1)"]})], ignore_index=True)
    dic["formula"] = dic["formula"].fillna("")
    out = im.compute(df, dic, STUDY, {"bootstrap_draws": 49, "interaction": False})
    e = out["effects"].set_index("driver")
    assert "spei3_jja_prev" in e.index and "spei3_jja_lag1" not in e.index
    assert e.loc["spei3_jja_prev", "lag"] == 1
    # grazing still lagged inside the panel (no carried column): one year lost per unit, not two
    old = im.compute(df, DICT, STUDY, {"bootstrap_draws": 49, "interaction": False})["effects"]
    assert e["n_obs"].iloc[0] == old["n_obs"].iloc[0]  # same: grazing lag still costs year 1
    df["sheep_units_per_km2_prev"] = df.groupby("unit")["sheep_units_per_km2"].shift(1).fillna(20.0)
    dic2 = pd.concat([dic, pd.DataFrame({"indicator": ["sheep_units_per_km2_prev"], "role": ["carried"],
                                         "domain": ["grazing"], "measure": ["SFU"],
                                         "formula": ["lag(sheep_units_per_km2, 1)"]})], ignore_index=True)
    e2 = im.compute(df, dic2, STUDY, {"bootstrap_draws": 49, "interaction": False})["effects"]
    assert e2["n_obs"].iloc[0] == old["n_obs"].iloc[0] + 21  # first year of each of 21 units kept
