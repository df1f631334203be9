"""Country-level source readers against the real raw snapshot (values read by hand from the files).

The snapshot directory is ``$DLD_SNAPSHOT`` or ``<repo>/../shared/data/raw``; the module is
skipped if neither exists. Bad-input tests write modified copies of raw files to ``tmp_path``.
"""

from __future__ import annotations

import gzip
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from dlddrivers.contracts import MONTHLY, TIDY_COLUMNS
from dlddrivers.errors import ConfigError, RawFileError
from dlddrivers.sources import (
    DropLog,
    climate_gadm0,
    coal_bp,
    coal_shift,
    faostat_landcover,
    faostat_livestock,
    fra_forest,
    get_reader,
    sdg15,
    wdi,
    wdi_rents,
)
from dlddrivers.units import UnitRegistry

REPO = Path(__file__).resolve().parents[1]
NATIONAL = ["wdi", "wdi_rents", "faostat_livestock", "faostat_landcover", "fra_forest",
            "coal_bp", "coal_shift", "sdg15", "climate_gadm0"]
ANNUAL = list(range(1, 13))
GROWING = [4, 5, 6, 7, 8, 9]


def _snapshot() -> Path | None:
    for cand in (os.environ.get("DLD_SNAPSHOT"), REPO / ".." / "shared" / "data" / "raw"):
        if cand and Path(cand).is_dir():
            return Path(cand).resolve()
    return None


if _snapshot() is None:  # pragma: no cover - depends on the machine
    pytest.skip("raw data snapshot not found (set DLD_SNAPSHOT)", allow_module_level=True)


@pytest.fixture(scope="module")
def snapshot_dir() -> Path:
    """The raw snapshot: $DLD_SNAPSHOT, else <repo>/../shared/data/raw."""
    path = _snapshot()
    assert path is not None
    return path


@pytest.fixture(scope="module")
def registry() -> UnitRegistry:
    return UnitRegistry.from_yaml(REPO / "config" / "units.yaml")


@pytest.fixture(scope="module")
def sources_cfg() -> dict:
    with open(REPO / "config" / "sources.yaml", encoding="utf-8") as fh:
        return yaml.safe_load(fh)["sources"]


WDI_CODES = ["ag.lnd.totl.k2", "sp.pop.totl", "sl.agr.empl.fe.zs", "nv.ind.totl.zs"]


def files_for(source: str, cfg: dict, snap: Path, codes: list[str] | None = None) -> dict[str, Path]:
    """The ``files`` mapping of ``source`` built from config/sources.yaml (WDI: one per code)."""
    spec = cfg[source]["files"]
    if source == "wdi":
        tmpl = spec["indicator"]["path"]
        return {c: snap / tmpl.format(code=c) for c in (codes or WDI_CODES)}
    return {key: snap / f["path"] for key, f in spec.items()}


def value(df: pd.DataFrame, unit: str, year: int | None, indicator: str) -> float:
    sel = df[(df["unit"] == unit) & (df["indicator"] == indicator)]
    sel = sel[sel["year"].isna()] if year is None else sel[sel["year"] == year]
    assert len(sel) == 1, f"{unit} {year} {indicator}: {len(sel)} rows"
    return float(sel["value"].iloc[0])


def drops(log: DropLog, reason: str, detail: str | None = None) -> int:
    fr = log.frame()
    fr = fr[fr["reason"] == reason]
    if detail is not None:
        fr = fr[fr["detail"].str.contains(detail, regex=False)]
    return int(fr["rows"].sum())


CLIMATE_SPECS = [
    {"name": "pre_annual", "code": "cru_pre", "months": ANNUAL, "how": "sum"},
    {"name": "pre_gs", "code": "cru_pre", "months": GROWING, "how": "sum"},
    {"name": "tmp_annual", "code": "cru_tmp", "months": ANNUAL, "how": "mean"},
    {"name": "spei_gs", "code": "spei_spei", "months": GROWING, "how": "mean"},
]


