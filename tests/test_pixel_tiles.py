"""Tiled pixel studies (one Snakemake job per tile + a gather job) and Cloud-Optimised GeoTIFF
layers: the tiled run equals the untiled run exactly, the field-wide FDR is over all pixels
(not per tile), the workflow schedules one job per tile (also with the SLURM profile), and
every COG layer is valid (rio-cogeo) with the grid's CRS, transform, nodata and band metadata."""

from __future__ import annotations

import filecmp
import re
import struct

import numpy as np
import pytest
import yaml
from conftest import REPO, cluster_env, run_snakemake

from dlddrivers.errors import ConfigError
from dlddrivers.gridded import methods as M
from dlddrivers.gridded import pipeline as gp

BBOX = [100.0, 44.0, 107.0, 49.0]
# two units split along the diagonal: both cross every tile edge of the 2 x 3 split below
GEOMS = {"A": [[np.array([[100, 44], [107, 44], [100, 49], [100, 44]], float)]],
         "B": [[np.array([[107, 44], [107, 49], [100, 49], [107, 44]], float)]]}
OPTS = {"chunk": 16, "performance_by": "units", "cog_blocksize": 16}


@pytest.fixture(scope="module")
def stack():
    from dlddrivers.gridded.synthetic import DEFAULTS, generate

    ds = generate(40, 56, range(1991, 2021), 7, {**DEFAULTS, "bbox": BBOX})
    # a static carried layer and a missing-data hole on a tile edge (rows 30-33, columns 31-33)
    ds["static_density"] = ds["ndvi"].isel(year=0) * 10
    ndvi = ds["ndvi"].values.copy()
    ndvi[:, 30:34, 31:34] = np.nan
    ds["ndvi"] = (ds["ndvi"].dims, ndvi)
    return ds


def _layers(ds):
    return {k: ds[k].chunk({"lat": 16, "lon": 16}) for k in ("ndvi", "precip", "temp", "static_density")}


def _study(tiles):
    return {"name": "tiny", "outcomes": ["ndvi"], "drivers": ["precip", "temp"],
            "carry": ["static_density"], "units": ["A", "B"], "tiles": tiles}


@pytest.fixture(scope="module")
def runs(stack, tmp_path_factory):
    d = tmp_path_factory.mktemp("tiles")
    study = _study([2, 3])
    whole = gp.run_pixel_study(_layers(stack), study, d / "whole", GEOMS, OPTS, maps=False)
    tiles = []
    for t in gp.tile_ids(study["tiles"]):  # each tile through its file, as the Snakemake jobs do
        f = gp.save_tile(gp.run_tile(_layers(stack), study, GEOMS, t, OPTS), d / "tiles" / f"{t}.npz")
        tiles.append(gp.load_tile(f))
    tiled = gp.run_pixel_study(_layers(stack), study, d / "tiled", GEOMS, OPTS, maps=False, tiles=tiles)
    return d, whole, tiled, tiles


def test_tile_windows_split_along_chunks_and_cover_the_grid():
    w = gp.tile_windows((40, 56), 16, [2, 3])
    assert list(w) == gp.tile_ids([2, 3]) == ["r0c0", "r0c1", "r0c2", "r1c0", "r1c1", "r1c2"]
    # 3 chunk rows (16, 16, 8) in 2 tiles; 4 chunk columns (16 x 3, 8) in 3 tiles
    assert [(s.start, s.stop) for s in (w["r0c0"][0], w["r1c0"][0])] == [(0, 32), (32, 40)]
    assert [(w[f"r0c{j}"][1].start, w[f"r0c{j}"][1].stop) for j in range(3)] == [(0, 32), (32, 48), (48, 56)]
    cover = np.zeros((40, 56), int)
    for rs, cs in w.values():
        cover[rs, cs] += 1
        assert rs.start % 16 == 0 and cs.start % 16 == 0
    assert (cover == 1).all()
    with pytest.raises(ConfigError, match=r"studies\.x\.tiles.*1 to 3 tiles along lat"):
        gp.tile_windows((40, 56), 16, [4, 1], key="studies.x.tiles")
    assert gp.tile_ids(None) == []


