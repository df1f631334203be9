"""Plots only draw; boundaries are a declared source.

* An AST scan of every module under ``plots/`` (and ``gridded/plots.py``) finds no call to a
  numpy/pandas/scipy statistic and no raw-file reading (the scanner itself is shown to catch a
  planted statistic and a planted file read).
* The numbers the figures used to compute are columns/rows of their stage's table, equal to a
  hand computation: the RESTREND line intercept and the impact's mean across units.
* Boundary files come from ``config/sources.yaml`` through the registry's ``boundary``
  declarations (a sources.yaml without the China entry skips China, counted, not an error),
  read by one reader whose errors name file, field and value; the maps job records each file
  with its sha256 and URL.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from dlddrivers.errors import ConfigError, RawFileError
from dlddrivers.sources import boundaries as B
from dlddrivers.units import UnitRegistry

REPO = Path(__file__).resolve().parents[1]
PLOT_MODULES = sorted((REPO / "src" / "dlddrivers" / "plots").glob("*.py")) + [
    REPO / "src" / "dlddrivers" / "gridded" / "plots.py"]

#: Calls that compute a statistic (numpy, pandas, scipy): none may appear in a plot module.
STATISTICS = {
    "mean", "nanmean", "median", "nanmedian", "quantile", "nanquantile", "percentile", "nanpercentile",
    "polyfit", "lstsq", "theilslopes", "linregress", "corr", "corrcoef", "cov", "std", "nanstd", "var",
    "nanvar", "agg", "aggregate", "rolling", "expanding", "ewm", "sum", "nansum", "cumsum", "average",
    "zscore", "describe", "nunique", "value_counts", "count",
}
#: Calls that read a file other than a result table (raw GeoJSON, JSON ...).
RAW_READS = {"open", "read_json", "load", "loads", "read_text", "read_bytes", "read_file", "read_parquet"}
#: Readers of boundary files that a plot module must not import.
READER_NAMES = {"read_features", "read_boundaries", "read_geometries", "aimag_geometries", "load_features",
                "available_boundaries", "boundary_specs"}


def offending_calls(source: str) -> list[tuple[int, str]]:
    """(line, name) of every statistic call, raw-file read or boundary-reader import."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
            if name in STATISTICS or name in RAW_READS:
                out.append((node.lineno, name))
        elif isinstance(node, ast.ImportFrom):
            out += [(node.lineno, a.name) for a in node.names if a.name in READER_NAMES]
    return out


def test_the_scanner_catches_statistics_and_file_reads():
    planted = ("import numpy as np\nimport json\n"
               "def f(df, path):\n"
               "    m = df.groupby('year')['y'].mean()\n"
               "    b = np.polyfit(df.x, df.y, 1)\n"
               "    with open(path) as fh:\n"
               "        g = json.load(fh)\n"
               "    from ..sources.boundaries import read_features\n"
               "    return m, b, g\n")
    assert sorted(offending_calls(planted)) == [(4, "mean"), (5, "polyfit"), (6, "open"), (7, "load"),
                                                (8, "read_features")]


@pytest.mark.parametrize("path", PLOT_MODULES, ids=lambda p: p.name)
def test_plot_modules_compute_no_statistic_and_read_no_raw_file(path):
    assert offending_calls(path.read_text(encoding="utf-8")) == [], path