@pytest.fixture(scope="module")
def read_all(snapshot_dir, registry, sources_cfg):
    """Every national reader on the snapshot: {source: (frame, log, seconds)} (the seconds are
    informative only: speed is measured by `make bench`, never asserted in a test)."""
    out = {}
    for src in NATIONAL:
        assert sources_cfg[src]["reader"] == src
        log = DropLog()
        opts = {"indicators": CLIMATE_SPECS} if src == "climate_gadm0" else {}
        files = files_for(src, sources_cfg, snapshot_dir)
        t0 = time.perf_counter()
        df = get_reader(src)(files, registry, log, **opts)
        out[src] = (df, log, time.perf_counter() - t0)
    return out


# --------------------------------------------------------------------------- contract
@pytest.mark.parametrize("src", NATIONAL)
def test_contract_and_indicators(read_all, src):
    df, _, _ = read_all[src]
    assert list(df.columns) == TIDY_COLUMNS
    assert len(df) > 0
    assert set(df["unit"]) <= {"CHN", "PRK", "JPN", "MNG", "KOR", "RUS", "KAZ", "KGZ", "UZB",
                               "TKM", "TJK", "AFG", "IRN"}
    assert (df["source"] == src).all()
    assert not df.duplicated(["unit", "year", "indicator"]).any()
    mod = __import__(f"dlddrivers.sources.{src}", fromlist=["INDICATORS"])
    if src == "climate_gadm0":
        assert set(df["indicator"]) == {s["name"] for s in CLIMATE_SPECS}
    else:
        assert set(df["indicator"]) <= set(mod.INDICATORS)
        # every emitted indicator carries the measure its module declares
        pairs = df[["indicator", "measure"]].drop_duplicates()
        for ind, meas in zip(pairs["indicator"], pairs["measure"], strict=True):
            assert meas == mod.INDICATORS[ind], (ind, meas)


# --------------------------------------------------------------------------- WDI
def test_wdi_values_measures_and_aggregates(read_all):
    df, log, _ = read_all["wdi"]
    # indicators/ag.lnd.totl.k2/data.csv row "Mongolia,MNG,2020,1557506.803"
    assert value(df, "MNG", 2020, "ag.lnd.totl.k2") == pytest.approx(1557506.803)
    measures = dict(zip(df["indicator"], df["measure"], strict=False))
    assert measures["ag.lnd.totl.k2"] == "sq. km"
    assert measures["sp.pop.totl"] == "see WDI definition"  # title "Population, total"
    assert measures["sl.agr.empl.fe.zs"] == "% of female employment"  # "(modeled ILO estimate)" skipped
    assert measures["nv.ind.totl.zs"] == "% of GDP"  # "(including construction)" skipped
    assert drops(log, "aggregate excluded") > 0
    assert drops(log, "not in unit registry") > 0
    assert "WLD" not in set(df["unit"])


def test_wdi_indicator_units_match_datapackages(snapshot_dir):
    root = snapshot_dir / "wdi" / "indicators"
    for code, unit in wdi.INDICATORS.items():
        assert wdi.measure_of(code, root / code / "data.csv") == unit, code


def test_wdi_aggregate_count_matches_file(snapshot_dir, registry, sources_cfg):
    files = files_for("wdi", sources_cfg, snapshot_dir, ["ag.lnd.totl.k2"])
    log = DropLog()
    df = wdi.read(files, registry, log)
    raw = pd.read_csv(files["ag.lnd.totl.k2"], keep_default_na=False)
    n_agg = raw["Country Code"].isin(registry.aggregates["wdi"]).sum()
    assert drops(log, "aggregate excluded") == n_agg
    assert len(df) + drops(log, "aggregate excluded") + drops(log, "not in unit registry") == len(raw)


# --------------------------------------------------------------------------- rents
def test_wdi_rents(read_all):
    df, _, _ = read_all["wdi_rents"]
    # ny_gdp_minr_rt_zs file, row "mng,2006,23.14502" (SOURCE.md: 23.15 %)
    assert value(df, "MNG", 2006, "ny_gdp_minr_rt_zs") == pytest.approx(23.14502)
    # SOURCE.md spot values: MNG coal rents 2011 = 25.90 %, CHN coal rents 2008 = 4.95 %
    assert value(df, "MNG", 2011, "ny_gdp_coal_rt_zs") == pytest.approx(25.90, abs=0.005)
    assert value(df, "CHN", 2008, "ny_gdp_coal_rt_zs") == pytest.approx(4.95, abs=0.005)
    assert "PRK" not in set(df["unit"])
    assert set(df["measure"]) == {"% of GDP"}


