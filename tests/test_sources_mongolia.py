"""Mongolian sub-national readers, checked on the real raw snapshot.

Hand values are read from the raw files (file and line quoted next to each). Bad-input tests
write small files into ``tmp_path``. The module is skipped when the snapshot is absent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dlddrivers.errors import ConfigError, RawFileError, UnknownUnitError
from dlddrivers.sources import (
    DropLog,
    biomass_plots,
    boundaries_mng,
    csv_user,
    era5_aimag,
    mining_licences,
    mortality_aimag,
    nso_livestock,
    spei3_aimag,
)
from dlddrivers.units import UnitRegistry

REPO = Path(__file__).resolve().parents[1]


def _snapshot() -> Path:
    env = os.environ.get("DLD_SNAPSHOT")
    return Path(env) if env else REPO.parent / "shared" / "data" / "raw"


pytestmark = pytest.mark.skipif(
    not (_snapshot() / "mongolia_nso").is_dir(), reason="raw data snapshot not available"
)


@pytest.fixture(scope="module")
def snapshot_dir() -> Path:
    return _snapshot()


@pytest.fixture(scope="module")
def registry() -> UnitRegistry:
    return UnitRegistry.from_yaml(REPO / "config" / "units.yaml")


@pytest.fixture(scope="module")
def files(snapshot_dir: Path) -> dict[str, dict[str, Path]]:
    """File keys per source, as in config/sources.yaml."""
    s = snapshot_dir
    return {
        "nso_livestock": {"aimag_species": s / "mongolia_nso/livestock_population_aimag_species.csv"},
        "spei3_aimag": {"jja": s / "spei3_mongolia_aimag/spei3_jja_aimag_1950_2024.csv"},
        "era5_aimag": {"seasonal": s / "era5_temperature_mongolia_aimag/era5_seasonal_temperature_aimag.csv"},
        "mortality_aimag": {"rates": s / "mongolia_livestock_mortality_aimag/mortality_rates_aimag.csv"},
        "biomass_plots": {"plots": s / "mongolia_rangeland_biomass_plots/bm20012020.csv"},
        "mining_licences": {f"eiti{i}": s / f"mongolia_mining_licences/eitimongolia-{i}.json"
                            for i in range(1, 5)},
        "boundaries_mng": {"adm1": s / "ocha_cod_ab/mng_admbnda_adm1_nso_v3.geojson"},
    }


def _value(df: pd.DataFrame, unit: str, year: int | None, indicator: str) -> float:
    sel = (df["unit"] == unit) & (df["indicator"] == indicator)
    sel &= df["year"].isna() if year is None else (df["year"] == year)
    assert sel.sum() == 1, (unit, year, indicator, int(sel.sum()))
    return float(df.loc[sel, "value"].iloc[0])


def test_file_keys_match_sources_yaml(files):
    import yaml

    cfg = yaml.safe_load((REPO / "config" / "sources.yaml").read_text(encoding="utf-8"))["sources"]
    for source, keys in files.items():
        assert set(cfg[source]["files"]) == set(keys), source
        assert cfg[source]["reader"] == source


# ----------------------------------------------------------------------------- livestock
@pytest.fixture(scope="module")
def livestock(files, registry):
    log = DropLog()
    return nso_livestock.read(files["nso_livestock"], registry, log), log


def test_livestock_hand_values_and_exclusions(livestock):
    df, log = livestock
    # livestock_population_aimag_species.csv line 3: Arkhangai,1970,Cattle,233.9
    assert _value(df, "MN65", 1970, "cattle") == pytest.approx(233.9)
    # line 2382: Dundgovi,2009,Goat,1036.9
    assert _value(df, "MN48", 2009, "goat") == pytest.approx(1036.9)
    assert set(df["indicator"]) == set(nso_livestock.INDICATORS)
    assert df["unit"].nunique() == 22  # 21 aimags + Ulaanbaatar (MN11)
    assert (df["measure"] == "thousand head").all()
    assert not df["unit"].str.contains("region").any()
    lf = log.frame()
    # 6 regions x 55 years x 5 species
    assert lf.loc[lf["reason"].str.startswith("regional aggregate"), "rows"].sum() == 1650
    anomalies = lf.loc[lf["reason"] == "known source anomaly kept"]
    assert anomalies["rows"].sum() == 16  # 3 aimags x 5 species in 1979 + Khuvsgul 1980 cattle
    # the anomaly is kept as published: Khuvsgul 1980 Cattle 339.2 (line 3,... of the file)
    assert _value(df, "MN67", 1980, "cattle") == pytest.approx(339.2)
    # 7,532 data rows = 5,882 passed on + 1,650 regional
    assert len(df) + 1650 == 7532


def test_livestock_member_sums_equal_regional_totals(livestock, files, registry):
    df, _ = livestock
    regions = nso_livestock.regional_totals(files["nso_livestock"], registry)
    assert set(regions["region"]) == set(nso_livestock.REGION_MEMBERS)
    assert len(regions) == 1650
    # Govi region,2009,Camel,132.9 (line 2929)
    assert regions.set_index(["region", "year", "species"]).loc[
        ("Govi region", 2009, "camel"), "value"] == pytest.approx(132.9)
    member_of = {registry.by_name(a, "aimag"): r
                 for r, members in nso_livestock.REGION_MEMBERS.items() for a in members}
    assert len(member_of) == 21 and "MN11" not in member_of
    sums = (df.assign(region=df["unit"].map(member_of)).dropna(subset=["region"])
            .groupby(["region", "year", "indicator"])["value"].sum())
    sums.index = sums.index.set_names(["region", "year", "species"])
    cmp = regions.set_index(["region", "year", "species"])["value"].to_frame("total").join(
        sums.rename("sum"), how="outer")
    assert cmp.notna().all().all(), cmp[cmp.isna().any(axis=1)]
    diff = (cmp["sum"] - cmp["total"]).abs()
    assert diff.max() <= 0.2 + 1e-9, cmp.loc[diff.idxmax()]


# ----------------------------------------------------------------------------- climate
def test_spei3(files, registry):
    log = DropLog()
    df = spei3_aimag.read(files["spei3_aimag"], registry, log)
    assert len(df) == 21 * 75 and df["unit"].nunique() == 21
    assert int(df["year"].min()) == 1950 and int(df["year"].max()) == 2024
    # spei3_jja_aimag_1950_2024.csv line 2: Arkhangai,1950,2.1128526280285707
    assert _value(df, "MN65", 1950, "spei3_jja") == 2.1128526280285707
    assert log.frame().empty


def test_era5_djf_2026_dropped_and_drop_after(files, registry):
    log = DropLog()
    df = era5_aimag.read(files["era5_aimag"], registry, log)
    assert not (df["year"] == 2026).any()
    assert set(df["indicator"]) == set(era5_aimag.INDICATORS)
    assert len(df) == 21 * 56 * 4
    lf = log.frame()
    assert lf.loc[lf["reason"] == "incomplete upstream season", "rows"].sum() == 21
    # era5_seasonal_temperature_aimag.csv line 2: Arkhangai,1970,DJF,-20.777617235536905
    # (DJF 1970 = Dec 1969 + Jan-Feb 1970, labelled by its January)
    assert _value(df, "MN65", 1970, "t2m_djf") == -20.777617235536905
    # last line but one: Zavkhan,2025,SON,-3.4399061758306733 (provisional, kept by default)
    assert _value(df, "MN81", 2025, "t2m_son") == -3.4399061758306733

    log2 = DropLog()
    df2 = era5_aimag.read(files["era5_aimag"], registry, log2, drop_after=2024)
    assert int(df2["year"].max()) == 2024
    lf2 = log2.frame()
    assert lf2.loc[lf2["reason"].str.contains("drop_after"), "rows"].sum() == 21 * 4
    with pytest.raises(ConfigError):
        era5_aimag.read(files["era5_aimag"], registry, DropLog(), drop_after="2024")


# ----------------------------------------------------------------------------- mortality
def test_mortality_recovers_national_losses_2010(files, registry, livestock):
    log = DropLog()
    rates = mortality_aimag.read(files["mortality_aimag"], registry, log)
    stock, _ = livestock
    assert set(rates["indicator"]) == set(mortality_aimag.INDICATORS)
    assert (rates["measure"] == "fraction of previous December stock").all()
    # mortality_rates_aimag.csv line 251: Dundgovi,2010,...,Mort_sheep 0.3877592934894229
    assert _value(rates, "MN48", 2010, "mort_sheep") == 0.3877592934894229
    # 17 empty Mort_cam cells are absent, and counted
    assert (rates["indicator"] == "mort_camel").sum() == 693 - 17
    lf = log.frame()
    assert lf.loc[lf["reason"].str.startswith("empty cell"), "rows"].sum() == 17
    assert not rates["unit"].eq("MN11").any()

    sp = rates.loc[rates["indicator"].isin(mortality_aimag.SPECIES_OF)].copy()
    sp["species"] = sp["indicator"].map(mortality_aimag.SPECIES_OF)
    prev = stock.assign(year=stock["year"] + 1).rename(columns={"indicator": "species",
                                                                 "value": "stock"})
    m = sp.merge(prev[["unit", "year", "species", "stock"]], on=["unit", "year", "species"],
                 how="left", validate="one_to_one")
    assert m["stock"].notna().all()
    deaths = (m["value"] * m["stock"]).groupby(m["year"]).sum() / 1000  # million head
    # livestock_losses_national_annual.csv line 20: 2010,...,Total 10.246500000000001
    assert deaths.loc[2010] == pytest.approx(10.2465, abs=0.001)
    # the whole national table (rounded to its 4 decimals), as a broader check
    nat = pd.read_csv(files["mortality_aimag"]["rates"].parent / "livestock_losses_national_annual.csv")
    assert np.allclose(deaths.loc[nat["Year"]].to_numpy(), nat["Total"].to_numpy(), atol=1e-3)


# ----------------------------------------------------------------------------- biomass
@pytest.fixture(scope="module")
def biomass(files, registry):
    log = DropLog()
    return biomass_plots.read(files["biomass_plots"], registry, log), log


def test_biomass_hand_median(biomass):
    df, _ = biomass
    # bm20012020.csv, the four plots with AimagName 'Orhon' (MN61), column 2018:
    #   Sharchuluut 4.4, Dulaanii enger 3.7, Hashaalaagui talbai/Hoid bulag 3.4, Tasgiin tolgoi 1.6
    assert _value(df, "MN61", 2018, "biomass_median") == pytest.approx(np.median([4.4, 3.7, 3.4, 1.6]))
    assert _value(df, "MN61", 2018, "biomass_mean") == pytest.approx(np.mean([4.4, 3.7, 3.4, 1.6]))
    assert _value(df, "MN61", 2018, "biomass_plots_n") == 4
    assert _value(df, "MN61", 2018, "biomass_outliers_n") == 0
    # 2007: only Hoid bulag has a value (3.4)
    assert _value(df, "MN61", 2007, "biomass_median") == pytest.approx(3.4)
    assert set(df["indicator"]) == set(biomass_plots.INDICATORS)


def test_biomass_screening_counted(biomass, files):
    df, log = biomass
    lf = log.frame()
    assert lf.loc[lf["reason"] == "plot row without aimag name", "rows"].sum() == 3
    nonnum = lf.loc[lf["reason"] == "non-numeric cell treated as missing"]
    assert nonnum["rows"].sum() == 1 and "'no'" in nonnum["detail"].iloc[0]
    out = lf.loc[lf["reason"] == "outlier excluded"]
    assert out["rows"].sum() == 5  # 96, 1592, 1966, 2822, 3958
    # Hentii (MN23) 2009 holds 1592, 1966 and 2822
    assert _value(df, "MN23", 2009, "biomass_outliers_n") == 3
    # Arkhangai 2012: the 96 is excluded; the median is that of the other numeric plots
    raw = pd.read_csv(files["biomass_plots"]["plots"], dtype=str, keep_default_na=False)
    v = pd.to_numeric(raw.loc[raw["AimagName"] == "Arhangai", "2012"], errors="coerce").dropna()
    assert (v == 96).sum() == 1
    kept = v[v <= biomass_plots.MAX_PLAUSIBLE]
    assert _value(df, "MN65", 2012, "biomass_median") == pytest.approx(kept.median())
    assert _value(df, "MN65", 2012, "biomass_plots_n") == len(kept)
    assert _value(df, "MN65", 2012, "biomass_outliers_n") == 1
    assert df.loc[df["indicator"] == "biomass_median", "value"].max() <= biomass_plots.MAX_PLAUSIBLE


# ----------------------------------------------------------------------------- mining
def test_mining_licence_table(files, registry):
    log = DropLog()
    tab = mining_licences.licence_table(files["mining_licences"], registry, log)
    assert len(tab) == 3439 and tab["licence"].is_unique
    lf = log.frame()
    assert lf.loc[lf["reason"].str.startswith("duplicate"), "rows"].sum() == 3447 - 3439
    # eitimongolia-1.json, first record: CODE 4613, AREA_M2 '49.2816' (hectares),
    # GIVEN_DATE 2018-12-28, EXPIRED_DATE 2048-12-28, LICENSE_NUMBER MV-00021252
    row = tab.set_index("licence").loc["MV-00021252"]
    assert row["unit"] == "MN46" and row["type"] == "mining"
    assert row["area_ha"] == pytest.approx(49.2816)
    assert row["given"] == pd.Timestamp("2018-12-28") and row["expired"] == pd.Timestamp("2048-12-28")
    assert set(tab["type"]) == {"mining", "exploration", "petroleum"}


def test_mining_active_2020_counted_differently(files, registry):
    log = DropLog()
    df = mining_licences.read(files["mining_licences"], registry, log)
    assert set(df["indicator"]) == set(mining_licences.INDICATORS)
    # no values after 2018, the year of the latest GIVEN_DATE (2018-12-28)
    assert set(df["year"]) == set(range(1992, 2019))
    assert df["measure"].str.contains("lower bound").all()
    # independent count: plain json, ISO date strings compared as text, Umnugovi = code 46
    seen: dict[str, dict] = {}
    for i in range(1, 5):
        with open(files["mining_licences"][f"eiti{i}"], encoding="utf-8") as fh:
            for rec in json.load(fh):
                c = rec["cordinate"]
                seen.setdefault(c["LICENSE_NUMBER"], c)
    assert len(seen) == 3439
    for code, unit in [("46", "MN46"), ("44", "MN44")]:
        active = [c for c in seen.values()
                  if c["CODE"].startswith(code) and c["LICENSE_NUMBER"][:2] in ("MV", "XV")
                  and c["GIVEN_DATE"] <= "2018-12-31" and c["EXPIRED_DATE"] > "2018-01-01"]
        assert _value(df, unit, 2018, "licences_active_n") == len(active)
        assert _value(df, unit, 2018, "licences_mining_n") == sum(
            c["LICENSE_NUMBER"].startswith("MV") for c in active)
        assert _value(df, unit, 2018, "licences_active_area_ha") == pytest.approx(
            sum(float(c["AREA_M2"]) for c in active))
    n = df.pivot_table(index=["unit", "year"], columns="indicator", values="value")
    assert (n["licences_active_n"] == n["licences_mining_n"] + n["licences_exploration_n"]).all()
    # petroleum blocks counted in the log, not in the default counts
    lf = log.frame()
    assert lf.loc[lf["reason"].str.startswith("petroleum"), "rows"].sum() == 27
    with_pet = mining_licences.read(files["mining_licences"], registry, DropLog(),
                                    include_petroleum=True, years=[2017])
    assert set(with_pet["year"]) == {2017}
    assert (with_pet.loc[with_pet["indicator"] == "licences_active_n", "value"].sum()
            > df.loc[(df["indicator"] == "licences_active_n") & (df["year"] == 2017), "value"].sum())


def test_mining_no_counts_after_latest_grant(files, registry):
    """No grant after 2018-12-28 is in the snapshot: 2019+ counts would fall by construction
    (Dornogovi MN44: 396 active in 2018, 181 in 2024), so those years are not emitted."""
    log = DropLog()
    df = mining_licences.read(files["mining_licences"], registry, log, years=list(range(2015, 2025)))
    assert df["year"].max() == 2018
    assert _value(df, "MN44", 2018, "licences_active_n") == 396
    lf = log.frame()
    late = lf.loc[lf["reason"].str.startswith("year after the snapshot's latest grant")]
    # 6 years (2019-2024) x 22 units of Mongolia (with Ulaanbaatar) x 4 indicators
    assert late["rows"].sum() == 6 * 22 * 4 and "2018-12-28" in late["detail"].iloc[0]
    # explicit override: no cut-off
    full = mining_licences.read(files["mining_licences"], registry, DropLog(), years=[2024],
                                last_year=None)
    assert _value(full, "MN44", 2024, "licences_active_n") == 181
    with pytest.raises(ConfigError):
        mining_licences.read(files["mining_licences"], registry, DropLog(), last_year="2018")


# ----------------------------------------------------------------------------- boundaries
OFFICIAL_KM2 = {
    "Arkhangai": 55313, "Bayan-Ulgii": 45705, "Bayankhongor": 115978, "Bulgan": 48733,
    "Darkhan-Uul": 3275, "Dornod": 123597, "Dornogovi": 109472, "Dundgovi": 74690,
    "Govi-Altai": 141448, "Govisumber": 5542, "Khentii": 80325, "Khovd": 76060,
    "Khuvsgul": 100629, "Orkhon": 844, "Umnugovi": 165380, "Uvurkhangai": 62895,
    "Selenge": 41153, "Sukhbaatar": 82287, "Tuv": 74042, "Uvs": 69585, "Zavkhan": 82456,
}


def test_ellipsoid_octant_area():
    # one eighth of the WGS84 surface, 510,065,621.7 km2 / 8
    ring = np.array([[0, 0], [90, 0], [90, 90], [0, 90], [0, 0]], dtype=float)
    assert boundaries_mng.ring_area_ellipsoid(ring) / 1e6 == pytest.approx(510_065_621.7 / 8, rel=1e-8)


def test_ellipsoid_quad_area_closed_form():
    # lon/lat quad 100-101 E, 41-52 N against the closed-form area of an ellipsoidal zone,
    # 2 pi b^2 [sin p / (2 (1 - e^2 sin^2 p)) + atanh(e sin p) / (2 e)] (a spherical formula
    # without the authalic transform is 0.25 % off here: 93,477.8 km2)
    a, f = 6378137.0, 1 / 298.257223563
    b, e = a * (1 - f), np.sqrt(f * (2 - f))

    def zone(lat: float) -> float:
        s = np.sin(np.radians(lat))
        return 2 * np.pi * b * b * (s / (2 * (1 - e * e * s * s)) + np.arctanh(e * s) / (2 * e))

    ring = np.array([[100, 41], [101, 41], [101, 52], [100, 52], [100, 41]], dtype=float)
    expected = (zone(52) - zone(41)) / 360
    assert boundaries_mng.ring_area_ellipsoid(ring) == pytest.approx(expected, rel=1e-9)
    # 1 x 1 degree at the equator: 12,308.46 km2 on WGS84
    eq = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]], dtype=float)
    assert boundaries_mng.ring_area_ellipsoid(eq) / 1e6 == pytest.approx(12308.46, abs=0.01)


def test_aimag_areas_within_2_percent(files, registry):
    log = DropLog()
    df = boundaries_mng.read(files["boundaries_mng"], registry, log)
    assert df["year"].isna().all() and (df["indicator"] == "area_km2").all()
    assert len(df) == 22
    for name, official in OFFICIAL_KM2.items():
        uid = registry.by_name(name, "aimag")
        got = _value(df, uid, None, "area_km2")
        assert got == pytest.approx(official, rel=0.02), (name, got, official)
    # whole country ~1,564,116 km2
    assert df["value"].sum() == pytest.approx(1_564_116, rel=0.005)
    geoms = boundaries_mng.read_geometries(files["boundaries_mng"]["adm1"])
    assert set(geoms) == set(df["unit"])
    tuv = geoms["MN41"]
    assert len(tuv[0]) == 3  # outer ring and two holes
    assert boundaries_mng.polygons_area(tuv) < boundaries_mng.ring_area_ellipsoid(tuv[0][0])


# ----------------------------------------------------------------------------- bad input
def test_unknown_aimag_spelling_raises(tmp_path, registry):
    f = tmp_path / "livestock.csv"
    f.write_text("Aimag,Year,Species,Thousand_head\nArkhangai,1970,Camel,3.1\n"
                 "Arkhangay,1970,Cattle,233.9\n", encoding="utf-8")
    with pytest.raises(UnknownUnitError) as exc:
        nso_livestock.read({"aimag_species": f}, registry, DropLog())
    assert "Arkhangay" in str(exc.value) and "livestock.csv" in str(exc.value)

    g = tmp_path / "plots.csv"
    g.write_text("AimagName,2007\nArhangai,1\nNarnii,2\n", encoding="utf-8")
    with pytest.raises(UnknownUnitError, match="Narnii"):
        biomass_plots.read({"plots": g}, registry, DropLog())


def test_missing_column_raises(tmp_path, registry):
    f = tmp_path / "rates.csv"
    f.write_text("Aimag,Year,Mort_hor,Mort_cat,Mort_sheep,Mort_goat,All_SFU,All\n"
                 "Arkhangai,1992,0.1,0.1,0.1,0.1,0.1,0.1\n", encoding="utf-8")
    with pytest.raises(RawFileError) as exc:
        mortality_aimag.read({"rates": f}, registry, DropLog())
    assert exc.value.field == "Mort_cam" and "rates.csv" in str(exc.value)

    g = tmp_path / "livestock.csv"
    g.write_text("Aimag,Year,Species,Head\nArkhangai,1970,Camel,3.1\n", encoding="utf-8")
    with pytest.raises(RawFileError, match="Thousand_head"):
        nso_livestock.read({"aimag_species": g}, registry, DropLog())


def test_unparsable_value_raises(tmp_path, registry):
    f = tmp_path / "spei.csv"
    f.write_text("Aimag,Year,JJA_Mean_SPEI3\nArkhangai,1950,abc\n", encoding="utf-8")
    with pytest.raises(RawFileError) as exc:
        spei3_aimag.read({"jja": f}, registry, DropLog())
    assert exc.value.field == "JJA_Mean_SPEI3" and "spei.csv" in str(exc.value)


def test_mining_unknown_code_and_bad_date(tmp_path, registry):
    def rec(num, code, given="2010-01-01", expired="2030-01-01", area="10"):
        return {"cordinate": {"LICENSE_NUMBER": num, "CODE": code, "GIVEN_DATE": given,
                              "EXPIRED_DATE": expired, "AREA_M2": area}, "array": 1}

    paths = {f"eiti{i}": tmp_path / f"e{i}.json" for i in range(1, 5)}
    for p in paths.values():
        p.write_text("[]", encoding="utf-8")
    paths["eiti1"].write_text(json.dumps([rec("MV-1", "4613"), rec("XV-2", "9901")]), encoding="utf-8")
    with pytest.raises(UnknownUnitError) as exc:
        mining_licences.read(paths, registry, DropLog())
    assert "99" in str(exc.value) and "e1.json" in str(exc.value)

    paths["eiti1"].write_text(json.dumps([rec("MV-1", "4613"), rec("XV-2", "4613", given="n/a"),
                                          rec("MV-1", "4613")]), encoding="utf-8")
    log = DropLog()
    df = mining_licences.read(paths, registry, log, years=[2010, 2031], last_year=None)
    lf = log.frame()
    assert lf.loc[lf["reason"].str.startswith("unparsable"), "rows"].sum() == 1
    assert lf.loc[lf["reason"].str.startswith("duplicate"), "rows"].sum() == 1
    assert _value(df, "MN46", 2010, "licences_active_n") == 1
    assert _value(df, "MN46", 2031, "licences_active_n") == 0
    assert _value(df, "MN46", 2010, "licences_active_area_ha") == 10


def test_csv_user(tmp_path, registry):
    f = tmp_path / "mine.csv"
    f.write_text("unit,year,value\nMN65,2000,1.5\nArxangai,2001,2\nKhovsgol,,3\nTuv,2002,\n",
                 encoding="utf-8")
    log = DropLog()
    df = csv_user.read({"data": f}, registry, log, indicator="my_x", measure="km2")
    assert df["unit"].tolist() == ["MN65", "MN65", "MN67"]
    assert df["year"].isna().tolist() == [False, False, True]
    assert log.frame()["rows"].sum() == 1
    c = tmp_path / "countries.csv"
    c.write_text("unit,year,value\nMNG,2000,1\nMongolia,2001,2\n", encoding="utf-8")
    dfc = csv_user.read({"data": c}, registry, DropLog(), indicator="y", measure="m", level="country")
    assert dfc["unit"].tolist() == ["MNG", "MNG"]

    bad = tmp_path / "bad.csv"
    bad.write_text("unit,year,value\nAtlantis,2000,1\n", encoding="utf-8")
    with pytest.raises(UnknownUnitError) as exc:
        csv_user.read({"data": bad}, registry, DropLog(), indicator="x", measure="m")
    assert "Atlantis" in str(exc.value) and "bad.csv" in str(exc.value)
    nocol = tmp_path / "nocol.csv"
    nocol.write_text("unit,year,val\nMN65,2000,1\n", encoding="utf-8")
    with pytest.raises(RawFileError) as exc2:
        csv_user.read({"data": nocol}, registry, DropLog(), indicator="x", measure="m")
    assert exc2.value.field == "value"
    with pytest.raises(ConfigError):
        csv_user.read({"data": f}, registry, DropLog(), measure="m")
