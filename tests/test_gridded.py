"""Pixel path (dlddrivers.gridded): every vectorised method against a library or a hand
computation, chunk invariance on dask, the reader on provider-format files, zonal aggregation
against hand sums and real boundaries, and planted-truth recovery."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest

from dlddrivers.gridded import methods as M
from dlddrivers.gridded import synthetic as S
from dlddrivers.gridded import zonal as Z


@pytest.fixture(scope="module")
def series():
    rng = np.random.default_rng(7)
    y = rng.normal(size=(40, 30)).cumsum(axis=1) * 0.3 + rng.normal(size=(40, 30))
    y[3, [5, 17]] = np.nan  # missing years
    y[4] = np.round(y[4])  # ties
    y[5] = np.round(y[5] * 2) / 2
    return y


def test_mann_kendall_theil_sen_match_pymannkendall_and_scipy(series):
    import pymannkendall as pmk
    from scipy.stats import theilslopes

    x = np.arange(1991, 2021, dtype=float)
    r = M.mk_theilsen(series, x)
    for i, yi in enumerate(series):
        ok = np.isfinite(yi)
        mk = pmk.original_test(yi[ok])
        ts = theilslopes(yi[ok], x[ok], 0.95)
        assert r["mk_s"][i] == mk.s
        assert r["var_s"][i] == pytest.approx(mk.var_s, rel=1e-12)
        assert r["p"][i] == pytest.approx(mk.p, rel=1e-9, abs=1e-12)
        assert r["n"][i] == ok.sum()
        for k, ref in (("slope", ts.slope), ("ci_low", ts.low_slope), ("ci_high", ts.high_slope),
                       ("intercept", ts.intercept)):
            assert r[k][i] == pytest.approx(ref, rel=1e-5, abs=1e-6 * (1 + abs(ref))), (i, k)


def test_tfpw_matches_pymannkendall_on_continuous_series():
    import pymannkendall as pmk

    rng = np.random.default_rng(3)
    e = rng.normal(size=(30, 25))
    y = e.copy()
    for t in range(1, 25):
        y[:, t] = 0.5 * y[:, t - 1] + e[:, t]
    y += 0.05 * np.arange(25)
    r = M.mk_theilsen(y, variant="tfpw")
    for i in range(30):
        w = pmk.trend_free_pre_whitening_modification_test(y[i])
        assert r["p"][i] == pytest.approx(w.p, rel=1e-6, abs=1e-9)
        assert r["slope"][i] == pytest.approx(w.slope, rel=1e-5)


def test_short_series_left_empty_and_counted():
    y = np.full((2, 12), np.nan)
    y[0, :5] = [1, 2, 3, 4, 5]
    y[1] = np.arange(12.0)
    r = M.mk_theilsen(y, min_years=8)
    assert np.isnan(r["slope"][0]) and r["n"][0] == 5
    assert r["slope"][1] == pytest.approx(1.0)


def test_ols_fit_matches_lstsq_and_f_test():
    import statsmodels.api as sm

    rng = np.random.default_rng(1)
    X = rng.normal(size=(6, 20, 2))
    y = 1 + X[..., 0] * np.arange(6)[:, None] * 0.3 + rng.normal(size=(6, 20))
    y[2, 4] = np.nan
    r = M.ols_fit(y, X)
    for i in range(6):
        ok = np.isfinite(y[i])
        f = sm.OLS(y[i][ok], sm.add_constant(X[i][ok])).fit()
        np.testing.assert_allclose(r["beta"][i], f.params, rtol=1e-9)
        assert r["f_p"][i] == pytest.approx(f.f_pvalue, rel=1e-7)
        assert r["r2"][i] == pytest.approx(f.rsquared, rel=1e-9)
        np.testing.assert_allclose(r["resid"][i][ok], f.resid, atol=1e-10)
        assert np.isnan(r["resid"][i][~ok]).all()


def test_restrend_refuses_without_climate_signal_and_recovers_planted_trends():
    rng = np.random.default_rng(5)
    T = 30
    t = np.arange(T, dtype=float)
    P = rng.normal(300, 60, size=(2, T))
    y = np.empty((2, T))
    y[0] = 0.001 * P[0] - 0.004 * t + rng.normal(0, 0.005, T)  # climate + human decline
    y[1] = rng.normal(0, 0.05, T)  # no relation to climate at all
    r = M.restrend(y, P[..., None], x=t)
    assert not r["refused"][0] and r["refused"][1]
    assert r["residual_slope"][0] == pytest.approx(-0.004, abs=0.001)
    assert np.isnan(r["residual_slope"][1]) and np.isnan(r["climate_slope"][1])
    assert np.isfinite(r["actual_slope"][1])  # the actual trend is still reported


def test_bh_fdr_matches_scipy():
    from scipy.stats import false_discovery_control

    rng = np.random.default_rng(2)
    p = rng.uniform(size=(30, 40)) ** 3
    p[0, :5] = np.nan
    q = M.bh_fdr(p)
    fin = np.isfinite(p)
    np.testing.assert_allclose(q[fin], false_discovery_control(p[fin], method="bh"), rtol=1e-12)
    assert np.isnan(q[~fin]).all()


def test_cell_area_on_the_sphere():
    lat = np.arange(-89.5, 90, 1.0)
    lon = np.arange(-179.5, 180, 1.0)
    a = M.cell_area_km2(lat, lon)
    R = M.AUTHALIC_RADIUS_KM
    assert a.sum() == pytest.approx(4 * np.pi * R**2, rel=1e-12)
    # hand: the 1 x 1 degree cell from 0 to 1 N = R^2 * (pi/180) * (sin 1 deg - sin 0)
    assert a[90, 0] == pytest.approx(R**2 * np.pi / 180 * np.sin(np.radians(1.0)), rel=1e-12)
    assert a[140, 0] / a[90, 0] == pytest.approx(np.cos(np.radians(50.5)) / np.cos(np.radians(0.5)), rel=1e-4)


def test_sdg_terms_match_the_scalar_trends_earth_module():
    from dlddrivers.methods import sdg

    rng = np.random.default_rng(11)
    y = rng.normal(0.3, 0.05, size=(25, 20)) + np.linspace(-0.04, 0.04, 20) * rng.choice([-1, 0, 1], (25, 1))
    years = np.arange(2001, 2021, dtype=float)
    tr = M.sdg_trajectory(y, years)
    st = M.sdg_state(y, slice(0, 13), slice(17, 20))
    for i in range(25):
        ref = sdg.trajectory_class(years, y[i])
        assert tr["cls"][i] == ref["cls"] and tr["deg"][i] == ref["deg"]
        s = sdg.state_classes(y[i, :13], float(y[i, 17:].mean()))
        assert st["baseline_class"][i] == s["baseline_class"]
        assert st["recent_class"][i] == s["recent_class"] and st["deg"][i] == s["deg"]
    combos = np.array(list(itertools.product([-1, 0, 1], [-1, 0, 1], [-1, 0])), dtype=float)
    got = M.sdg_prod5(combos[:, 0], combos[:, 1], combos[:, 2])
    assert list(got) == [sdg.prod5(int(a), int(b), int(c)) for a, b, c in combos]
    perf = M.sdg_performance(np.array([1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0.2]), None, min_pixels=5)
    p90 = np.percentile([1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0.2], 90)
    assert perf["ratio"][0] == pytest.approx(1 / p90)
    assert perf["deg"][0] == -1 and perf["deg"][-2] == 0


def test_attribution_class_scheme_by_hand():
    # actual, its significance, climate, sig, human, sig, refused -> expected code
    cases = [
        (-1, True, -1, True, -1, True, False, 3),   # degradation, both contribute
        (-1, True, -1, True, 0.5, True, False, 1),  # climate-dominated (human opposite sign)
        (-1, True, 0.2, False, -1, True, False, 2),  # human-dominated
        (-1, True, -1, False, -1, False, False, 4),  # unattributed
        (1, True, 1, True, 1, True, False, 7),
        (1, True, 1, True, -1, True, False, 5),
        (1, True, -1, True, 1, True, False, 6),
        (1, False, 1, True, 1, True, False, 0),  # actual not significant
        (-1, True, np.nan, False, np.nan, False, True, 9),  # climate fit refused
        (np.nan, False, np.nan, False, np.nan, False, False, -1),
    ]
    a = np.array(cases, dtype=float)
    got = M.attribution_class(a[:, 0], a[:, 1] > 0, a[:, 2], a[:, 3] > 0, a[:, 4], a[:, 5] > 0, a[:, 6] > 0)
    assert got.tolist() == [c[-1] for c in cases]


def test_dask_chunks_give_the_numpy_result():
    xr = pytest.importorskip("xarray")
    from dlddrivers.gridded.pipeline import DEFAULTS, pixel_analysis

    ds = S.generate(24, 30, range(1991, 2021), seed=4)
    opts = {**DEFAULTS, "performance_by": "region"}
    whole, _, _ = pixel_analysis(ds["ndvi"], [ds["precip"], ds["temp"]], opts)
    ch = {"year": -1, "lat": 7, "lon": 11}
    chunked, _, _ = pixel_analysis(ds["ndvi"].chunk(ch), [ds["precip"].chunk(ch), ds["temp"].chunk(ch)],
                                   {**opts, "scheduler": "threads", "workers": 2})
    for v in ("actual_slope", "actual_q", "residual_slope", "attribution_class", "sdg_prod5"):
        xr.testing.assert_identical(whole[v], chunked[v])
    # one pixel against the scalar path
    r = M.restrend(ds["ndvi"].values[:, 3, 4][None], np.stack([ds["precip"].values[:, 3, 4],
                   ds["temp"].values[:, 3, 4]], axis=-1)[None], x=np.arange(1991, 2021.0))
    assert chunked["residual_slope"].values[3, 4] == pytest.approx(r["residual_slope"][0], rel=1e-5)


def test_rasterize_units_square_with_hole_by_hand():
    outer = np.array([[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]], dtype=float)
    hole = np.array([[4, 4], [6, 4], [6, 6], [4, 6], [4, 4]], dtype=float)
    other = np.array([[12, 0], [14, 0], [14, 2], [12, 2], [12, 0]], dtype=float)
    lat = np.arange(0.5, 12, 1.0)[::-1]
    lon = np.arange(0.5, 15, 1.0)
    zone, units = Z.rasterize_units({"A": [[outer, hole]], "B": [[other]]}, lat, lon)
    assert units == ["A", "B"]
    assert (zone == 0).sum() == 100 - 4 and (zone == 1).sum() == 4
    i, j = list(lat).index(4.5), list(lon).index(5.5)
    assert zone[i, j] == -1  # inside the hole


def test_zonal_means_and_class_areas_by_hand():
    xr = pytest.importorskip("xarray")
    lat = np.array([41.5, 40.5])
    lon = np.array([100.5, 101.5, 102.5])
    area = M.cell_area_km2(lat, lon)
    zone = np.array([[0, 0, 1], [0, -1, 1]])
    vals = np.array([[[1.0, 2, 3], [4, 5, 6]], [[np.nan, 2, 3], [4, 5, 7]]])
    da = xr.DataArray(vals, dims=("year", "lat", "lon"),
                      coords={"year": [2000, 2001], "lat": lat, "lon": lon}).chunk({"lat": 1, "lon": 2})
    sums = Z.zonal_year_sums_delayed(da, zone, area, 2).compute()
    tab = Z.year_means_table(sums, [2000, 2001], ["A", "B"], Z.unit_grid_area(zone, area, 2), "v")
    w = area
    a2000 = (1 * w[0, 0] + 2 * w[0, 1] + 4 * w[1, 0]) / (w[0, 0] + w[0, 1] + w[1, 0])
    a2001 = (2 * w[0, 1] + 4 * w[1, 0]) / (w[0, 1] + w[1, 0])
    got = tab.set_index(["unit", "year"])["value"]
    assert got[("A", 2000)] == pytest.approx(a2000)
    assert got[("A", 2001)] == pytest.approx(a2001)
    assert got[("B", 2001)] == pytest.approx((3 * w[0, 2] + 7 * w[1, 2]) / (w[0, 2] + w[1, 2]))
    cov = tab.set_index(["unit", "year"])["coverage"]
    assert cov[("A", 2001)] == pytest.approx((w[0, 1] + w[1, 0]) / (w[0, 0] + w[0, 1] + w[1, 0]))
    ca = Z.class_areas(np.array([[1, 2, 1], [1, 0, -1]]), zone, area, ["A", "B"],
                       {-1: "none", 0: "z", 1: "one", 2: "two"}, "s", exclude=(-1,))
    row = ca[(ca["unit"] == "B") & (ca["class"] == 1)].iloc[0]
    assert row["area_km2"] == pytest.approx(w[0, 2]) and row["share"] == pytest.approx(1.0)
    assert row["not_assessed_km2"] == pytest.approx(w[1, 2])


def test_aimag_zones_match_boundary_areas(snapshot):
    from dlddrivers.sources.boundaries_mng import polygons_area, read_geometries

    geoms = read_geometries(snapshot / "ocha_cod_ab" / "mng_admbnda_adm1_nso_v3.geojson")
    lat = np.arange(52.2 - 0.025, 41.5, -0.05)
    lon = np.arange(87.7 + 0.025, 119.9, 0.05)
    zone, units = Z.rasterize_units(geoms, lat, lon)
    got = Z.unit_grid_area(zone, M.cell_area_km2(lat, lon), len(units))
    for k, u in enumerate(units):
        true = polygons_area(geoms[u]) / 1e6
        tol = 0.02 if true > 20000 else 0.15  # Ulaanbaatar and Orkhon are a few hundred cells
        assert got[k] == pytest.approx(true, rel=tol), u
    assert got.sum() == pytest.approx(sum(polygons_area(g) for g in geoms.values()) / 1e6, rel=0.005)


def test_open_stack_decodes_provider_packing_and_selects_region_lazily(tmp_path):
    """A TerraClimate-like file: int16 packed with scale_factor, _FillValue, latitude north to
    south, monthly time. The reader must select the box before loading and sum 12 months."""
    import netCDF4

    from dlddrivers.gridded.io import open_stack

    p = tmp_path / "TerraClimate_ppt_2001.nc"
    lat = np.arange(53.0, 40.0, -0.5)
    lon = np.arange(85.0, 122.0, 0.5)
    rng = np.random.default_rng(0)
    mm = rng.uniform(0, 80, size=(12, lat.size, lon.size)).round(1)
    mm[3, 2, 7] = np.nan
    with netCDF4.Dataset(p, "w") as nc:
        nc.createDimension("time", 12)
        nc.createDimension("lat", lat.size)
        nc.createDimension("lon", lon.size)
        t = nc.createVariable("time", "f8", ("time",))
        t.units = "days since 1900-01-01 00:00:00"
        t[:] = netCDF4.date2num([pd.Timestamp(2001, m, 1).to_pydatetime() for m in range(1, 13)], t.units)
        nc.createVariable("lat", "f8", ("lat",))[:] = lat
        nc.createVariable("lon", "f8", ("lon",))[:] = lon
        v = nc.createVariable("ppt", "i2", ("time", "lat", "lon"), fill_value=np.int16(-32768))
        v.scale_factor = 0.1
        v.add_offset = 0.0
        v.set_auto_maskandscale(True)
        v[:] = np.ma.array(np.nan_to_num(mm), mask=np.isnan(mm))
    da = open_stack(p, "ppt", bbox=[87.7, 41.5, 119.9, 52.2], years=[2001], months=range(1, 13), how="sum")
    assert da.chunks is not None  # lazy, dask-backed
    assert da.dims == ("year", "lat", "lon")
    assert float(da["lat"].max()) <= 52.2 and float(da["lat"].min()) >= 41.5
    assert float(da["lon"].min()) >= 87.7 and float(da["lon"].max()) <= 119.9
    i, j = list(lat).index(50.0), list(lon).index(100.0)
    got = float(da.sel(lat=50.0, lon=100.0).values[0])
    assert got == pytest.approx(mm[:, i, j].sum(), abs=0.06)
    # a month missing makes the annual sum missing (no silent partial sums)
    assert np.isnan(float(da.sel(lat=lat[2], lon=lon[7]).values[0]))
    with pytest.raises(Exception, match="tmax"):
        open_stack(p, "tmax")


def test_synthetic_recovery_meets_targets():
    from dlddrivers.gridded.pipeline import DEFAULTS, pixel_analysis

    ds = S.generate(60, 80, range(1991, 2021), seed=12)
    ch = {"year": -1, "lat": 30, "lon": 40}
    res, _, _ = pixel_analysis(ds["ndvi"].chunk(ch), [ds["precip"].chunk(ch), ds["temp"].chunk(ch)],
                               {**DEFAULTS, "performance_by": "region"})
    rec = S.recovery(ds, res, q=0.05).set_index(["metric", "truth_subset"])
    for metric in ("class_accuracy", "actual_slope_rmse", "actual_ci_coverage", "fdr_actual_trend"):
        row = rec.loc[metric].iloc[0]
        assert bool(row["met"]), (metric, row["value"], row["target"])
    # field significance does what it says: fewer false discoveries than per-pixel p < 0.05
    assert rec.loc[("fdr_actual_trend", "all"), "value"] <= rec.loc[("fdr_actual_trend_per_pixel_p", "all"), "value"]
    # the truth is planted as documented
    t = ds["truth_class"].values
    assert set(np.unique(t)) == {0, 1, 2, 3}
    assert (ds["true_human_slope"].values[(t == 0) | (t == 1)] == 0).all()


def test_options_reject_unknown_keys():
    from dlddrivers.errors import ConfigError
    from dlddrivers.gridded.pipeline import options

    with pytest.raises(ConfigError, match="methods.pixel.chunks"):
        options({"chunks": 5})
    with pytest.raises(ConfigError, match="mk_variant"):
        options({"mk_variant": "sen"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert options({"fdr_q": 0.1})["fdr_q"] == 0.1


@pytest.mark.slow
def test_same_results_on_a_dask_distributed_local_cluster():
    """The README's cluster example: a LocalCluster with two worker processes, its address in
    ``methods.pixel.dask_address``; the layers equal the local scheduler's."""
    import xarray as xr
    from distributed import LocalCluster

    from dlddrivers.gridded.pipeline import DEFAULTS, pixel_analysis

    ds = S.generate(20, 24, range(1991, 2021), seed=9)
    ch = {"year": -1, "lat": 10, "lon": 12}
    args = (ds["ndvi"].chunk(ch), [ds["precip"].chunk(ch), ds["temp"].chunk(ch)])
    local, _, _ = pixel_analysis(*args, {**DEFAULTS, "performance_by": "region"})
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cl:
        dist, _, _ = pixel_analysis(*args, {**DEFAULTS, "performance_by": "region",
                                            "dask_address": cl.scheduler_address})
    for v in ("actual_slope", "residual_q", "attribution_class", "sdg_prod5"):
        xr.testing.assert_identical(local[v], dist[v])