# --------------------------------------------------------------------------- FAOSTAT
def test_faostat_livestock(read_all):
    df, log, _ = read_all["faostat_livestock"]
    # row "141,Mongolia,976,Sheep,5111,Stocks,An,...", column 2015
    assert value(df, "MNG", 2015, "sheep") == 24943127
    # row "141,Mongolia,866,Cattle,...", column 1970 (first year column)
    assert value(df, "MNG", 1970, "cattle") == 1991000
    # Russia (185) starts in 1992; the USSR (228) rows are counted as aggregates
    assert df.loc[(df["unit"] == "RUS"), "year"].min() == 1992
    assert drops(log, "aggregate excluded", "228") > 0
    # Mongolia asses 1970-1988 are 0 (gap-filled upstream): kept and counted
    assert value(df, "MNG", 1975, "asses") == 0
    assert drops(log, "zero value (may mean not reported upstream)") >= 19
    assert set(df["measure"]) == {"head"}


def test_faostat_landcover(read_all):
    df, log, _ = read_all["faostat_landcover"]
    # barren file row "141,2020,66813.85" (SOURCE.md: 66,814 kha)
    assert value(df, "MNG", 2020, "lc_barren") == pytest.approx(66813.85)
    # grassland file row "141,2020,34294.49"
    assert value(df, "MNG", 2020, "lc_grassland") == pytest.approx(34294.49)
    # China is code 41 only (grassland 2020 = 287916.1, not the 351 value 288032.41)
    assert value(df, "CHN", 2020, "lc_grassland") == pytest.approx(287916.1)
    # 351 overlaps 41: 31 years x 6 files counted
    assert drops(log, "aggregate excluded", "351") == 31 * 6
    assert len(df) == 13 * 31 * 6


# --------------------------------------------------------------------------- FRA
def test_fra_forest(read_all, snapshot_dir, sources_cfg, registry):
    df, log, _ = read_all["fra_forest"]
    # row "China,2020,...,219978.18,..." column "Forest area"
    assert value(df, "CHN", 2020, "forest_area") == pytest.approx(219978.18)
    # row "Mongolia,2015": Deforestation 1.52, Annual net change -1.11 (period 2015-2020)
    assert value(df, "MNG", 2015, "deforestation") == pytest.approx(1.52)
    assert value(df, "MNG", 2015, "forest_net_change") == pytest.approx(-1.11)
    meas = df.loc[df["indicator"] == "deforestation", "measure"].iloc[0]
    assert "period" in meas and "first year" in meas
    # every row of an entity outside the registry (World, Africa, France, ...) is counted
    raw = pd.read_csv(files_for("fra_forest", sources_cfg, snapshot_dir)["forest"])
    names = {n for u in registry.of_level("country") for n in u.names}
    assert drops(log, "not in unit registry") == (~raw["Entity"].isin(names)).sum() > 0
    # pre-1990 "Forest cover" rows are OWID historical estimates (China from 1700): counted
    assert df["year"].min() >= 1990
    assert drops(log, "before FRA 2020 coverage (OWID historical estimate)") > 0


# --------------------------------------------------------------------------- coal
def test_coal_bp(read_all):
    df, log, _ = read_all["coal_bp"]
    # row "China,2020": Coal Production - Tonnes 3902.0
    assert value(df, "CHN", 2020, "coal_production_mt") == pytest.approx(3902.0)
    assert value(df, "MNG", 2020, "coal_production_mt") == pytest.approx(43.0793)
    assert "PRK" not in set(df["unit"])  # BP reports DPRK inside "Other Asia Pacific"
    assert drops(log, "USSR, not a study unit") == 8  # 1981-1984, two variables
    assert df.loc[df["unit"] == "RUS", "year"].min() == 1985


