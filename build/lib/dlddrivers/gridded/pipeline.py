"""A pixel study end to end: layers -> per-pixel methods -> classes -> zonal tables -> files.

:func:`pixel_analysis` builds one dask graph over the stack chunks (each chunk is read once and
runs every per-pixel method in :mod:`.methods`), computes it with the configured scheduler, then
applies the field-wide steps on the 2-D results: Benjamini-Hochberg FDR over all pixels,
attribution classes, Trends.Earth performance (needs the 90th percentile over comparable pixels)
and the combined SDG class. :func:`run_pixel_study` adds the zonal tables, the NetCDF layers and
the maps.

Options (``DEFAULTS``; config ``methods.pixel``)
------------------------------------------------
chunk : int
    Pixels per chunk side (the time axis is one chunk); memory per task ~ chunk^2 x years x 4
    bytes x the number of layers, plus the pairwise slopes (chunk^2 x years^2 / 2 x 4 bytes in
    blocks of 16,384 pixels).
mk_variant : str
    ``original`` Mann-Kendall (default), ``tfpw`` (trend-free pre-whitening, Yue et al. 2002)
    or ``hamed_rao`` (variance correction). With 30 annual values none of the corrections holds
    the nominal level under AR(1) noise (per-pixel rejections at a nominal 5 % with phi = 0.3:
    original 13 %, TFPW 15 %, Hamed-Rao 16 %), so the default is the plain test and the
    recovery table reports the false discovery rate actually achieved.
ci_alpha : float
    1 - level of Sen's slope interval (0.05).
fdr_q : float
    Benjamini-Hochberg target false discovery rate for "significant" (0.05).
climate_alpha : float
    RESTREND: the vegetation-climate fit's F-test must have p below this, else refused (0.05).
min_years : int
    Minimum valid years per pixel (10).
recent_years : int, baseline : [first, last] or None
    SDG state: recent period length and baseline years (default: first 2/3 of the years).
performance_by : str
    ``units`` (comparable pixels = the same registry unit) or ``region`` (all pixels).
min_pixels_performance : int
    Minimum pixels in a comparison group (10).
scheduler : str
    ``threads`` (default), ``processes`` or ``synchronous``; ignored when ``dask_address`` is set.
dask_address : str or None
    A ``dask.distributed`` scheduler (``tcp://host:8786``); the study then runs on that cluster.
workers : int or None
    Threads (or processes) of the local scheduler (None: the job's threads).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from . import methods as M
from . import zonal as Z

STAGE = "pixel"

DEFAULTS: dict = {
    "chunk": 256,
    "mk_variant": "original",
    "ci_alpha": 0.05,
    "fdr_q": 0.05,
    "climate_alpha": 0.05,
    "min_years": 10,
    "recent_years": 3,
    "baseline": None,
    "performance_by": "units",
    "min_pixels_performance": 10,
    "scheduler": "threads",
    "dask_address": None,
    "workers": None,
}

#: per-pixel outputs of the chunk function
PIXEL_LAYERS = [
    "actual_slope", "actual_ci_low", "actual_ci_high", "actual_p", "n_years",
    "climate_slope", "climate_p", "residual_slope", "residual_ci_low", "residual_ci_high",
    "residual_p", "fit_r2", "fit_p", "restrend_refused", "ols_slope", "state_change",
    "state_deg", "period_mean",
]

#: layer descriptions (NetCDF long_name) and the estimand each layer carries
LAYER_INFO: dict[str, tuple[str, str]] = {
    "actual_slope": ("Theil-Sen slope of the outcome per year", "trend"),
    "actual_ci_low": ("lower bound of Sen's interval of actual_slope", "trend"),
    "actual_ci_high": ("upper bound of Sen's interval of actual_slope", "trend"),
    "actual_p": ("Mann-Kendall two-sided p-value of the outcome", "detection"),
    "actual_q": ("Benjamini-Hochberg adjusted p of actual_p over the field", "detection"),
    "climate_slope": ("Theil-Sen slope of the climate-fitted outcome (climate-driven trend)", "trend"),
    "climate_q": ("BH-adjusted p of the climate-driven trend", "detection"),
    "residual_slope": ("Theil-Sen slope of RESTREND residuals (non-climatic trend)", "trend of residuals"),
    "residual_q": ("BH-adjusted p of the residual trend", "detection"),
    "fit_r2": ("R2 of the outcome ~ climate fit", "association"),
    "restrend_refused": ("1 where the climate fit is not significant (RESTREND refused)", "status"),
    "attribution_class": ("climate-vs-human attribution class (see flag_meanings)", "share of area"),
    "sdg_trajectory": ("Trends.Earth trajectory class -3..3", "detection"),
    "sdg_state": ("Trends.Earth state change (classes)", "detection"),
    "sdg_performance": ("Trends.Earth performance ratio", "detection"),
    "sdg_prod5": ("Trends.Earth combined productivity class 1..5", "share of area"),
    "sdg_trajectory_climate_corrected": ("trajectory class on RESTREND residuals", "detection"),
}


def options(given: Mapping | None) -> dict:
    """``DEFAULTS`` updated by ``given``; an unknown key is an error naming it."""
    from ..errors import ConfigError

    given = dict(given or {})
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"methods.{STAGE}.{unknown[0]}", given[unknown[0]],
                          f"one of the options {sorted(DEFAULTS)}")
    if given.get("mk_variant", "original") not in ("tfpw", "original", "hamed_rao"):
        raise ConfigError(f"methods.{STAGE}.mk_variant", given["mk_variant"],
                          "original, tfpw or hamed_rao")
    if given.get("scheduler", "threads") not in ("threads", "processes", "synchronous"):
        raise ConfigError(f"methods.{STAGE}.scheduler", given["scheduler"],
                          "threads, processes or synchronous")
    if given.get("performance_by", "units") not in ("units", "region"):
        raise ConfigError(f"methods.{STAGE}.performance_by", given["performance_by"], "units or region")
    return {**DEFAULTS, **given}


def _periods(years: Sequence[int], opts: dict) -> tuple[slice, slice]:
    T = len(years)
    if opts.get("baseline"):
        b0, b1 = opts["baseline"]
        idx = [i for i, y in enumerate(years) if b0 <= y <= b1]
        base = slice(idx[0], idx[-1] + 1)
    else:
        base = slice(0, max(int(round(T * 2 / 3)), 1))
    rec = slice(T - int(opts["recent_years"]), T)
    return base, rec


def _pixel_block(y, *clim, x, base, rec, opts):
    """Every per-pixel method on one chunk (arrays (..., T)); returns :data:`PIXEL_LAYERS`."""
    X = np.stack(clim, axis=-1)
    rs = M.restrend(y, X, x=x, alpha_fit=opts["climate_alpha"], variant=opts["mk_variant"],
                    min_years=opts["min_years"], ci_alpha=opts["ci_alpha"])
    st = M.sdg_state(y, base, rec)
    with np.errstate(invalid="ignore"):
        pm = np.nanmean(np.where(np.isfinite(y), y, np.nan), axis=-1) if y.size else y.sum(-1)
    return {
        "actual_slope": rs["actual_slope"], "actual_ci_low": rs["actual_ci_low"],
        "actual_ci_high": rs["actual_ci_high"], "actual_p": rs["actual_p"],
        "n_years": rs["actual_n"], "climate_slope": rs["climate_slope"],
        "climate_p": rs["climate_p"], "residual_slope": rs["residual_slope"],
        "residual_ci_low": rs["residual_ci_low"], "residual_ci_high": rs["residual_ci_high"],
        "residual_p": rs["residual_p"], "fit_r2": rs["fit_r2"], "fit_p": rs["fit_p"],
        "restrend_refused": rs["refused"].astype(float), "ols_slope": M.ols_slope(y, x),
        "state_change": st["change"], "state_deg": st["deg"], "period_mean": pm,
    }


def scheduler_context(opts: dict, threads: int | None = None):
    """A context manager setting the dask scheduler: a ``dask.distributed`` client when
    ``dask_address`` is given, else the local threads/processes/synchronous scheduler."""
    import contextlib

    import dask

    if opts.get("dask_address"):
        from distributed import Client

        @contextlib.contextmanager
        def _client():
            with Client(opts["dask_address"]) as c:
                yield c
        return _client()
    n = opts.get("workers") or threads
    kw = {"scheduler": opts["scheduler"]}
    if n and opts["scheduler"] != "synchronous":
        kw["num_workers"] = int(n)
    return dask.config.set(**kw)


def pixel_analysis(outcome, climate: Sequence, opts: dict, zone: np.ndarray | None = None,
                   extra_delayed: Sequence = (), threads: int | None = None):
    """Per-pixel results for ``outcome`` (DataArray year, lat, lon; dask-backed) with the
    ``climate`` DataArrays as RESTREND regressors.

    Returns ``(xarray.Dataset of 2-D layers, [computed extra_delayed], timings)``: the layers of
    :data:`PIXEL_LAYERS` plus ``actual_q``, ``climate_q``, ``residual_q`` (BH), ``attribution_class``,
    the SDG terms (``sdg_trajectory``, ``sdg_state``, ``sdg_performance``, ``sdg_prod5``,
    ``sdg_trajectory_climate_corrected``) and ``cell_area_km2``. ``extra_delayed`` (e.g. the zonal
    sums) are computed in the same pass so the stack is read once.
    """
    import dask
    import xarray as xr

    years = [int(v) for v in outcome["year"].values]
    x = np.asarray(years, dtype=float)
    base, rec = _periods(years, opts)
    names = list(PIXEL_LAYERS)

    def run(y, *c):
        r = _pixel_block(y, *c, x=x, base=base, rec=rec, opts=opts)
        return tuple(np.asarray(r[n], dtype=np.float32) for n in names)

    arrays = [outcome, *climate]
    res = xr.apply_ufunc(run, *arrays, input_core_dims=[["year"]] * len(arrays),
                         output_core_dims=[[] for _ in names], dask="parallelized",
                         output_dtypes=[np.float32] * len(names))
    lazy = xr.Dataset(dict(zip(names, res, strict=True)))
    t0 = time.perf_counter()
    with scheduler_context(opts, threads):
        ds, *extra = dask.compute(lazy, *extra_delayed)
    t_compute = time.perf_counter() - t0
    t1 = time.perf_counter()
    ds = finish(ds, opts, zone)
    return ds, extra, {"compute_s": t_compute, "field_steps_s": time.perf_counter() - t1}


def finish(ds, opts: dict, zone: np.ndarray | None = None):
    """Field-wide steps on computed 2-D layers: FDR, attribution classes, SDG terms, areas."""
    q = float(opts["fdr_q"])
    refused = ds["restrend_refused"].values > 0
    for k in ("actual", "climate", "residual"):
        ds[f"{k}_q"] = (("lat", "lon"), M.bh_fdr(ds[f"{k}_p"].values).astype(np.float32))
    cls = M.attribution_class(ds["actual_slope"].values, ds["actual_q"].values < q,
                              ds["climate_slope"].values, ds["climate_q"].values < q,
                              ds["residual_slope"].values, ds["residual_q"].values < q, refused)
    ds["attribution_class"] = (("lat", "lon"), cls)
    # Trends.Earth terms (per-pixel significance, as Trends.Earth defines them)
    p = ds["actual_p"].values.astype(float)
    slope = ds["ols_slope"].values.astype(float)
    level = np.where(p < 0.01, 3, np.where(p < 0.05, 2, np.where(p < 0.10, 1, 0)))
    traj = np.where(np.isfinite(p), level * np.sign(slope), np.nan)
    tdeg = np.where(np.isfinite(traj), np.where(traj <= -2, -1, np.where(traj >= 2, 1, 0)), np.nan)
    rp = ds["residual_p"].values.astype(float)
    rlevel = np.where(rp < 0.01, 3, np.where(rp < 0.05, 2, np.where(rp < 0.10, 1, 0)))
    rtraj = np.where(np.isfinite(rp), rlevel * np.sign(ds["residual_slope"].values), np.nan)
    zones = zone if (opts.get("performance_by") == "units" and zone is not None) else None
    perf = M.sdg_performance(ds["period_mean"].values, zones, opts["min_pixels_performance"])
    if zones is not None:
        perf["ratio"] = np.where(zone >= 0, perf["ratio"], np.nan)
        perf["deg"] = np.where(zone >= 0, perf["deg"], np.nan)
    ds["sdg_trajectory"] = (("lat", "lon"), traj.astype(np.float32))
    ds["sdg_state"] = ds["state_change"]
    ds["sdg_performance"] = (("lat", "lon"), perf["ratio"].astype(np.float32))
    ds["sdg_prod5"] = (("lat", "lon"),
                       M.sdg_prod5(tdeg, ds["state_deg"].values, perf["deg"]).astype(np.float32))
    ds["sdg_trajectory_climate_corrected"] = (("lat", "lon"), rtraj.astype(np.float32))
    ds["cell_area_km2"] = (("lat", "lon"), M.cell_area_km2(ds["lat"].values, ds["lon"].values))
    return ds


# ------------------------------------------------------------------------- study end to end
def run_pixel_study(layers: Mapping[str, object], study: dict, outdir: str | Path,
                    geoms: Mapping[str, list] | None, opts: Mapping | None = None,
                    threads: int | None = None, truth=None, maps: bool = True) -> dict:
    """Run one pixel study and write its outputs under ``outdir``.

    ``layers``: ``{indicator: DataArray (year, lat, lon)}`` for the study's outcome (first of
    ``study["outcomes"]``), its climate drivers (``study["drivers"]``, the RESTREND regressors)
    and carried layers (``study["carry"]``: zonal means only; a layer without ``year`` is static
    and labelled so). ``geoms``: unit polygons for zonal tables (only the study's ``units``).
    ``truth``: a synthetic Dataset with planted truth (then ``recovery.csv`` is written).
    Returns the run record (also ``run.json``).
    """
    import xarray as xr

    from .io import align_to, write_layer

    opts = options(opts)
    out = Path(outdir)
    (out / "layers").mkdir(parents=True, exist_ok=True)
    outcome_id = study["outcomes"][0]
    outcome = layers[outcome_id]
    # every layer on the outcome's grid (climate products are often finer or coarser)
    regridded = sorted(k for k, v in layers.items() if k != outcome_id and (
        v.sizes["lat"] != outcome.sizes["lat"] or v.sizes["lon"] != outcome.sizes["lon"]
        or not np.allclose(v["lat"].values, outcome["lat"].values)
        or not np.allclose(v["lon"].values, outcome["lon"].values)))
    layers = {k: (v if k == outcome_id else align_to(v, outcome, opts["chunk"]))
              for k, v in layers.items()}
    climate = [layers[d] for d in study["drivers"]]
    lat, lon = outcome["lat"].values, outcome["lon"].values
    area = M.cell_area_km2(lat, lon)
    t0 = time.perf_counter()
    units = list(study["units"])
    if geoms:
        zone, zunits = Z.rasterize_units({u: geoms[u] for u in units if u in geoms}, lat, lon)
    else:
        zone, zunits = np.full(area.shape, -1, np.int32), []
    t_raster = time.perf_counter() - t0
    nz = len(zunits)
    yearly = {k: v for k, v in layers.items() if "year" in v.dims}
    static = {k: v for k, v in layers.items() if "year" not in v.dims}
    delayed = [Z.zonal_year_sums_delayed(v, zone, area, nz) for v in yearly.values()]
    ds, sums, timing = pixel_analysis(outcome, climate, opts, zone=zone, extra_delayed=delayed,
                                      threads=threads)
    timing["rasterize_s"] = t_raster
    t2 = time.perf_counter()
    # ---- zonal tables
    uarea = Z.unit_grid_area(zone, area, nz)
    years = [int(v) for v in outcome["year"].values]
    panel = [Z.year_means_table(s, [int(v) for v in layers[k]["year"].values], zunits, uarea, k)
             for k, s in zip(yearly, sums, strict=True)]
    for k, v in static.items():
        vals = np.asarray(v.values, dtype=float)
        tab = Z.unit_summaries({k: vals}, zone, area, zunits)
        panel.append(pd.DataFrame({"unit": tab["unit"], "year": pd.NA, "indicator": k,
                                   "value": tab["mean"], "valid_area_km2": tab["valid_area_km2"],
                                   "coverage": tab["valid_area_km2"] / np.where(uarea > 0, uarea, np.nan)}))
    zp = pd.concat(panel, ignore_index=True) if panel else pd.DataFrame(
        columns=["unit", "year", "indicator", "value", "valid_area_km2", "coverage"])
    zp["static"] = zp["indicator"].isin(list(static))
    zp["estimand"] = "area-weighted mean"
    zp.to_csv(out / "zonal_panel.csv", index=False)
    wide = zp[~zp["static"]].pivot_table(index=["unit", "year"], columns="indicator",
                                         values="value", dropna=False).reset_index()
    wide.columns.name = None
    wide.to_csv(out / "zonal_panel_wide.csv", index=False)
    for k in yearly:  # one `unit,year,value` file per layer: a `source: csv` catalogue entry
        zp.loc[zp["indicator"] == k, ["unit", "year", "value"]].to_csv(out / f"zonal_{k}.csv", index=False)
    ca = pd.concat([
        Z.class_areas(ds["attribution_class"].values, zone, area, zunits, M.ATTRIBUTION_CLASSES,
                      "attribution", exclude=(-1, 9)),
        Z.class_areas(ds["sdg_prod5"].values, zone, area, zunits, M.PROD5_LABELS, "sdg_prod5"),
    ], ignore_index=True)
    ca.to_csv(out / "class_areas.csv", index=False)
    q = opts["fdr_q"]
    sig_deg = np.where(np.isfinite(ds["actual_slope"].values),
                       ((ds["actual_q"].values < q) & (ds["actual_slope"].values < 0)).astype(float), np.nan)
    us = Z.unit_summaries({
        "actual_slope": ds["actual_slope"].values, "climate_slope": ds["climate_slope"].values,
        "residual_slope": ds["residual_slope"].values, "fit_r2": ds["fit_r2"].values,
        "share_significant_decline": sig_deg,
        "share_climate_fit_refused": ds["restrend_refused"].values,
    }, zone, area, zunits)
    us["estimand"] = us["layer"].map({"actual_slope": "trend", "climate_slope": "trend",
                                      "residual_slope": "trend of residuals (non-climatic, not automatically human)",
                                      "fit_r2": "association", "share_significant_decline": "share of area",
                                      "share_climate_fit_refused": "share of area"})
    us["status"] = np.where(us["n_pixels"] > 0, "ok", "no valid pixel in unit")
    us.to_csv(out / "unit_summaries.csv", index=False)
    # ---- what was left out, counted
    n_pix = int(area.size)
    valid = np.isfinite(ds["actual_slope"].values)
    drops = pd.DataFrame([
        {"reason": f"fewer than {opts['min_years']} valid years", "n_pixels": int((~valid).sum())},
        {"reason": "climate fit not significant (RESTREND refused; attribution class 9)",
         "n_pixels": int((valid & (ds['restrend_refused'].values > 0)).sum())},
        {"reason": "pixel centre outside every study unit (not in zonal tables)",
         "n_pixels": int((zone < 0).sum())},
    ])
    drops.to_csv(out / "drops.csv", index=False)
    # ---- layers
    for name, (long_name, estimand) in LAYER_INFO.items():
        da = ds[name].astype(np.float32 if name != "attribution_class" else np.int8)
        attrs = {"long_name": long_name, "estimand": estimand, "outcome": outcome_id,
                 "units": "outcome units per year" if name.endswith("_slope") else "1"}
        if name == "attribution_class":
            attrs.update(flag_values=np.array(list(M.ATTRIBUTION_CLASSES), dtype=np.int8),
                         flag_meanings=" ".join(v.replace(" ", "_").replace(":", "").replace(",", "")
                                                for v in M.ATTRIBUTION_CLASSES.values()),
                         references="Xu et al. 2010 Environ Earth Sci 59:1329; Zhou et al. 2015 Ecol Indic 48:560")
        write_layer(da.rename(name), out / "layers" / f"{name}.nc", attrs)
    xr.Dataset({"zone": (("lat", "lon"), zone)}, coords={"lat": lat, "lon": lon}).to_netcdf(
        out / "layers" / "zone.nc")
    rec = None
    if truth is not None:
        from .synthetic import recovery
        rec = recovery(truth, ds, q=q)
        rec.to_csv(out / "recovery.csv", index=False)
    if maps:
        from .plots import plot_maps
        plot_maps(ds, out / "maps", geoms={u: geoms[u] for u in zunits} if geoms else None,
                  title=study.get("description", study.get("name", "")))
    timing["tables_layers_maps_s"] = time.perf_counter() - t2
    codes = ds["attribution_class"].values
    assessed = float(area[(codes >= 0) & (codes != 9)].sum())
    shares = {M.ATTRIBUTION_CLASSES[c]: float(area[codes == c].sum()) / assessed if assessed else None
              for c in range(0, 9)}
    record = {
        "study": study.get("name"), "outcome": outcome_id, "climate": list(study["drivers"]),
        "carried": list(study.get("carry", [])), "static_layers": sorted(static),
        "regridded_to_outcome_grid (bilinear)": regridded,
        "years": [years[0], years[-1]], "n_years": len(years), "grid": [int(lat.size), int(lon.size)],
        "n_pixels": n_pix, "n_pixels_valid": int(valid.sum()), "units": zunits,
        "options": opts, "timings_s": timing,
        "attribution_share_of_assessed_area": shares,
        "recovery_targets_met": None if rec is None else bool(rec["met"].dropna().astype(bool).all()),
    }
    (out / "run.json").write_text(json.dumps(record, indent=1, default=str), encoding="utf-8")
    return record


# ------------------------------------------------------------------------- config adapters
def zone_geometries(study: dict, boundary_files: Mapping[str, str | Path]) -> dict[str, list]:
    """Polygons of the study's units: aimags from the Mongolian COD-AB file; countries as the
    union of their first-level units from the project's boundary files (MNG, CHN, JPN)."""
    from ..plots.maps import BOUNDARY_FILES, read_rings
    from ..sources.boundaries_mng import read_geometries

    if study["zone_level"] == "aimag":
        geoms = read_geometries(boundary_files["MNG"])
    else:
        geoms = {}
        for iso, path in boundary_files.items():
            spec = BOUNDARY_FILES.get(iso)
            if spec and Path(path).is_file():
                geoms[iso] = [poly for polys in read_rings(path, spec["field"]).values() for poly in polys]
    missing = [u for u in study["units"] if u not in geoms]
    if missing:
        from ..errors import ConfigError

        raise ConfigError(f"studies.{study['name']}.units", missing,
                          f"units with a boundary file ({sorted(geoms)})")
    return geoms


def make_synthetic(study: dict, path: str | Path) -> Path:
    """Write the study's synthetic stack (``study["synthetic"]``: ny, nx, seed) with its truth."""
    from .synthetic import DEFAULTS as SYN
    from .synthetic import generate

    s = study["synthetic"]
    y0, y1 = study["years"]
    ds = generate(int(s["ny"]), int(s["nx"]), range(y0, y1 + 1), int(s["seed"]),
                  {**SYN, "bbox": list(study["bbox"])})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    enc = {v: {"zlib": True, "complevel": 1} for v in ds.data_vars}
    ds.to_netcdf(path, engine="netcdf4", encoding=enc)
    return path


def run_configured(study: dict, info: Mapping[str, dict], raw_root, synthetic_path,
                   boundary_files: Mapping[str, str | Path], outdir, opts: Mapping | None,
                   threads: int | None = None) -> dict:
    """Open the study's layers (``info``: :func:`dlddrivers.gridded.study.study_layers`) lazily,
    region first, run the study and write ``outdir``."""
    import xarray as xr

    from .products import open_layer

    o = options(opts)
    layers = {lid: open_layer(lid, i, study, raw_root, synthetic_path, o["chunk"])
              for lid, i in info.items()}
    truth = None
    if any(i["source"]["reader"] == "synthetic" for i in info.values()):
        truth = xr.open_dataset(synthetic_path, engine="netcdf4").load()
    geoms = zone_geometries(study, boundary_files)
    return run_pixel_study(layers, study, outdir, geoms, o, threads=threads, truth=truth)