def test_tiled_run_equals_untiled_run_exactly(runs):
    import xarray as xr

    d, whole, tiled, tiles = runs
    assert len(tiles) == 6 and whole["n_pixels"] == tiled["n_pixels"] == 40 * 56
    csvs = sorted(p.name for p in (d / "whole").glob("*.csv"))
    assert {"zonal_panel.csv", "class_areas.csv", "unit_summaries.csv", "drops.csv"} <= set(csvs)
    for name in csvs:  # zonal tables, class areas, drops: byte for byte
        assert filecmp.cmp(d / "whole" / name, d / "tiled" / name, shallow=False), name
    names = sorted(p.name for p in (d / "whole" / "layers").glob("*.nc"))
    assert "attribution_class.nc" in names and "actual_q.nc" in names
    for name in names:  # every layer, every pixel (tile edges included), NaN where NaN
        with xr.open_dataset(d / "whole" / "layers" / name) as a, xr.open_dataset(d / "tiled" / "layers" / name) as b:
            v = name.removesuffix(".nc")
            assert np.array_equal(a[v].values, b[v].values, equal_nan=True), name
            assert np.array_equal(a["lat"].values, b["lat"].values)
    # the hole on the tile corner is missing in both, and counted as dropped
    with xr.open_dataset(d / "tiled" / "layers" / "actual_slope.nc") as b:
        assert np.isnan(b["actual_slope"].values[30:34, 31:34]).all()
        assert np.isfinite(b["actual_slope"].values[29, 31]) and np.isfinite(b["actual_slope"].values[34, 31])
    assert whole["attribution_share_of_assessed_area"] == tiled["attribution_share_of_assessed_area"]


def test_gather_applies_fdr_over_all_pixels_not_per_tile(runs):
    import xarray as xr
    from scipy.stats import false_discovery_control

    d, _, _, tiles = runs
    with xr.open_dataset(d / "tiled" / "layers" / "actual_q.nc") as ds:
        q = ds["actual_q"].values.astype(float)
    p = np.full((40, 56), np.nan)
    per_tile = np.full((40, 56), np.nan)
    for t in tiles:
        r0, r1, c0, c1 = t["window"]
        p[r0:r1, c0:c1] = t["layers"]["actual_p"]
        per_tile[r0:r1, c0:c1] = M.bh_fdr(t["layers"]["actual_p"])
    ok = np.isfinite(p)
    expect = np.full(p.shape, np.nan)
    expect[ok] = false_discovery_control(p[ok], method="bh")
    assert np.allclose(q[ok], expect[ok], rtol=1e-6, atol=1e-7)
    # per-tile BH would give other q-values (the test can tell the two apart)
    assert np.abs(per_tile[ok] - expect[ok]).max() > 1e-3


def test_tile_job_reads_only_the_blocks_of_its_window(stack):
    """Memory per tile job: only the stack blocks inside the tile's window are ever computed."""
    import dask.array as da
    import xarray as xr

    touched: set[tuple[str, int, int]] = set()

    def guard(name):
        def f(block, block_info=None):
            loc = block_info[0]["array-location"]
            touched.add((name, loc[1][0], loc[2][0]))
            return block
        return f

    layers = {}
    for k in ("ndvi", "precip", "temp"):
        arr = da.from_array(stack[k].values, chunks=(-1, 16, 16)).map_blocks(guard(k), dtype=np.float32)
        layers[k] = xr.DataArray(arr, dims=stack[k].dims, coords=stack[k].coords)
    study = {**_study([2, 3]), "carry": []}
    res = gp.run_tile(layers, study, GEOMS, "r0c1", OPTS)
    assert res["window"] == [0, 32, 32, 48]
    assert touched == {(k, r, 32) for k in ("ndvi", "precip", "temp") for r in (0, 16)}


def test_mosaic_refuses_missing_tiles(runs, stack, tmp_path):
    _, _, _, tiles = runs
    with pytest.raises(ConfigError, match="uncovered"):
        gp.run_pixel_study(_layers(stack), _study([2, 3]), tmp_path, GEOMS, OPTS, maps=False, tiles=tiles[:-1])
    with pytest.raises(ConfigError, match="r9c9"):
        gp.run_tile(_layers(stack), _study([2, 3]), GEOMS, "r9c9", OPTS)