def test_plot_modules_name_no_boundary_file_or_unit_grid():
    """No boundary path, tile grid or feature code in the drawing code: they are config data."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in PLOT_MODULES)
    for word in (".geojson", "BOUNDARY_FILES", "TILES", "CHN_OUTSIDE_WDI", "CN071", "ocha_cod_ab"):
        assert word not in text


# ------------------------------------------------------------------ numbers now in the tables
def test_restrend_table_carries_the_drawn_line_intercept():
    """residual_intercept = median(residual - slope * year) of each unit, by hand from the
    residuals table; the line therefore passes through the median residual at the median year."""
    from dlddrivers.methods import restrend as R

    rng = np.random.default_rng(12)
    years = np.arange(2000, 2016)
    rows = []
    for unit, trend in (("A", 0.05), ("B", -0.08)):
        c = rng.standard_normal(len(years))
        y = 2.0 * c + trend * (years - 2000) + 0.1 * rng.standard_normal(len(years))
        rows.append(pd.DataFrame({"unit": unit, "year": years, "y": y, "c": c}))
    panel = pd.concat(rows, ignore_index=True)
    dictionary = pd.DataFrame({"indicator": ["y", "c"], "role": ["outcome", "driver"],
                               "domain": ["outcome", "climate"], "measure": ["u", "mm"]})
    out = R.compute(panel, dictionary, {"name": "t", "outcomes": ["y"], "drivers": ["c"], "seed": 1},
                    {"bootstrap_draws": 19})
    rest = out["restrend"].set_index("unit")
    assert list(out["restrend"].columns) == R.RESTREND_COLUMNS
    assert R.RESTREND_COLUMNS[-1] == "residual_intercept"  # appended: existing columns unchanged
    for unit in ("A", "B"):
        res = out["residuals"][out["residuals"]["unit"] == unit]
        slope = rest.loc[unit, "residual_slope"]
        e, t = res["residual"].to_numpy(), res["year"].to_numpy(float)
        by_hand = sorted(e - slope * t)[len(t) // 2 - 1: len(t) // 2 + 1]  # 16 values: mean of the middle two
        assert rest.loc[unit, "residual_intercept"] == pytest.approx(sum(by_hand) / 2, rel=1e-12)
        # the drawn line at the median year is the median of (residual - slope * (year - median year))
        mid = float(np.median(t))
        assert rest.loc[unit, "residual_intercept"] + slope * mid == pytest.approx(
            float(np.median(e - slope * (t - mid))), abs=1e-9)


def test_refused_restrend_rows_have_no_intercept():
    from dlddrivers.methods.restrend import DEFAULTS, restrend_unit

    g = pd.DataFrame({"unit": "A", "year": np.arange(2000, 2005), "y": np.arange(5.0), "c": [1.0, 2, 1, 2, 1]})
    row, _ = restrend_unit(g, "y", ["c"], dict(DEFAULTS))
    assert row["status"].startswith("insufficient_data") and "residual_intercept" not in row


def test_impact_unit_mean_is_the_mean_over_reporting_units():
    """Hand means: 2001 (1 + 2 + 6) / 3 = 3; 2002 only A and C report: (4 + 8) / 2 = 6;
    2003 no unit reports: empty mean, kept and flagged."""
    from dlddrivers.methods import impacts as im

    df = pd.DataFrame({"unit": ["A", "B", "C"] * 3, "year": [2001] * 3 + [2002] * 3 + [2003] * 3,
                       "mort": [1.0, 2.0, 6.0, 4.0, np.nan, 8.0, np.nan, np.nan, np.nan]})
    m = im.unit_mean(df, "mort", "%")
    assert list(m.columns) == im.UNIT_MEAN_COLUMNS
    m = m.set_index("year")
    assert m.loc[2001, "mean"] == pytest.approx(3.0) and m.loc[2001, "status"] == "ok"
    assert m.loc[2002, "mean"] == pytest.approx(6.0) and m.loc[2002, "n_units_reporting"] == 2
    assert m.loc[2002, "status"] == "partial: 1 of 3 units missing"
    assert np.isnan(m.loc[2003, "mean"]) and m.loc[2003, "status"].startswith("insufficient_data")
    assert set(m["estimand"]) == {"descriptive"} and set(m["n_units"]) == {3}


def test_impacts_stage_writes_the_unit_mean_table():
    from dlddrivers.methods import impacts as im

    rng = np.random.default_rng(3)
    units, years = [f"U{i}" for i in range(6)], np.arange(2000, 2012)
    df = pd.DataFrame([(u, y) for u in units for y in years], columns=["unit", "year"])
    df["spei"] = rng.standard_normal(len(df))
    df["mort"] = 2 - df["spei"] + rng.standard_normal(len(df))
    d = pd.DataFrame({"indicator": ["mort", "spei"], "role": ["impact", "driver"],
                      "domain": ["impact", "climate"], "measure": ["%", "SPEI"]})
    out = im.compute(df, d, {"name": "t", "impacts": ["mort"], "drivers": ["spei"], "seed": 2},
                     {"bootstrap_draws": 19, "lags": {}, "interaction": False})
    um = out["unit_mean"].set_index("year")
    assert np.allclose(um["mean"], df.groupby("year")["mort"].mean().to_numpy())


# ------------------------------------------------------------------ boundaries as a source
def _registry():
    return UnitRegistry.from_yaml(REPO / "config" / "units.yaml")


def _sources():
    return yaml.safe_load((REPO / "config" / "sources.yaml").read_text(encoding="utf-8"))


def test_boundary_files_are_declared_sources_with_url_and_checksum(snapshot):
    from dlddrivers.provenance import sha256_file
    from dlddrivers.retrieve import resolve

    specs, skipped = B.boundary_specs(_registry(), _sources(), ["CHN", "JPN", "MNG", "KOR"])
    assert skipped == [] and sorted(specs) == ["CHN", "JPN", "MNG"]  # KOR declares no boundary
    retrieved = {s.path: s for s in resolve(_sources())}
    for unit, sp in specs.items():
        entry = _sources()["sources"][sp.source]
        assert sp.path == entry["files"][sp.file]["path"] and sp.url == entry["files"][sp.file]["url"]
        assert sp.path in retrieved and retrieved[sp.path].sha256 == sp.sha256  # retrieval knows it
        assert sha256_file(snapshot / sp.path) == sp.sha256, unit
        assert sp.provider and sp.licence
    assert specs["CHN"].outside == {"CN071": "Taiwan", "CN081": "Hong Kong SAR", "CN082": "Macao SAR"}
    assert specs["JPN"].code_field == "ISO_Code"


def test_a_sources_file_without_china_skips_china_without_error(tmp_path, snapshot):
    src = _sources()
    del src["sources"]["boundaries_chn"]
    specs, skipped = B.available_boundaries(_registry(), src, ["CHN", "JPN", "MNG"], snapshot, offline=True)
    assert sorted(specs) == ["JPN", "MNG"]
    assert skipped == [{"unit": "CHN", "source": "boundaries_chn", "file": "adm1",
                        "reason": "no source 'boundaries_chn' in sources.yaml"}]
    # offline, a declared file missing from the snapshot folder is skipped too (online: downloaded)
    (tmp_path / "ocha_cod_ab").mkdir()
    specs, skipped = B.available_boundaries(_registry(), _sources(), ["CHN"], tmp_path, offline=True)
    assert specs == {} and "not in the snapshot folder" in skipped[0]["reason"]
    specs, skipped = B.available_boundaries(_registry(), _sources(), ["CHN"], tmp_path, offline=False)
    assert list(specs) == ["CHN"] and skipped == []


def test_reader_gives_the_same_polygons_as_the_file(snapshot):
    specs, _ = B.boundary_specs(_registry(), _sources(), ["CHN", "JPN"])
    geoms = B.read_boundaries({u: snapshot / s.path for u, s in specs.items()}, specs)
    for unit, field in (("CHN", "ADM1_PCODE"), ("JPN", "ISO_Code")):
        raw = json.loads((snapshot / specs[unit].path).read_text(encoding="utf-8"))["features"]
        assert set(geoms[unit]) == {str(f["properties"][field]).strip() for f in raw}
        f0 = raw[0]
        first = geoms[unit][str(f0["properties"][field]).strip()]
        assert np.array_equal(first[0][0], np.asarray(f0["geometry"]["coordinates"][0][0], dtype=float)[:, :2])
    assert len(geoms["CHN"]) == 34 and len(geoms["JPN"]) == 47
    # the aimag reader keeps its behaviour: MN<code> keys, 22 features
    aim = B.aimag_geometries(snapshot / "ocha_cod_ab/mng_admbnda_adm1_nso_v3.geojson")
    assert len(aim) == 22 and all(k.startswith("MN") for k in aim)


def _write(path: Path, features: list[dict]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


SQUARE = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}


def test_reader_errors_name_file_field_and_value(tmp_path):
    p = _write(tmp_path / "b.geojson", [{"properties": {"code": "X1"}, "geometry": SQUARE},
                                        {"properties": {"name": "no code"}, "geometry": SQUARE}])
    with pytest.raises(RawFileError, match=r"b\.geojson.*code.*feature 1"):
        B.read_features(p, "code")
    p = _write(tmp_path / "d.geojson", [{"properties": {"code": "X1"}, "geometry": SQUARE}] * 2)
    with pytest.raises(RawFileError, match=r"d\.geojson.*code.*X1"):
        B.read_features(p, "code")
    p = _write(tmp_path / "l.geojson", [{"properties": {"code": "L1"},
                                         "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}}])
    with pytest.raises(RawFileError, match=r"l\.geojson.*geometry\.type.*LineString for L1"):
        B.read_features(p, "code")


def test_registry_checks_tile_and_boundary_declarations():
    base = {"name": "A", "fao": 1, "m49": 1}
    with pytest.raises(ConfigError, match=r"countries\.AAA\.tile.*\[1, 2, 0\]"):
        UnitRegistry.from_dict({"countries": {"AAA": {**base, "tile": [1, 2, 0]}}}, "u.yaml")
    with pytest.raises(ConfigError, match=r"countries\.AAA\.boundary\.code_field"):
        UnitRegistry.from_dict({"countries": {"AAA": {**base, "boundary": {"source": "s", "file": "f"}}}}, "u.yaml")
    with pytest.raises(ConfigError, match=r"countries\.AAA\.boundary\.colour"):
        UnitRegistry.from_dict({"countries": {"AAA": {**base, "boundary": {
            "source": "s", "file": "f", "code_field": "c", "colour": "red"}}}}, "u.yaml")
    reg = UnitRegistry.from_dict({"countries": {"AAA": {**base, "tile": [0, 1, 2, 1]}}})
    assert reg.units["AAA"].tile == (0.0, 1.0, 2.0, 1.0) and reg.units["AAA"].boundary is None


def test_tile_grid_is_config_data():
    from dlddrivers.plots.maps import tile_layout

    reg = _registry()
    units = ["CHN", "PRK", "JPN", "MNG", "KOR", "RUS"]
    tiles = {u: reg.units[u].tile for u in units}
    layout = tile_layout(sorted(units), tiles)
    assert layout == {"RUS": (0, 2, 4, 1), "MNG": (0, 1, 2, 1), "PRK": (2, 1, 1, 1), "CHN": (0, 0, 2, 1),
                      "KOR": (2, 0, 1, 1), "JPN": (3, 0, 1, 2)}
    # a country without a tile: a plain 4-column grid in sorted order
    plain = tile_layout(["KAZ", "MNG"], tiles)
    assert plain == {"KAZ": (0.0, 0.0, 1.0, 1.0), "MNG": (1.0, 0.0, 1.0, 1.0)}


def test_maps_job_records_each_boundary_file_and_the_skipped_ones(tmp_path):
    """A toy country study with one declared boundary file: the national map draws it, the
    GeoPackage carries the table's number, and run.json lists the file with its sha256 and URL
    and the skipped declaration with its reason."""
    import geopandas as gpd

    from dlddrivers.maps_job import maps_job
    from dlddrivers.provenance import sha256_file

    f = _write(tmp_path / "aaa.geojson", [
        {"properties": {"c": "A1"}, "geometry": SQUARE},
        {"properties": {"c": "A9"}, "geometry": {"type": "Polygon",
                                                 "coordinates": [[[5, 5], [6, 5], [6, 6], [5, 6], [5, 5]]]}}])
    d = tmp_path / "toy"
    (d / "trends").mkdir(parents=True)
    pd.DataFrame({"unit": ["AAA", "BBB"], "unit_name": ["Aland", "Bland"]}).to_csv(d / "coverage.csv", index=False)
    pd.DataFrame({"indicator": ["bare"], "label": ["Bare land"], "measure": ["%"], "provider": ["P"],
                  "role": ["outcome"], "domain": ["outcome"], "better": ["lower"]}).to_csv(
        d / "data_dictionary.csv", index=False)
    pd.DataFrame({"unit": ["AAA", "BBB"], "indicator": "bare", "role": "outcome", "domain": "outcome",
                  "slope_per_decade": [0.5, -0.2], "significant": [True, False], "first_year": 2000,
                  "last_year": 2020, "ci_low": [0.01, -0.05], "ci_high": [0.09, 0.01], "status": "ok"}).to_csv(
        d / "trends" / "trends.csv", index=False)
    spec = B.BoundarySpec(unit="AAA", source="boundaries_aaa", file="adm1", code_field="c", path="aaa.geojson",
                          url="https://example.org/aaa.geojson", sha256=sha256_file(f), provider="Prov",
                          licence="CC0", outside={"A9": "Islet"})
    skipped = [{"unit": "BBB", "source": "boundaries_bbb", "file": "adm1", "reason": "no source 'boundaries_bbb'"}]
    rec = maps_job(d, "country", d / "maps", boundaries=[spec.record()], boundary_files=[f], skipped=skipped,
                   tiles={"AAA": [0, 0, 1, 1], "BBB": [1, 0, 1, 1]})
    run = json.loads((d / "maps" / "run.json").read_text(encoding="utf-8"))
    assert run == json.loads(json.dumps(rec, default=str))
    b = run["boundaries"][0]
    assert (b["unit"], b["url"], b["sha256"], b["recorded_sha256_matches"]) == (
        "AAA", "https://example.org/aaa.geojson", sha256_file(f), True)
    assert run["boundaries_skipped"] == skipped and run["n_boundaries_skipped"] == 1
    assert "map_trend_bare.png" in run["files"]
    g = gpd.read_file(d / "maps" / "toy.gpkg", layer="trend_bare")
    assert g["slope_per_decade"].tolist() == pytest.approx([0.5, -0.2])
    assert g.geometry.iloc[0].area == pytest.approx(1.0)  # the outside feature A9 is left out
    assert g.geometry.iloc[1] is None or g.geometry.iloc[1].is_empty


def test_maps_rule_takes_its_boundary_inputs_from_the_sources_config():
    """The rule file imports no plot module; its boundary input and params come from the
    registry's declarations resolved against sources.yaml (common.smk)."""
    rules = (REPO / "workflow" / "rules" / "report.smk").read_text(encoding="utf-8")
    common = (REPO / "workflow" / "rules" / "common.smk").read_text(encoding="utf-8")
    assert "dlddrivers.plots" not in rules and "dlddrivers.plots" not in common
    assert "boundaries=lambda w: boundary_paths(map_boundaries(w.study)[0])" in rules
    assert "available_boundaries(" in common and "SOURCES" in common