def test_coal_shift(read_all):
    df, log, _ = read_all["coal_shift"]
    # row Year=2016, columns China / North Korea / Mongolia (SOURCE.md: 82.7, 0.84, 0.94)
    assert value(df, "CHN", 2016, "coal_production_ej_shift") == pytest.approx(82.7, abs=0.05)
    assert value(df, "PRK", 2016, "coal_production_ej_shift") == pytest.approx(0.84, abs=0.005)
    assert value(df, "MNG", 2016, "coal_production_ej_shift") == pytest.approx(0.94, abs=0.005)
    # "Russian Federation & USSR": 1992 onward is RUS, 1900-1991 (92 years) counted as USSR
    rus = df[df["unit"] == "RUS"]
    assert rus["year"].min() == 1992
    assert value(df, "RUS", 1992, "coal_production_ej_shift") == pytest.approx(8.078081)
    assert drops(log, "USSR, not a study unit") == 92
    # regional columns are counted, not read
    assert drops(log, "not in unit registry", "Asia and Oceania") > 0


def test_coal_shift_interior_zeros_are_gaps(read_all):
    """Japan is 0 in 2002-2015 between 0.074 EJ (2001) and 0.029 EJ (2016); BP gives
    0.024-0.032 EJ for those years: a reporting gap, not zero production."""
    df, log, _ = read_all["coal_shift"]
    jpn = df[df["unit"] == "JPN"].set_index("year")["value"]
    assert not set(range(2002, 2016)) & set(jpn.index)
    assert jpn[2001] == pytest.approx(0.074014, abs=1e-6) and jpn[2016] == pytest.approx(0.029079, abs=1e-6)
    assert drops(log, getattr(coal_shift, "GAP_REASON", "?"), "Japan 2002") == 14
    # an all-zero series (Turkmenistan 1992-2016: no coal production) stays zero
    tkm = df[df["unit"] == "TKM"]
    assert len(tkm) == 25 and (tkm["value"] == 0).all()


# --------------------------------------------------------------------------- SDG
def test_sdg15(read_all):
    df, log, _ = read_all["sdg15"]
    # rows "156,c,percent,2015,27.2" and "496,c,percent,2019,23.42"
    assert value(df, "CHN", 2015, "sdg_15_3_1") == pytest.approx(27.2)
    assert value(df, "MNG", 2019, "sdg_15_3_1") == pytest.approx(23.42)
    assert value(df, "MNG", 2015, "sdg_15_3_1") == pytest.approx(13.54)
    assert not {"JPN", "KOR", "PRK", "RUS"} & set(df["unit"])
    # World (1) and Eastern Asia (30) are registry aggregates
    assert drops(log, "aggregate excluded") >= 4
    assert set(df["measure"]) == {"% of land area"}


# --------------------------------------------------------------------------- climate
def test_climate_annual_sums_sanity(read_all):
    df, _, _ = read_all["climate_gadm0"]
    # SOURCE.md sanity check: CRU annual precipitation 2000 CHN ~ 571, MNG ~ 220, JPN ~ 1523 mm
    assert value(df, "CHN", 2000, "pre_annual") == pytest.approx(571.41, abs=0.01)
    assert value(df, "MNG", 2000, "pre_annual") == pytest.approx(219.98, abs=0.01)
    assert value(df, "JPN", 2000, "pre_annual") == pytest.approx(1523.12, abs=0.01)
    m = dict(zip(df["indicator"], df["measure"], strict=False))
    assert m["pre_annual"] == "mm/yr"
    assert m["pre_gs"] == "mm (sum Apr-Sep)"
    assert m["tmp_annual"].startswith("°C")
    assert "SPEI-1" in m["spei_gs"]
    # SPEI ends in 2020, CRU in 2022
    assert df.loc[df["indicator"] == "spei_gs", "year"].max() == 2020
    assert df.loc[df["indicator"] == "pre_annual", "year"].max() == 2022