def test_tile_file_round_trip_is_exact(runs, tmp_path):
    _, _, _, tiles = runs
    t = tiles[4]
    back = gp.load_tile(gp.save_tile(t, tmp_path / "t.npz"))
    assert back["window"] == t["window"] == [32, 40, 32, 48]
    for n in gp.PIXEL_LAYERS:
        assert back["layers"][n].dtype == np.float32
        assert np.array_equal(back["layers"][n], t["layers"][n], equal_nan=True)
    assert [k for k, _ in back["parts"]["ndvi"]] == [k for k, _ in t["parts"]["ndvi"]] == [(32, 32)]
    from dlddrivers.errors import RawFileError

    (tmp_path / "bad.npz").write_bytes(b"")
    with pytest.raises(RawFileError, match=r"bad\.npz.*save_tile"):
        gp.load_tile(tmp_path / "bad.npz")
    np.savez(tmp_path / "partial.npz", window=np.arange(4))
    with pytest.raises(RawFileError, match=r"partial\.npz.*layer/actual_slope"):
        gp.load_tile(tmp_path / "partial.npz")


# ------------------------------------------------------------------------- COG layers
def _ifd_offsets_and_first_tile(path):
    """Offsets of every IFD of a classic or Big TIFF and the smallest tile offset."""
    b = path.read_bytes()
    e = "<" if b[:2] == b"II" else ">"
    big = struct.unpack(e + "H", b[2:4])[0] == 43
    off = struct.unpack(e + "Q", b[8:16])[0] if big else struct.unpack(e + "I", b[4:8])[0]
    ifds, tiles = [], []
    sizes = {3: 2, 4: 4, 16: 8}
    while off:
        ifds.append(off)
        n = struct.unpack(e + ("Q" if big else "H"), b[off:off + (8 if big else 2)])[0]
        p = off + (8 if big else 2)
        esz = 20 if big else 12
        for i in range(n):
            ent = b[p + i * esz:p + (i + 1) * esz]
            tag, typ = struct.unpack(e + "HH", ent[:4])
            cnt = struct.unpack(e + ("Q" if big else "I"), ent[4:12] if big else ent[4:8])[0]
            val = ent[12:20] if big else ent[8:12]
            if tag == 324:  # TileOffsets
                sz = sizes[typ]
                raw = val if cnt * sz <= len(val) else b[struct.unpack(e + ("Q" if big else "I"), val)[0]:][:cnt * sz]
                fmt = {2: "H", 4: "I", 8: "Q"}[sz]
                tiles += [t for t in struct.unpack(e + fmt * cnt, raw[:cnt * sz]) if t]
        p += n * esz
        off = struct.unpack(e + ("Q" if big else "I"), b[p:p + (8 if big else 4)])[0]
    return ifds, min(tiles)


def test_cog_layers_are_valid_cogs_with_grid_and_metadata(runs):
    import rasterio
    import xarray as xr
    from rio_cogeo.cogeo import cog_validate

    d, _, _, _ = runs
    lay = d / "tiled" / "layers"
    tifs = sorted(lay.glob("*.tif"))
    assert {p.stem for p in tifs} == set(gp.LAYER_INFO)
    for p in tifs:
        valid, errors, _warnings = cog_validate(str(p))
        assert valid, (p.name, errors)
        ifds, first_tile = _ifd_offsets_and_first_tile(p)
        assert len(ifds) == 3 and max(ifds) < first_tile, p.name  # all IFDs before the data
    with rasterio.open(lay / "actual_slope.tif") as src, xr.open_dataset(lay / "actual_slope.nc") as nc:
        assert src.crs.to_epsg() == 4326
        assert src.block_shapes == [(16, 16)] and src.profile["tiled"]
        assert src.overviews(1) == [2, 4]  # 56 -> 28 -> 14 pixels: fits one 16-pixel tile
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert np.isnan(src.nodata)
        assert src.descriptions == ("actual_slope",) and src.units == ("outcome units per year",)
        assert src.tags(1)["estimand"] == "trend"
        t = src.transform
        # north-up: the top-left corner of the bbox, 0.125 degree cells
        assert (t.c, t.f, t.a, t.e) == pytest.approx((BBOX[0], BBOX[3], 0.125, -0.125))
        lat = nc["lat"].values
        a = src.read(1)
        ref = nc["actual_slope"].values if lat[0] > lat[-1] else nc["actual_slope"].values[::-1]
        assert np.array_equal(a, ref, equal_nan=True)
        # the pixel at a given lon/lat is the same in both files
        r, c = src.index(103.0625, 46.0625)
        assert a[r, c] == nc["actual_slope"].sel(lat=46.0625, lon=103.0625).item()
    with rasterio.open(lay / "attribution_class.tif") as src:
        assert src.dtypes[0] == "int8" and src.nodata == -128
        assert src.tags(1)["flag_values"] == " ".join(str(k) for k in M.ATTRIBUTION_CLASSES)
        # class overviews by mode: only existing class codes
        ov = src.read(1, out_shape=(1, 10, 14))
        assert set(np.unique(ov)) <= set(M.ATTRIBUTION_CLASSES)