def _maps_job_block(out: str) -> str:
    import re

    blocks = [b for b in re.split(r"\n\s*\n", out) if re.search(r"^(?:local)?rule maps:", b, re.M)]
    assert len(blocks) == 1, out[-3000:]
    return blocks[0]


@pytest.mark.slow
def test_maps_rule_inputs_follow_sources_yaml(snapshot, tmp_path):
    """Dry runs of the national maps: with the default sources.yaml the rule's inputs hold the
    China, Japan and Mongolia boundary files; with a sources.yaml without the China entry the
    China file is not an input and the job is still scheduled (no error)."""
    from conftest import run_snakemake

    src = _sources()
    del src["sources"]["boundaries_chn"]
    no_chn = tmp_path / "sources.yaml"
    no_chn.write_text(yaml.safe_dump(src, sort_keys=False), encoding="utf-8")
    chn = "chn_adm1_ocha_2020_simplified.geojson"
    blocks = {}
    for name, extra in (("default", ()), ("no_chn", (f"sources={no_chn}",))):
        r = run_snakemake("-n", f"{tmp_path / 'results'}/neasia/maps", "--config", f"snapshot_dir={snapshot}",
                          f"results_dir={tmp_path / 'results'}", "validation=False", *extra, timeout=900)
        assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
        blocks[name] = _maps_job_block(r.stdout + r.stderr)
    assert chn in blocks["default"] and "geoBoundaries-JPN-ADM1" in blocks["default"]
    assert "mng_admbnda_adm1_nso_v3.geojson" in blocks["default"]
    assert chn not in blocks["no_chn"] and "geoBoundaries-JPN-ADM1" in blocks["no_chn"]