def test_pixel_study_config_checks_name_the_key():
    import copy

    from dlddrivers.config import load_config
    from dlddrivers.errors import ConfigError
    from dlddrivers.pipeline import setup

    base = load_config("config/config.yaml", "config/pixel.yaml")
    setup(copy.deepcopy(base))  # the shipped pixel config passes
    cases = [
        (("zone_level",), "province", "studies.mongolia_pixel_synthetic.zone_level"),
        (("units",), ["MN11", "XX99"], r"studies.mongolia_pixel_synthetic.units\[1\]"),
        (("drivers",), ["ndvi_synthetic_typo"], r"studies.mongolia_pixel_synthetic.drivers\[0\]"),
        (("bbox",), [120, 41, 88, 52], "studies.mongolia_pixel_synthetic.bbox"),
        (("years",), [2015, 2020], "studies.mongolia_pixel_synthetic.years"),
    ]
    for keys, value, match in cases:
        cfg = copy.deepcopy(base)
        cfg["studies"]["mongolia_pixel_synthetic"][keys[0]] = value
        with pytest.raises(ConfigError, match=match):
            setup(cfg)
    cfg = copy.deepcopy(base)
    cfg["studies"]["neasia"]["bbox"] = [1, 2, 3, 4]
    with pytest.raises(ConfigError, match="studies.neasia.bbox"):
        setup(cfg)
    cfg = copy.deepcopy(base)
    cfg["methods"]["pixel"]["chunck"] = 3
    with pytest.raises(ConfigError, match="methods.pixel.chunck"):
        setup(cfg)