def test_cog_south_to_north_grid_is_flipped_and_irregular_grid_refused(tmp_path):
    import rasterio
    import xarray as xr

    from dlddrivers.gridded.io import write_cog

    v = np.arange(12, dtype=np.float32).reshape(3, 4)
    da = xr.DataArray(v, dims=("lat", "lon"), coords={"lat": [10.5, 11.5, 12.5], "lon": [0.5, 1.5, 2.5, 3.5]},
                      name="x")
    write_cog(da, tmp_path / "x.tif", {"units": "mm", "estimand": "trend"})
    with rasterio.open(tmp_path / "x.tif") as src:
        assert np.array_equal(src.read(1), v[::-1])  # row 0 = northernmost (lat 12.5)
        assert (src.transform.c, src.transform.f) == pytest.approx((0.0, 13.0))
        assert src.units == ("mm",)
    bad = da.assign_coords(lon=[0.5, 1.5, 2.5, 4.5])
    with pytest.raises(ValueError, match=r"x2\.tif.*'lon' is not a regular grid"):
        write_cog(bad, tmp_path / "x2.tif")


def test_layer_formats_option(stack, tmp_path):
    gp.run_pixel_study(_layers(stack), _study(None), tmp_path, GEOMS,
                       {**OPTS, "layer_formats": ["cog"]}, maps=False)
    assert (tmp_path / "layers" / "actual_slope.tif").is_file()
    assert not (tmp_path / "layers" / "actual_slope.nc").exists()
    with pytest.raises(ConfigError, match="layer_formats"):
        gp.options({"layer_formats": ["zarr"]})
    with pytest.raises(ConfigError, match="cog_blocksize"):
        gp.options({"cog_blocksize": 100})


# ------------------------------------------------------------------------- workflow
def _tiled_config(tmp_path, tiles):
    cfg = yaml.safe_load((REPO / "config" / "pixel.yaml").read_text(encoding="utf-8"))
    cfg["studies"]["mongolia_pixel_synthetic"]["tiles"] = tiles
    p = tmp_path / "pixel_tiled.yaml"
    p.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return p


def _jobs(stdout: str) -> dict[str, int]:
    m = re.search(r"Job stats:\s*\n(.*?)\n\s*\n", stdout, re.S)
    assert m, stdout[-3000:]
    return {r.split()[0]: int(r.split()[1]) for r in m.group(1).splitlines()[2:] if len(r.split()) == 2}


@pytest.mark.parametrize("profile", [False, True])
def test_dry_run_schedules_one_job_per_tile(snapshot, tmp_path, profile):
    cfg = _tiled_config(tmp_path, [1, 3])
    args = ["-n", "--configfile", str(cfg), "--config", f"snapshot_dir={snapshot}",
            f"results_dir={tmp_path / 'results'}", "validation=False"]
    args = (["--profile", "profiles/slurm"] if profile else ["--cores", "2"]) + args
    r = run_snakemake(*args, env=cluster_env() if profile else None)
    assert r.returncode == 0, r.stderr[-4000:]
    out = r.stdout + r.stderr
    jobs = _jobs(out)
    assert jobs["pixel_tile"] == 3 and jobs["pixel_study"] == 1, jobs
    for t in ("r0c0", "r0c1", "r0c2"):
        assert f"pixel_tiles/{t}.npz" in out
    # untiled: no tile job
    r = run_snakemake("-n", "--cores", "2", "--configfile", "config/pixel.yaml", "--config",
                      f"snapshot_dir={snapshot}", f"results_dir={tmp_path / 'r2'}", "validation=False")
    assert r.returncode == 0 and "pixel_tile" not in _jobs(r.stdout + r.stderr)
