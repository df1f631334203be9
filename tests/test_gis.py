"""GeoPackage layers of the mapped per-unit results: they open with a GIS library and carry the
tables' numbers and the boundary files' geometries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dlddrivers.plots import maps

UNITS = ["MN21", "MN22", "MN65", "MN85"]


def _study_dir(tmp_path):
    d = tmp_path / "mongolia_test"
    for sub in ("trends", "attribution", "restrend"):
        (d / sub).mkdir(parents=True)
    names = {"MN21": "Dornod", "MN22": "Sukhbaatar", "MN65": "Govi-Altai", "MN85": "Uvs"}
    pd.DataFrame({"unit": UNITS, "unit_name": [names[u] for u in UNITS]}).to_csv(d / "coverage.csv", index=False)
    pd.DataFrame({"indicator": ["bio"], "label": ["Biomass"], "measure": ["c/ha"], "provider": ["plots"],
                  "role": ["outcome"], "domain": ["outcome"]}).to_csv(d / "data_dictionary.csv", index=False)
    rng = np.random.default_rng(0)
    pd.DataFrame({"unit": UNITS, "indicator": "bio", "role": "outcome", "domain": "outcome",
                  "slope_per_decade": rng.normal(size=4), "significant": [True, False, True, False],
                  "first_year": 2007, "last_year": 2020, "ci_low": -1.0, "ci_high": 1.0,
                  "status": "ok"}).to_csv(d / "trends" / "trends.csv", index=False)
    pd.DataFrame({"unit": UNITS, "indicator": "bio", "role": "outcome", "condition":
                  ["improving", "stable", "degrading", "stable"], "better": "higher",
                  "area_km2": [1.0, 2.0, 3.0, 4.0]}).to_csv(d / "trends" / "land_condition_units.csv", index=False)
    pd.DataFrame({"outcome": "bio", "unit": [*UNITS, "pooled"], "method": "lmg",
                  "quantity": "anthropogenic_share", "value": [0.1, 0.2, 0.3, 0.4, 0.25],
                  "ci_low": 0.0, "ci_high": 0.9, "ranking_agreement": "agree", "larger_group_lmg": "biophysical",
                  }).to_csv(d / "attribution" / "attribution.csv", index=False)
    pd.DataFrame({"outcome": "bio", "unit": UNITS, "residual_slope": [0.01, np.nan, -0.02, 0.03],
                  "mk_p": [0.01, np.nan, 0.5, 0.04],
                  "status": ["ok", "refused: VPR not significant", "ok", "ok"]}).to_csv(
        d / "restrend" / "restrend.csv", index=False)
    return d


def test_geopackage_layers_carry_the_tables_numbers(tmp_path, snapshot):
    import geopandas as gpd
    import pyogrio
    from shapely.geometry import shape

    from dlddrivers.plots import style
    from dlddrivers.sources.boundaries import aimag_geometries

    boundary = snapshot / "ocha_cod_ab/mng_admbnda_adm1_nso_v3.geojson"
    d = _study_dir(tmp_path)
    style.OVERLAPS.clear()
    written = maps.mongolia_maps(d, aimag_geometries(boundary), d / "maps")
    assert style.OVERLAPS == {}  # aimag names never overlap on the maps
    assert {"map_trend_bio.png", "map_attribution_bio.png", "map_restrend_bio.png",
            "map_condition_bio.png"} <= {p.name for p in written}
    gpkg = d / "maps" / "mongolia_test.gpkg"
    assert gpkg in written
    layers = {name for name, _ in pyogrio.list_layers(gpkg)}
    assert layers == {"trend_bio", "attribution_bio", "restrend_bio", "condition_bio"}
    # numbers equal to the tables, row for row (the pooled row is not a place and is left out)
    tr = pd.read_csv(d / "trends" / "trends.csv")
    g = gpd.read_file(gpkg, layer="trend_bio")
    assert g.crs.to_epsg() == 4326
    assert g["unit"].tolist() == UNITS and g["unit_name"].tolist() == ["Dornod", "Sukhbaatar", "Govi-Altai", "Uvs"]
    assert np.allclose(g["slope_per_decade"], tr["slope_per_decade"])
    a = gpd.read_file(gpkg, layer="attribution_bio")
    assert a["value"].tolist() == pytest.approx([0.1, 0.2, 0.3, 0.4])
    r = gpd.read_file(gpkg, layer="restrend_bio")
    assert np.isnan(r.loc[1, "residual_slope"]) and r.loc[1, "status"].startswith("refused")
    assert r.loc[3, "residual_slope"] == pytest.approx(0.03)
    c = gpd.read_file(gpkg, layer="condition_bio")
    assert c["condition"].tolist() == ["improving", "stable", "degrading", "stable"]
    # geometry: each unit's polygon is the boundary file's feature (same area, same centroid)
    import json

    feats = {f"MN{f['properties']['ADM1_PCODE']}": shape(f["geometry"])
             for f in json.loads(boundary.read_text())["features"]}
    for _, row in g.iterrows():
        ref = feats[row["unit"]]
        assert row.geometry.area == pytest.approx(ref.area, rel=1e-6)
        assert row.geometry.centroid.distance(ref.centroid) < 1e-6


def test_country_layers_union_subnational_features_and_keep_units_without_geometry(tmp_path):
    from shapely.geometry import box

    sq = lambda x0, y0: [[np.array(box(x0, y0, x0 + 1, y0 + 1).exterior.coords)]]  # noqa: E731
    from dlddrivers import gis

    shapes = gis.country_geometries({"AAA": {"a1": sq(0, 0), "a2": sq(1, 0), "out": sq(5, 5)}},
                                    {"AAA": {"out"}})
    assert shapes["AAA"].area == pytest.approx(2.0)
    t = pd.DataFrame({"unit": ["AAA", "BBB"], "value": [1.5, 2.5]})
    g = gis.layer_frame(t, shapes, {"AAA": "Country A"})
    path = gis.write_layers(tmp_path / "x.gpkg", {"values": g})
    import geopandas as gpd

    back = gpd.read_file(path, layer="values")
    assert back["value"].tolist() == [1.5, 2.5] and back["unit_name"].tolist() == ["Country A", "BBB"]
    assert back.geometry.iloc[1] is None or back.geometry.iloc[1].is_empty
    assert back["geometry_note"].iloc[1] == "no boundary file for this unit"
