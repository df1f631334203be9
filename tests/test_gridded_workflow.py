"""Pixel studies end to end through Snakemake: on the synthetic stack (recovery, layers, zonal
panel joining the aimag study) and on a local 127.0.0.1 "provider" serving small files in the
exact formats of TerraClimate (THREDDS NetCDF Subset Service) and PKU GIMMS NDVI V1.2 (Zenodo
decade zip of two-band uint16 GeoTIFFs)."""

from __future__ import annotations

import io
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, run_snakemake

pytestmark = pytest.mark.slow

AIMAGS = ["MN11", "MN21", "MN22", "MN23", "MN41", "MN42", "MN43", "MN44", "MN45", "MN46", "MN48",
          "MN61", "MN62", "MN63", "MN64", "MN65", "MN67", "MN81", "MN82", "MN83", "MN84", "MN85"]


@pytest.fixture(scope="module")
def synthetic_run(snapshot, tmp_path_factory):
    out = tmp_path_factory.mktemp("pixel") / "results"
    r = run_snakemake("--cores", "2", "--configfile", "config/pixel.yaml", "--config",
                      f"snapshot_dir={snapshot}", f"results_dir={out}", "validation=False")
    assert r.returncode == 0, r.stderr[-4000:]
    return out / "mongolia_pixel_synthetic" / "pixel"


def test_synthetic_pixel_study_outputs_and_recovery(synthetic_run):
    import xarray as xr

    d = synthetic_run
    for f in ("recovery.csv", "zonal_panel.csv", "zonal_panel_wide.csv", "class_areas.csv",
              "unit_summaries.csv", "drops.csv", "run.json", "maps/attribution_class.png",
              "layers/attribution_class.nc", "layers/residual_slope.nc", "layers/sdg_prod5.nc"):
        assert (d / f).is_file(), f
    rec = pd.read_csv(d / "recovery.csv")
    main = rec[rec["metric"].isin(["class_accuracy", "actual_slope_rmse", "fdr_actual_trend"])]
    assert main["met"].astype(bool).all(), main
    with xr.open_dataset(d / "layers" / "attribution_class.nc") as ds:
        cls = ds["attribution_class"]
        assert cls.attrs["references"].startswith("Xu et al. 2010")
        assert set(np.unique(cls.values)) <= set(range(-1, 10))
    ca = pd.read_csv(d / "class_areas.csv")
    att = ca[(ca["scheme"] == "attribution") & ~ca["class"].isin([-1, 9])]
    # shares of the assessed area add up to one in every unit with assessed pixels
    sums = att.groupby("unit")["share"].sum()
    assert np.allclose(sums[sums > 0], 1.0)
    assert (ca["estimand"] == "share of area").all()
    # the study's block in the run's summary, and its COG layers
    md = (d.parent.parent / "summary.md").read_text(encoding="utf-8")
    assert "## Study `mongolia_pixel_synthetic` (pixel study)" in md
    assert (d / "layers" / "attribution_class.tif").is_file()


def test_zonal_panel_joins_the_aimag_study(synthetic_run, snapshot):
    from dlddrivers.config import load_config, study_config
    from dlddrivers.panel import build_panel
    from dlddrivers.pipeline import setup

    zp = pd.read_csv(synthetic_run / "zonal_panel.csv")
    assert set(zp["unit"]) <= set(AIMAGS)
    # one `unit,year,value` file per layer, readable as a `source: csv` catalogue entry
    f = pd.read_csv(synthetic_run / "zonal_ndvi_synthetic.csv")
    assert list(f.columns) == ["unit", "year", "value"]
    cfg = load_config("config/config.yaml", overrides={"snapshot_dir": str(snapshot)})
    reg, cat, src = setup(cfg)
    res = build_panel(study_config(cfg, "mongolia_aimag"), cat, src, reg, cfg["snapshot_dir"])
    wide = pd.read_csv(synthetic_run / "zonal_panel_wide.csv")
    joined = res.panel.merge(wide, on=["unit", "year"], how="inner")
    assert joined["unit"].nunique() == res.panel["unit"].nunique()
    assert joined["year"].nunique() == res.panel["year"].nunique()
    assert joined["ndvi_synthetic"].notna().all()


# ----------------------------------------------------------------------- local provider
BOX = [105.0, 46.0, 108.0, 48.0]
YEARS = list(range(2011, 2021))


def _ppt(year, lat, lon):
    """Deterministic monthly precipitation field (mm) of the fake TerraClimate."""
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    base = 20 + 10 * np.sin(la) + 5 * np.cos(lo) + (year - 2010) * 0.8
    return np.stack([base * (1 + 0.5 * np.sin(m + year)) for m in range(12)])