def test_static_geotiff_layer_is_carried_and_labelled(tmp_path, snapshot):
    """An anthropogenic static layer (one map, no years) as a GeoTIFF with nodata: read with
    rioxarray, box first; its zonal mean per unit is the area-weighted mean of its pixels."""
    import rasterio
    import xarray as xr
    from rasterio.transform import from_origin

    from dlddrivers.gridded.io import open_geotiff
    from dlddrivers.gridded.pipeline import run_pixel_study
    from dlddrivers.sources.boundaries_mng import read_geometries

    ds = S.generate(43, 129, range(1991, 2021), seed=5)  # 0.25 degree over Mongolia
    lat, lon = ds["lat"].values, ds["lon"].values
    dens = (np.add.outer(np.arange(lat.size), np.arange(lon.size)) % 7).astype(np.float32)
    dens[0, :] = -9999  # nodata
    tif = tmp_path / "sheep_density.tif"
    with rasterio.open(tif, "w", driver="GTiff", width=lon.size, height=lat.size, count=1,
                       dtype="float32", crs="EPSG:4326", nodata=-9999,
                       transform=from_origin(87.7, 52.2, (119.9 - 87.7) / 129, (52.2 - 41.5) / 43)) as f:
        f.write(dens, 1)
    static = open_geotiff(tif, bbox=[87.7, 41.5, 119.9, 52.2], chunk=64)
    assert static.dims == ("lat", "lon") and static.chunks is not None
    assert np.isnan(static.values[0]).all()
    geoms = read_geometries(snapshot / "ocha_cod_ab" / "mng_admbnda_adm1_nso_v3.geojson")
    layers = {k: ds[k].chunk({"year": -1, "lat": 20, "lon": 40}) for k in ("ndvi", "precip", "temp")}
    layers["sheep_density"] = static
    study = {"name": "t", "outcomes": ["ndvi"], "drivers": ["precip", "temp"],
             "carry": ["sheep_density"], "units": sorted(geoms)}
    out = tmp_path / "out"
    rec = run_pixel_study(layers, study, out, geoms, {"chunk": 64}, maps=False)
    assert rec["static_layers"] == ["sheep_density"]
    assert rec["regridded_to_outcome_grid (bilinear)"] == []  # same grid: values untouched
    zp = pd.read_csv(out / "zonal_panel.csv")
    st = zp[zp["indicator"] == "sheep_density"]
    assert st["static"].all() and st["year"].isna().all()
    zone = xr.open_dataset(out / "layers" / "zone.nc")["zone"].values
    area = M.cell_area_km2(lat, lon)
    units = sorted(geoms)
    k = units.index("MN65")
    sel = (zone == k) & np.isfinite(static.values)
    hand = (static.values[sel] * area[sel]).sum() / area[sel].sum()
    assert st.set_index("unit").loc["MN65", "value"] == pytest.approx(hand, rel=1e-6)