def test_climate_monthly_and_growing_season(snapshot_dir, registry, sources_cfg):
    files = files_for("climate_gadm0", sources_cfg, snapshot_dir)
    log = DropLog()
    monthly = climate_gadm0.read_monthly(files, registry, log, products=["cru_pre"])
    MONTHLY.validate(monthly)
    assert set(monthly["indicator"]) == {"cru_pre"}
    assert set(monthly["measure"]) == {"mm/month"}
    raw = pd.read_csv(files["cru_pre"])
    gs = raw[raw["Date"].isin([f"X2000{m:02d}" for m in GROWING])]
    agg = climate_gadm0.aggregate_months(monthly, GROWING, "sum", name="pre_gs")
    assert value(agg, "MNG", 2000, "pre_gs") == pytest.approx(gs["MNG"].sum())
    # non-registry columns and all-empty columns are counted, not errors
    assert drops(log, "not in unit registry", "ABW") > 0
    # six all-empty columns in the CRU files: ATA, BLM, BVT, XCL, XPI, XSP (one row per month)
    assert drops(log, "all-empty column", "ATA") == 6 * len(raw)


# aggregate_months on a tiny synthetic frame, by hand --------------------------------------
def synthetic_monthly() -> pd.DataFrame:
    """Unit AAA: 2001 complete (value = month), 2002 without July; unit BBB: 2001 all 10."""
    rows = []
    for m in range(1, 13):
        rows.append(("AAA", 2001, m, float(m)))
        rows.append(("AAA", 2002, m, np.nan if m == 7 else 2.0 * m))
        rows.append(("BBB", 2001, m, 10.0))
    df = pd.DataFrame(rows, columns=["unit", "year", "month", "value"])
    df = df[~((df["unit"] == "AAA") & (df["year"] == 2002) & (df["month"] == 12))]  # absent row
    return df.assign(indicator="x_pre", measure="mm/month", source="test")


def test_aggregate_months_by_hand():
    mo = synthetic_monthly()
    annual = climate_gadm0.aggregate_months(mo, ANNUAL, "sum", name="p")
    assert list(annual.columns) == TIDY_COLUMNS
    assert value(annual, "AAA", 2001, "p") == 78.0  # 1 + 2 + ... + 12
    assert value(annual, "BBB", 2001, "p") == 120.0
    assert np.isnan(value(annual, "AAA", 2002, "p"))  # July NaN and December absent
    assert set(annual["measure"]) == {"mm/yr"}

    gs = climate_gadm0.aggregate_months(mo, GROWING, "sum", name="gs")
    assert value(gs, "AAA", 2001, "gs") == 4 + 5 + 6 + 7 + 8 + 9
    assert np.isnan(value(gs, "AAA", 2002, "gs"))  # July missing
    spring = climate_gadm0.aggregate_months(mo, [4, 5, 6], "sum", name="amj")
    assert value(spring, "AAA", 2002, "amj") == 2 * (4 + 5 + 6)  # complete, hence a value

    mean = climate_gadm0.aggregate_months(mo, GROWING, "mean", name="m")
    assert value(mean, "AAA", 2001, "m") == pytest.approx(6.5)
    assert np.isnan(value(mean, "AAA", 2002, "m"))
    relaxed = climate_gadm0.aggregate_months(mo, GROWING, "mean", min_months=5, name="m5")
    assert value(relaxed, "AAA", 2002, "m5") == pytest.approx(2 * (4 + 5 + 6 + 8 + 9) / 5)
    assert "5 of 6" in relaxed["measure"].iloc[0]


def test_aggregate_months_refuses_partial_sums_and_bad_args():
    mo = synthetic_monthly()
    with pytest.raises(ConfigError, match="min_months"):
        climate_gadm0.aggregate_months(mo, GROWING, "sum", min_months=5, name="x")
    with pytest.raises(ConfigError, match="how"):
        climate_gadm0.aggregate_months(mo, GROWING, "median", name="x")
    with pytest.raises(ConfigError, match="months"):
        climate_gadm0.aggregate_months(mo, [0, 13], "mean", name="x")
    with pytest.raises(ConfigError, match="how"):  # a sum of temperatures is meaningless
        climate_gadm0.aggregate_months(mo.assign(measure="°C"), ANNUAL, "sum", name="x")


# --------------------------------------------------------------------------- bad input
def test_missing_column_raises_naming_file_and_column(tmp_path, snapshot_dir, registry, sources_cfg):
    src = files_for("sdg15", sources_cfg, snapshot_dir)["ag_lnd_dgrd"]
    bad = tmp_path / src.name
    pd.read_csv(src, dtype=str).drop(columns=["year"]).to_csv(bad, index=False)
    with pytest.raises(RawFileError) as exc:
        sdg15.read({"ag_lnd_dgrd": bad}, registry, DropLog())
    assert exc.value.field == "year"
    assert src.name in exc.value.file and "year" in str(exc.value)