def _terraclimate_nc(var: str, year: int, q: dict) -> bytes:
    import netCDF4

    north, south = float(q["north"][0]), float(q["south"][0])
    west, east = float(q["west"][0]), float(q["east"][0])
    step = 1 / 24
    glat = 90 - step * (np.arange(4320) + 0.5)
    glon = -180 + step * (np.arange(8640) + 0.5)
    lat = glat[(glat <= north) & (glat >= south)]
    lon = glon[(glon >= west) & (glon <= east)]
    data = _ppt(year, lat, lon) if var == "ppt" else 15 + 0.1 * _ppt(year, lat, lon)
    mem = netCDF4.Dataset("inmemory.nc", "w", memory=1024)
    mem.createDimension("time", 12)
    mem.createDimension("lat", lat.size)
    mem.createDimension("lon", lon.size)
    t = mem.createVariable("time", "f8", ("time",))
    t.units = "days since 1900-01-01 00:00:00"
    t[:] = [(pd.Timestamp(year, m, 1) - pd.Timestamp(1900, 1, 1)).days for m in range(1, 13)]
    mem.createVariable("lat", "f8", ("lat",))[:] = lat
    mem.createVariable("lon", "f8", ("lon",))[:] = lon
    v = mem.createVariable(var, "i2", ("time", "lat", "lon"), fill_value=np.int16(-32768))
    v.scale_factor = 0.1 if var == "ppt" else 0.01
    v.add_offset = 0.0
    v.units = "mm" if var == "ppt" else "degC"
    v[:] = data
    return bytes(mem.close())


def _ndvi_dn(year, half_index, lat, lon):
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    ndvi = 0.25 + 0.05 * np.sin(3 * la) * np.cos(2 * lo) + 0.004 * (year - 2011) + 0.01 * np.sin(half_index)
    dn = np.round(ndvi * 1000).astype(np.uint16)
    dn[0, 0] = 65535  # fill: non-vegetated
    return dn


def _pku_zip(period: str) -> bytes:
    import rasterio
    from rasterio.io import MemoryFile
    from rasterio.transform import from_origin

    a, b = (int(v) for v in period.split("_"))
    step = 1 / 12
    # a regional cut of the global grid (origin on the global 1/12 degree lattice)
    x0, y1 = 104.0, 49.0
    lat = y1 - step * (np.arange(48) + 0.5)
    lon = x0 + step * (np.arange(60) + 0.5)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for y in range(max(a, YEARS[0]), min(b, YEARS[-1]) + 1):
            for k in range(24):
                mo, h = k // 2 + 1, k % 2 + 1
                with MemoryFile() as mf:
                    with mf.open(driver="GTiff", width=60, height=48, count=2, dtype="uint16",
                                 crs="EPSG:4326", transform=from_origin(x0, y1, step, step)) as ds:
                        ds.write(_ndvi_dn(y, k, lat, lon), 1)
                        ds.write(np.zeros((48, 60), np.uint16), 2)
                    zf.writestr(f"PKU_GIMMS_NDVI_V1.2_{y}{mo:02d}{h:02d}.tif", mf.read())
    assert rasterio  # imported for the driver
    return buf.getvalue()


