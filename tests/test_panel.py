"""Study panels on the real snapshot, checked against values read from the raw files directly."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from dlddrivers.config import load_config, study_config
from dlddrivers.panel import build_panel, interpolate_gaps
from dlddrivers.pipeline import panel_job, panel_slice, setup


@pytest.fixture(scope="module")
def cfg(snapshot):
    return load_config("config/config.yaml", overrides={"snapshot_dir": str(snapshot)})


@pytest.fixture(scope="module")
def built(cfg):
    reg, cat, src = setup(cfg)
    out = {}
    for name in cfg["run"]:
        if cfg["studies"][name]["level"] == "grid":  # cross-sectional: no panel (test_grid.py)
            continue
        out[name] = build_panel(study_config(cfg, name), cat, src, reg, cfg["snapshot_dir"])
    return out


def _val(res, unit, year, col):
    p = res.panel
    return float(p.loc[(p["unit"] == unit) & (p["year"] == year), col].iloc[0])


def _faostat(snapshot, area_code, item, year):
    with gzip.open(snapshot / "faostat_livestock_gcam/GCAMFAOSTAT_AnimalStock.csv.gz", "rt") as fh:
        rows = csv.DictReader(line for line in fh if not line.startswith("#"))
        for r in rows:
            if r["area_code"] == str(area_code) and r["item"] == item and r["element"] == "Stocks":
                return float(r[str(year)])
    raise KeyError(item)


def _wdi(snapshot, code, iso3, year):
    with open(snapshot / f"wdi/indicators/{code}/data.csv") as fh:
        for r in csv.DictReader(fh):
            if r["Country Code"] == iso3 and r["Year"] == str(year):
                return float(r["Value"])
    return float("nan")


def _lc(snapshot, name, geo, year):
    import glob

    (path,) = glob.glob(str(snapshot / f"faostat_land_cover_barren_ddf/*{name}*"))
    with open(path) as fh:
        for r in csv.reader(fh):
            if r[0] == str(geo) and r[1] == str(year):
                return float(r[2])
    raise KeyError(name)


def test_shape_units_years(built, cfg):
    for name, res in built.items():
        st = cfg["studies"][name]
        y0, y1 = st["years"]
        assert sorted(res.panel["unit"].unique()) == sorted(st["units"])
        assert res.panel["year"].min() == y0 and res.panel["year"].max() == y1
        assert len(res.panel) == len(st["units"]) * (y1 - y0 + 1)
        assert not res.panel.duplicated(["unit", "year"]).any()
    assert "MN11" not in set(built["mongolia_aimag"].panel["unit"])  # Ulaanbaatar left out by config


def test_mongolia_sheep_2015_equals_faostat(built, snapshot):
    # FAOSTAT file: area_code 141 (Mongolia), item Sheep, element Stocks, column 2015
    assert _val(built["neasia"], "MNG", 2015, "sheep") == _faostat(snapshot, 141, "Sheep", 2015) == 24943127


def test_bare_sparse_share_hand_computed(built, snapshot):
    # CCI-LC (1000 ha) barren + sparse for FAO code 141 in 2020, over WDI land area (km2)
    kha = _lc(snapshot, "barren", 141, 2020) + _lc(snapshot, "sparsely", 141, 2020)
    land = _wdi(snapshot, "ag.lnd.totl.k2", "MNG", 2020)
    assert _val(built["neasia"], "MNG", 2020, "bare_sparse_share") == pytest.approx(kha * 10 / land * 100, rel=1e-12)
    assert 60 < kha * 1000 / land < 70  # SOURCE.md: barren 42.9 % + sparse 22.5 % of land in 2020


def test_grazing_pressure_hand_computed(built, snapshot):
    y = 2010
    su = (7 * _faostat(snapshot, 141, "Horses", y) + 6 * _faostat(snapshot, 141, "Cattle", y)
          + 5 * _faostat(snapshot, 141, "Camels", y) + _faostat(snapshot, 141, "Sheep", y)
          + 0.9 * _faostat(snapshot, 141, "Goats", y))
    land = _wdi(snapshot, "ag.lnd.totl.k2", "MNG", y)
    pasture_share = (_wdi(snapshot, "ag.lnd.agri.zs", "MNG", y) - _wdi(snapshot, "ag.lnd.arbl.zs", "MNG", y)
                     - _wdi(snapshot, "ag.lnd.crop.zs", "MNG", y))
    expected = su / (pasture_share * land / 100)
    assert _val(built["neasia"], "MNG", y, "sheep_units_per_km2_pasture") == pytest.approx(expected, rel=1e-12)


def test_japan_has_no_camels_and_sheep_units_still_computed(built):
    res = built["neasia"]
    assert np.isnan(_val(res, "JPN", 2000, "camels"))
    assert _val(res, "JPN", 2000, "sheep_units") > 0
    notes = res.coverage.loc[res.coverage["indicator"] == "sheep_units", "note"].unique()
    assert any("zero_if_missing" in n for n in notes)  # the fill is reported


def test_precipitation_annual_sum_matches_raw_months(built, snapshot):
    with gzip.open(snapshot / "climate_country_monthly_gadm0_global/gadm0_cru_pre_un__monthly.csv.gz", "rt") as fh:
        total = sum(float(r["MNG"]) for r in csv.DictReader(fh) if r["Date"].startswith("X2000"))
    assert _val(built["neasia"], "MNG", 2000, "precip_annual") == pytest.approx(total, rel=1e-9)
    assert total == pytest.approx(220, abs=1)  # SOURCE.md sanity check


def test_aimag_grazing_pressure_and_lag(built, snapshot):
    res = built["mongolia_dzud"]
    heads = {}
    with open(snapshot / "mongolia_nso/livestock_population_aimag_species.csv") as fh:
        for r in csv.DictReader(fh):
            if r["Aimag"] == "Arkhangai" and r["Year"] == "2009":
                heads[r["Species"]] = float(r["Thousand_head"])
    sfu = 1000 * (7 * heads["Horse"] + 6 * heads["Cattle"] + 5 * heads["Camel"] + heads["Sheep"] + 0.9 * heads["Goat"])
    area = _val(res, "MN65", 2009, "area_km2")
    assert area == pytest.approx(55313, rel=0.02)  # official area of Arkhangai
    assert _val(res, "MN65", 2009, "sheep_units_per_km2") == pytest.approx(sfu / area, rel=1e-12)
    # grazing pressure of the previous December herd: 2010 row holds the 2009 value
    assert _val(res, "MN65", 2010, "sheep_units_per_km2_prev") == pytest.approx(sfu / area, rel=1e-12)
    # first study year uses the year before the study (read ahead), not a gap
    assert not np.isnan(_val(res, "MN65", 1992, "sheep_units_per_km2_prev"))


def test_mortality_from_raw(built, snapshot):
    with open(snapshot / "mongolia_livestock_mortality_aimag/mortality_rates_aimag.csv") as fh:
        row = next(r for r in csv.DictReader(fh) if r["Aimag"] == "Arkhangai" and r["Year"] == "1992")
    assert _val(built["mongolia_dzud"], "MN65", 1992, "mort_sfu") == float(row["All_SFU"])


def test_biomass_median_and_counts(built, snapshot):
    vals = []
    with open(snapshot / "mongolia_rangeland_biomass_plots/bm20012020.csv") as fh:
        for r in csv.DictReader(fh):
            if r["AimagName"] == "Arhangai" and r["2015"] not in ("", "no") and 0 <= float(r["2015"]) <= 50:
                vals.append(float(r["2015"]))
    res = built["mongolia_aimag"]
    assert _val(res, "MN65", 2015, "biomass_median") == pytest.approx(float(np.median(vals)))
    assert _val(res, "MN65", 2015, "biomass_plots_n") == len(vals)
    drops = res.drops
    assert (drops["reason"] == "outlier excluded").sum() >= 1  # exclusions are counted


def test_dictionary_and_drops_complete(built):
    res = built["neasia"]
    d = res.dictionary.set_index("indicator")
    assert set(d.index) == set(res.panel.columns) - {"unit", "year"}
    assert d.loc["bare_sparse_share", "formula"] == "barren_share + sparse_share"
    assert d.loc["sheep", "licence"] == "CC-BY-4.0"
    assert d.loc["precip_annual", "aggregation"].startswith("sum of months")
    assert (res.drops["reason"] == "aggregate excluded").any()


def test_coverage_flags_missing_rents_for_dprk(built):
    cov = built["neasia"].coverage
    sub = cov[(cov["unit"] == "PRK") & (cov["indicator"] == "mineral_rents")]
    assert (sub["status"] == "missing").all() and len(sub) == 29


def test_interpolation_only_within_max_gap():
    panel = pd.DataFrame({"unit": ["A"] * 8, "year": range(2000, 2008),
                          "x": [1.0, np.nan, 3.0, np.nan, np.nan, np.nan, 7.0, np.nan]})
    out, flags = interpolate_gaps(panel, ["x"], max_gap=2)
    assert out["x"].iloc[1] == 2.0 and flags["x"].iloc[1]
    assert out["x"].iloc[3:6].isna().all() and not flags["x"].iloc[3:6].any()  # gap of 3 > 2
    assert np.isnan(out["x"].iloc[7])  # trailing gaps are never filled
    assert flags["x"].sum() == 1


def test_interpolation_is_flagged_in_coverage(cfg):
    reg, cat, src = setup(cfg)
    st = study_config(cfg, "neasia")
    st["interpolate"] = {"max_gap": 3}
    res = build_panel(st, cat, src, reg, cfg["snapshot_dir"])
    cov = res.coverage
    # Mongolia's ores and metals exports has interior gaps (WDI); SDG 15.3.1 (2015, 2019) too
    interp = cov[cov["status"] == "interpolated"]
    assert len(interp) > 0
    assert set(interp["indicator"]) >= {"sdg_15_3_1"}


def test_provenance_records_checksums(cfg, tmp_path, snapshot):
    reg, cat, src = setup(cfg)
    slice_ = panel_slice(cfg, "mongolia_aimag", reg, cat, src)
    paths = panel_job(slice_, snapshot, tmp_path)
    prov = json.loads(paths["provenance"].read_text())
    assert prov["config_slice"] == slice_ and prov["config_slice"]["study"]["name"] == "mongolia_aimag"
    rec = next(r for r in prov["raw_files"] if r["source"] == "spei3_aimag")
    digest = hashlib.sha256((snapshot / "spei3_mongolia_aimag/spei3_jja_aimag_1950_2024.csv").read_bytes()).hexdigest()
    assert rec["sha256"] == digest and rec["url"].startswith("https://")
    assert prov["packages"]["pandas"] == pd.__version__ and len(prov["config_slice_sha256"]) == 64
    assert pd.read_parquet(paths["panel_parquet"]).equals(pd.read_parquet(paths["panel_parquet"]))


def test_drylands_builds_with_thirteen_countries(snapshot):
    cfg = load_config("config/config.yaml", "config/drylands.yaml", overrides={"snapshot_dir": str(snapshot)})
    reg, cat, src = setup(cfg)
    res = build_panel(study_config(cfg, "drylands"), cat, src, reg, cfg["snapshot_dir"])
    assert res.panel["unit"].nunique() == 13
    kaz = res.panel[res.panel["unit"] == "KAZ"]
    assert kaz["bare_sparse_share"].notna().all() and kaz["precip_annual"].notna().all()


def test_user_csv_indicator(cfg, tmp_path):
    """A user's own unit,year,value file enters through one catalogue entry."""
    import yaml

    f = tmp_path / "ndvi.csv"
    f.write_text("unit,year,value\nMongolia,2000,0.21\nMNG,2001,0.25\n")
    cat = yaml.safe_load(open("config/catalogue.yaml"))
    cat["indicators"]["ndvi_user"] = {"label": "NDVI", "domain": "outcome", "better": "higher", "level": "country",
                                      "measure": "NDVI", "source": "csv", "path": str(f)}
    cp = tmp_path / "catalogue.yaml"
    cp.write_text(yaml.safe_dump(cat))
    c2 = dict(cfg, catalogue=str(cp))
    c2 = load_config("config/config.yaml", overrides={"snapshot_dir": cfg["snapshot_dir"], "catalogue": str(cp),
                                                      "studies": {"neasia": {"carry": ["ndvi_user"], "graph": None}}})
    reg, catl, src = setup(c2)
    res = build_panel(study_config(c2, "neasia"), catl, src, reg, c2["snapshot_dir"])
    assert _val(res, "MNG", 2000, "ndvi_user") == 0.21 and _val(res, "MNG", 2001, "ndvi_user") == 0.25
    assert res.panel["ndvi_user"].notna().sum() == 2
