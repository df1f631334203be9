"""The summary block of a pixel study (dlddrivers.gridded.summary), checked against the layers
and tables of a small synthetic pixel study run with planted truth."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from dlddrivers.gridded import pipeline as gp
from dlddrivers.gridded.summary import attribution_area_table, is_pixel_study, pixel_study_summary

BBOX = [100.0, 44.0, 107.0, 49.0]
GEOMS = {"A": [[np.array([[100, 44], [107, 44], [100, 49], [100, 44]], float)]],
         "B": [[np.array([[107, 44], [107, 49], [100, 49], [107, 44]], float)]]}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    from dlddrivers.gridded.synthetic import DEFAULTS, generate

    ds = generate(32, 48, range(1991, 2021), 11, {**DEFAULTS, "bbox": BBOX})
    layers = {k: ds[k].chunk({"lat": 16, "lon": 16}) for k in ("ndvi", "precip", "temp")}
    study = {"name": "tiny_pixel", "description": "tiny", "outcomes": ["ndvi"],
             "drivers": ["precip", "temp"], "carry": [], "units": ["A", "B"], "tiles": [2, 2]}
    opts = {"chunk": 16, "cog_blocksize": 16}
    root = tmp_path_factory.mktemp("res")
    tiles = [gp.run_tile(layers, study, GEOMS, t, opts) for t in gp.tile_ids(study["tiles"])]
    gp.run_pixel_study(layers, study, root / "tiny_pixel" / "pixel", GEOMS, opts, truth=ds,
                       tiles=tiles)
    return root


def _layer(root, name):
    import xarray as xr

    with xr.open_dataset(root / "tiny_pixel" / "pixel" / "layers" / f"{name}.nc") as d:
        return d[name].values


def test_summary_numbers_come_from_the_layers(results):
    from dlddrivers.gridded.methods import ATTRIBUTION_CLASSES, cell_area_km2

    d = results / "tiny_pixel"
    assert is_pixel_study(d) and not is_pixel_study(results)
    md = pixel_study_summary(d, rel_to=results)
    assert md.startswith("## Study `tiny_pixel` (pixel study)")
    assert "32 x 48 = 1,536 pixels" in md and "computed in 4 tiles ([2, 2])" in md
    # area per class and share of the assessed area, by hand from the layers
    cls = _layer(results, "attribution_class")
    import xarray as xr

    with xr.open_dataset(d / "pixel" / "layers" / "zone.nc") as z:
        zone = z["zone"].values
        area = cell_area_km2(z["lat"].values, z["lon"].values)
    inside = zone >= 0
    assessed = area[inside & (cls >= 0) & (cls != 9)].sum()
    seen = 0
    for code, label in ATTRIBUTION_CLASSES.items():
        a = area[inside & (cls == code)].sum()
        n = int((inside & (cls == code)).sum())
        share = "n/a" if code in (-1, 9) else f"{100 * a / assessed:.1f} %"
        row = re.search(rf"^\| {code} \| {re.escape(label)} \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$", md, re.M)
        assert row, (code, md)
        assert row.group(2).strip() == share, (code, row.group(0))
        assert int(row.group(3).strip().replace(",", "")) == n
        seen += n
    assert seen == int(inside.sum())
    # discoveries at the FDR target: pixels with BH q < 0.05, per test
    for test in ("actual", "climate", "residual"):
        q = _layer(results, f"{test}_q")
        m = re.search(rf"^\| `{test}_trend` \| ([\d,]+) \| ([\d,]+) \|", md, re.M)
        assert m, md
        assert int(m.group(2).replace(",", "")) == int((q < 0.05).sum())
    assert "target q = 0.05" in md
    # RESTREND refusals counted among valid pixels
    ref = _layer(results, "restrend_refused")
    valid = np.isfinite(_layer(results, "actual_slope"))
    n_ref = int((valid & (ref > 0)).sum())
    assert f"RESTREND refused; attribution class 9): {n_ref:,} pixels" in md
    # achieved FDR against the planted truth, from recovery.csv
    rec = pd.read_csv(d / "pixel" / "recovery.csv")
    v = rec.loc[rec["metric"] == "fdr_actual_trend", "value"].iloc[0]
    assert f"`fdr_actual_trend` {100 * v:.1f} %" in md


def test_summary_links_resolve_and_maps_are_shown(results):
    md = pixel_study_summary(results / "tiny_pixel", rel_to=results)
    links = re.findall(r"\]\(([^)]+)\)", md)
    assert "tiny_pixel/pixel/zonal_panel.csv" in links and "tiny_pixel/pixel/class_areas.csv" in links
    for link in links:
        assert (results / link).exists(), link
    imgs = re.findall(r"!\[[^]]*\]\(([^)]+)\)", md)
    assert "tiny_pixel/pixel/maps/attribution_class.png" in imgs
    assert "Cloud-Optimised GeoTIFF" in md and "NetCDF" in md


def test_build_summary_dispatches_pixel_studies(results):
    from dlddrivers.summary import build_summary

    md = build_summary(results, ["tiny_pixel"], validation=results / "none.csv", rel_to=results)
    assert "## Study `tiny_pixel` (pixel study)" in md
    head, details = md.split("# Details", 1)
    assert "Area per attribution class" in head and "tiny_pixel" not in details.split("## Expected error")[0]


def test_attribution_area_table_by_hand():
    ca = pd.DataFrame({
        "unit": ["A", "A", "A", "B", "B", "B"], "scheme": ["attribution"] * 6,
        "class": [0, 2, 9, 0, 2, 9], "label": ["none", "human", "refused"] * 2,
        "area_km2": [10.0, 30.0, 5.0, 20.0, 0.0, 1.0],
        "share": [0.25, 0.75, np.nan, 1.0, 0.0, np.nan],
        "assessed_km2": [40.0] * 3 + [20.0] * 3, "n_pixels": [1, 3, 1, 2, 0, 1]})
    t = attribution_area_table(ca).set_index("class")
    assert t.loc[0, "area_km2"] == 30 and t.loc[0, "share"] == pytest.approx(0.5)
    assert t.loc[2, "share"] == pytest.approx(0.5) and np.isnan(t.loc[9, "share"])
    assert t.loc[9, "n_pixels"] == 2 and (t["assessed_km2"] == 60).all()