class _Provider(BaseHTTPRequestHandler):
    requests: list[str] = []

    def log_message(self, *a):  # quiet
        pass

    def do_GET(self):
        u = urlparse(self.path)
        _Provider.requests.append(self.path)
        name = Path(u.path).name
        if u.path.startswith("/thredds/ncss/TERRACLIMATE_ALL/data/TerraClimate_"):
            _, var, year = name.removesuffix(".nc").split("_")
            body = _terraclimate_nc(var, int(year), parse_qs(u.query))
            ctype = "application/x-netcdf"
        elif u.path.startswith("/records/8253971/files/PKU_GIMMS_NDVI_AVHRR_MODIS_consolidated_"):
            body = _pku_zip(name.removeprefix("PKU_GIMMS_NDVI_AVHRR_MODIS_consolidated_").removesuffix(".zip"))
            ctype = "application/zip"
        else:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def provider():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Provider)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def test_pixel_study_on_local_provider_files(provider, snapshot, tmp_path):
    import xarray as xr

    src = yaml.safe_load((REPO / "config" / "sources.yaml").read_text(encoding="utf-8"))
    src["pixel_sources"]["terraclimate"]["url"] = f"{provider}/thredds/ncss/TERRACLIMATE_ALL/data"
    src["pixel_sources"]["pku_gimms_ndvi"]["url"] = f"{provider}/records/8253971/files"
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump(src, sort_keys=False), encoding="utf-8")
    study = {"description": "local provider", "level": "pixel", "zone_level": "aimag",
             "units": AIMAGS, "years": [YEARS[0], YEARS[-1]], "bbox": BOX,
             "outcomes": ["ndvi_gs_pku"], "drivers": ["precip_terraclimate", "tmax_gs_terraclimate"],
             "carry": []}
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump({"run": ["local_pixel"], "studies": {"local_pixel": study}}),
                                       encoding="utf-8")
    raw, out = tmp_path / "raw", tmp_path / "results"
    r = run_snakemake("--cores", "2", "--configfile", str(tmp_path / "cfg.yaml"), "--config",
                      f"snapshot_dir={snapshot}", f"sources={tmp_path / 'sources.yaml'}",
                      f"raw_dir={raw}", f"results_dir={out}", "validation=False")
    assert r.returncode == 0, r.stderr[-4000:]
    # TerraClimate came subset to the box; PKU as the decade zip
    tc = raw / "terraclimate" / "local_pixel" / "TerraClimate_ppt_2015.nc"
    with xr.open_dataset(tc) as ds:
        assert float(ds["lat"].max()) <= BOX[3] and float(ds["lat"].min()) >= BOX[1]
        assert ds["ppt"].encoding["dtype"] == np.int16
    assert (raw / "pku_gimms_ndvi" / "PKU_GIMMS_NDVI_AVHRR_MODIS_consolidated_2011_2022.zip").is_file()
    assert any("north=48.0" in q and "west=105.0" in q for q in _Provider.requests)
    # the reader's growing-season NDVI against the served values, by hand
    from dlddrivers.gridded.products import open_pku_ndvi

    ndvi = open_pku_ndvi([raw / "pku_gimms_ndvi" / "PKU_GIMMS_NDVI_AVHRR_MODIS_consolidated_2011_2022.zip"],
                         BOX, YEARS, months=[5, 6, 7, 8, 9], how="mean")
    step = 1 / 12
    tlat = 49.0 - step * (np.arange(48) + 0.5)  # the served tile (see _pku_zip)
    tlon = 104.0 + step * (np.arange(60) + 0.5)
    la, lo = ndvi["lat"].values[3], ndvi["lon"].values[5]
    i, j = int(np.argmin(abs(tlat - la))), int(np.argmin(abs(tlon - lo)))
    assert abs(tlat[i] - la) < 1e-9 and abs(tlon[j] - lo) < 1e-9  # on the product's lattice
    # May-Sep = half-months 8..17 of the year; DN x 0.001
    hand = np.mean([_ndvi_dn(2015, k, tlat, tlon)[i, j] * 0.001 for k in range(8, 18)])
    assert float(ndvi.sel(year=2015, lat=la, lon=lo)) == pytest.approx(hand, abs=1e-6)
    # the planted fill (65535) is missing, not 65.535
    full = open_pku_ndvi([raw / "pku_gimms_ndvi" / "PKU_GIMMS_NDVI_AVHRR_MODIS_consolidated_2011_2022.zip"],
                         [104.0, 45.0, 109.0, 49.0], YEARS, months=[5, 6, 7, 8, 9])
    assert np.isnan(float(full.sel(year=2015, lat=tlat[0], lon=tlon[0])))
    d = out / "local_pixel" / "pixel"
    rj = pd.read_json(d / "run.json", typ="series")
    assert rj["n_pixels"] == ndvi.sizes["lat"] * ndvi.sizes["lon"]
    zp = pd.read_csv(d / "zonal_panel.csv")
    assert set(zp["indicator"]) == {"ndvi_gs_pku", "precip_terraclimate", "tmax_gs_terraclimate"}
    assert zp.loc[zp["value"].notna(), "year"].between(YEARS[0], YEARS[-1]).all()
    # the planted NDVI rise (0.004 per year everywhere) is found in every valid pixel
    with xr.open_dataset(d / "layers" / "actual_slope.nc") as ds:
        s = ds["actual_slope"].values
        assert np.nanmedian(s) == pytest.approx(0.004, abs=0.0015)


def test_tiled_workflow_equals_untiled(synthetic_run, snapshot, tmp_path):
    """`tiles: [1, 3]`: three pixel_tile jobs and a gather give the untiled study's tables and
    layers exactly."""
    import filecmp

    import xarray as xr

    cfg = yaml.safe_load((REPO / "config" / "pixel.yaml").read_text(encoding="utf-8"))
    cfg["studies"]["mongolia_pixel_synthetic"]["tiles"] = [1, 3]
    (tmp_path / "tiled.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    out = tmp_path / "results"
    r = run_snakemake("--cores", "2", "--configfile", str(tmp_path / "tiled.yaml"), "--config",
                      f"snapshot_dir={snapshot}", f"results_dir={out}", "validation=False")
    assert r.returncode == 0, r.stderr[-4000:]
    for t in ("r0c0", "r0c1", "r0c2"):
        assert (out / "logs" / "mongolia_pixel_synthetic" / f"pixel_tile_{t}.log").is_file()
    tiled = out / "mongolia_pixel_synthetic" / "pixel"
    csvs = sorted(p.name for p in synthetic_run.glob("*.csv"))
    assert "zonal_panel.csv" in csvs and "recovery.csv" in csvs
    for name in csvs:
        assert filecmp.cmp(synthetic_run / name, tiled / name, shallow=False), name
    for p in sorted((synthetic_run / "layers").glob("*.nc")):
        with xr.open_dataset(p) as a, xr.open_dataset(tiled / "layers" / p.name) as b:
            v = next(iter(a.data_vars.keys() - {"crs"}))
            assert np.array_equal(a[v].values, b[v].values, equal_nan=True), p.name