def test_missing_column_wdi_and_fra(tmp_path, snapshot_dir, registry, sources_cfg):
    src = files_for("wdi", sources_cfg, snapshot_dir, ["ag.lnd.totl.k2"])["ag.lnd.totl.k2"]
    bad = tmp_path / "data.csv"
    pd.read_csv(src, dtype=str).drop(columns=["Value"]).to_csv(bad, index=False)
    with pytest.raises(RawFileError, match="Value") as exc:
        wdi.read({"ag.lnd.totl.k2": bad}, registry, DropLog())
    assert exc.value.file == str(bad)
    src = files_for("fra_forest", sources_cfg, snapshot_dir)["forest"]
    bad = tmp_path / src.name
    pd.read_csv(src, dtype=str).drop(columns=["Deforestation"]).to_csv(bad, index=False)
    with pytest.raises(RawFileError) as exc:
        fra_forest.read({"forest": bad}, registry, DropLog())
    assert exc.value.field == "Deforestation" and src.name in exc.value.file


def test_non_numeric_value_raises_naming_field(tmp_path, snapshot_dir, registry, sources_cfg):
    files = files_for("faostat_landcover", sources_cfg, snapshot_dir)
    raw = pd.read_csv(files["barren"], dtype=str)
    col = faostat_landcover.COLUMNS["barren"]
    raw.loc[raw["geo"] == "141", col] = "n/a"
    bad = tmp_path / files["barren"].name
    raw.to_csv(bad, index=False)
    with pytest.raises(RawFileError) as exc:
        faostat_landcover.read({**files, "barren": bad}, registry, DropLog())
    assert exc.value.field == col and exc.value.found == "n/a"
    assert files["barren"].name in exc.value.file


def test_non_numeric_livestock_year_cell(tmp_path, snapshot_dir, registry, sources_cfg):
    src = files_for("faostat_livestock", sources_cfg, snapshot_dir)["stocks"]
    with gzip.open(src, "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.startswith("141,Mongolia,976,Sheep"))
    cells = lines[i].split(",")
    cells[7] = '"12.6M"'  # column 1970 (after the 7 id columns)
    lines[i] = ",".join(cells)
    bad = tmp_path / "stocks.csv.gz"
    with gzip.open(bad, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    with pytest.raises(RawFileError) as exc:
        faostat_livestock.read({"stocks": bad}, registry, DropLog())
    assert exc.value.field == "1970" and exc.value.found == "12.6M"


def test_bad_climate_date_and_value(tmp_path, snapshot_dir, registry, sources_cfg):
    src = files_for("climate_gadm0", sources_cfg, snapshot_dir)["cru_pre"]
    raw = pd.read_csv(src, dtype=str)
    bad = tmp_path / "bad_date.csv"
    raw.assign(Date=raw["Date"].where(raw.index != 5, "1901-06")).to_csv(bad, index=False)
    with pytest.raises(RawFileError) as exc:
        climate_gadm0.read_monthly({"cru_pre": bad}, registry, DropLog())
    assert exc.value.field == "Date" and exc.value.found == "1901-06"
    bad = tmp_path / "bad_value.csv"
    raw.assign(MNG=raw["MNG"].where(raw.index != 5, "dry")).to_csv(bad, index=False)
    with pytest.raises(RawFileError) as exc:
        climate_gadm0.read_monthly({"cru_pre": bad}, registry, DropLog())
    assert exc.value.field == "MNG" and "bad_value.csv" in exc.value.file


def test_missing_file_and_key(tmp_path, registry):
    with pytest.raises(RawFileError, match="no such file"):
        coal_bp.read({"review": tmp_path / "absent.csv"}, registry, DropLog())
    with pytest.raises(ConfigError):
        coal_shift.read({"wrong_key": tmp_path / "x.csv"}, registry, DropLog())
    with pytest.raises(ConfigError):
        wdi_rents.read({}, registry, DropLog())
