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
layer_formats : list
    Files per result layer in ``layers/``: ``netcdf`` (CF NetCDF4) and/or ``cog``
    (Cloud-Optimised GeoTIFF: tiled, deflate, overviews, EPSG:4326, nodata, band description,
    units and estimand tags).
cog_blocksize : int
    COG tile size in pixels (a power of two >= 16; overviews halve the grid until it fits one
    tile).

Tiles (study key ``tiles: [ny, nx]``)
-------------------------------------
A large region is split into ``ny x nx`` tiles along chunk boundaries (:func:`tile_windows`);
Snakemake runs one job per tile (:func:`run_tile`: per-pixel layers and per-block zonal sums of
that window only) and one gather job (``run_pixel_study(..., tiles=...)``) that mosaics the
tiles and applies every field-wide step over ALL pixels: Benjamini-Hochberg FDR, attribution
classes, SDG performance, zonal tables. The result equals the untiled run exactly.
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
    "layer_formats": ["netcdf", "cog"],
    "cog_blocksize": 256,
}

#: layers holding class codes (COG overviews by mode, not average)
CATEGORICAL_LAYERS = frozenset({"attribution_class", "restrend_refused", "sdg_trajectory", "sdg_state",
                                "sdg_prod5", "sdg_trajectory_climate_corrected"})

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
    fmts = given.get("layer_formats", DEFAULTS["layer_formats"])
    if not (isinstance(fmts, list | tuple) and fmts and set(fmts) <= {"netcdf", "cog"}):
        raise ConfigError(f"methods.{STAGE}.layer_formats", fmts, "a non-empty list of netcdf, cog")
    bs = given.get("cog_blocksize", DEFAULTS["cog_blocksize"])
    if not (isinstance(bs, int) and bs >= 16 and bs & (bs - 1) == 0):
        raise ConfigError(f"methods.{STAGE}.cog_blocksize", bs, "a power of two >= 16")
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


def _lazy_pixel_layers(outcome, climate: Sequence, opts: dict):
    """The lazy (dask) Dataset of :data:`PIXEL_LAYERS`, one ``apply_ufunc`` over the chunks."""
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
    return xr.Dataset(dict(zip(names, res, strict=True)))


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

    lazy = _lazy_pixel_layers(outcome, climate, opts)
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
def _align(layers: Mapping[str, object], study: dict, chunk: int):
    """The outcome id, every layer on the outcome's grid, and the ids of the regridded ones."""
    from .io import align_to

    outcome_id = study["outcomes"][0]
    outcome = layers[outcome_id]
    # every layer on the outcome's grid (climate products are often finer or coarser)
    regridded = sorted(k for k, v in layers.items() if k != outcome_id and (
        v.sizes["lat"] != outcome.sizes["lat"] or v.sizes["lon"] != outcome.sizes["lon"]
        or not np.allclose(v["lat"].values, outcome["lat"].values)
        or not np.allclose(v["lon"].values, outcome["lon"].values)))
    aligned = {k: (v if k == outcome_id else align_to(v, outcome, chunk)) for k, v in layers.items()}
    return outcome_id, aligned, regridded


def _zones(study: dict, geoms: Mapping[str, list] | None, lat: np.ndarray, lon: np.ndarray):
    if geoms:
        return Z.rasterize_units({u: geoms[u] for u in study["units"] if u in geoms}, lat, lon)
    return np.full((lat.size, lon.size), -1, np.int32), []


def tile_ids(tiles: Sequence[int] | None) -> list[str]:
    """Ids (``r<row>c<col>``) of the tiles of a ``tiles: [ny, nx]`` split ([] when untiled)."""
    if not tiles:
        return []
    return [f"r{i}c{j}" for i in range(int(tiles[0])) for j in range(int(tiles[1]))]


def tile_windows(shape: Sequence[int], chunk: int, tiles: Sequence[int],
                 key: str = "tiles") -> dict[str, tuple[slice, slice]]:
    """``{tile id: (row slice, column slice)}`` splitting a ``shape`` (lat, lon) grid into
    ``tiles`` = ``[ny, nx]`` tiles along chunk boundaries (chunks of ``chunk`` pixels, as
    evenly as the chunk count allows), so that every dask block of the whole study lies in one
    tile. More tiles than chunks along an axis is an error naming ``key``."""
    from ..errors import ConfigError

    splits = []
    for axis, (n, t) in enumerate(zip(shape, tiles, strict=True)):
        nch = -(-int(n) // int(chunk))
        if not 1 <= int(t) <= nch:
            raise ConfigError(key, list(tiles),
                              f"1 to {nch} tiles along {('lat', 'lon')[axis]} (the grid has {n} "
                              f"pixels there in chunks of methods.pixel.chunk = {chunk})")
        groups = np.array_split(np.arange(nch), int(t))
        splits.append([slice(int(g[0] * chunk), int(min((g[-1] + 1) * chunk, n))) for g in groups])
    return {f"r{i}c{j}": (rs, cs) for i, rs in enumerate(splits[0]) for j, cs in enumerate(splits[1])}


def compute_window(layers: Mapping[str, object], study: dict, zone: np.ndarray, area: np.ndarray,
                   nz: int, opts: dict, window: tuple[slice, slice] | None = None,
                   threads: int | None = None) -> dict:
    """The per-pixel layers (:data:`PIXEL_LAYERS`) and the per-block zonal sums of one window
    of the study grid (the whole grid when ``window`` is None), in one dask pass over the
    window's chunks: ``{"window": [r0, r1, c0, c1], "layers": {name: 2-D float32},
    "parts": {layer id: [((row, col), (T, nz, 2) sums)]}, "timing": {...}}``.

    ``layers`` are on the outcome grid (:func:`_align`); ``zone``/``area`` cover the whole grid.
    Space is rechunked to ``opts["chunk"]`` from the window's origin, so a window starting on a
    chunk boundary (:func:`tile_windows`) sees exactly the blocks the whole study sees.
    """
    import dask

    outcome_id = study["outcomes"][0]
    ny, nx = zone.shape
    rs, cs = window or (slice(0, ny), slice(0, nx))
    ch = int(opts["chunk"])
    win = {k: v.isel(lat=rs, lon=cs).chunk({"lat": ch, "lon": ch}) for k, v in layers.items()}
    zw, aw = zone[rs, cs], area[rs, cs]
    parts = {k: Z.zonal_block_parts_delayed(v.chunk({"year": -1}), zw, aw, nz, offset=(rs.start, cs.start))
             for k, v in win.items() if "year" in v.dims}
    lazy = _lazy_pixel_layers(win[outcome_id].chunk({"year": -1}),
                              [win[d].chunk({"year": -1}) for d in study["drivers"]], opts)
    t0 = time.perf_counter()
    with scheduler_context(opts, threads):
        ds, sums = dask.compute(lazy, {k: [p for _, p in ps] for k, ps in parts.items()})
    return {"window": [rs.start, rs.stop, cs.start, cs.stop],
            "layers": {n: np.asarray(ds[n].values, dtype=np.float32) for n in PIXEL_LAYERS},
            "parts": {k: [(key, np.asarray(a)) for (key, _), a in zip(parts[k], sums[k], strict=True)]
                      for k in parts},
            "timing": {"compute_s": time.perf_counter() - t0}}


def save_tile(result: dict, path: str | Path) -> Path:
    """One tile's :func:`compute_window` result as an uncompressed ``.npz`` (exact values)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrs = {"window": np.asarray(result["window"], dtype=np.int64),
            "timing": np.asarray(json.dumps(result["timing"]))}
    for n, a in result["layers"].items():
        arrs[f"layer/{n}"] = a
    for k, ps in result["parts"].items():
        arrs[f"keys/{k}"] = np.asarray([key for key, _ in ps], dtype=np.int64).reshape(-1, 2)
        arrs[f"sums/{k}"] = (np.stack([a for _, a in ps]) if ps else np.zeros((0, 0, 0, 2)))
    with open(path, "wb") as fh:
        np.savez(fh, **arrs)
    return path


def load_tile(path: str | Path) -> dict:
    """A tile written by :func:`save_tile` (errors name the file and what is missing)."""
    import zipfile

    from ..errors import RawFileError

    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise RawFileError(path, "file", f"a pixel tile .npz written by save_tile ({e})") from e
    with z:
        files = set(z.files)
        for need in ["window", *(f"layer/{n}" for n in PIXEL_LAYERS)]:
            if need not in files:
                raise RawFileError(path, need, "a pixel tile written by save_tile")
        layers = {n: z[f"layer/{n}"] for n in PIXEL_LAYERS}
        parts = {f.split("/", 1)[1]: [(tuple(int(v) for v in key), a)
                                       for key, a in zip(z[f], z["sums/" + f.split("/", 1)[1]], strict=True)]
                 for f in files if f.startswith("keys/")}
        return {"window": [int(v) for v in z["window"]], "layers": layers, "parts": parts,
                "timing": json.loads(str(z["timing"]))}


def mosaic(tiles: Sequence[dict], shape: Sequence[int]) -> dict:
    """The tiles' layers placed in the whole grid and their zonal parts pooled; every pixel
    must be covered exactly once (else an error naming the uncovered or overlapping count)."""
    from ..errors import ConfigError

    ny, nx = shape
    cover = np.zeros((ny, nx), np.int32)
    layers = {n: np.full((ny, nx), np.nan, np.float32) for n in PIXEL_LAYERS}
    parts: dict[str, list] = {}
    for t in tiles:
        r0, r1, c0, c1 = t["window"]
        cover[r0:r1, c0:c1] += 1
        for n in PIXEL_LAYERS:
            layers[n][r0:r1, c0:c1] = t["layers"][n]
        for k, ps in t["parts"].items():
            parts.setdefault(k, []).extend(ps)
    if (cover != 1).any():
        raise ConfigError("tiles", f"{int((cover == 0).sum())} uncovered, {int((cover > 1).sum())} "
                          "overlapping pixels", f"tiles covering the {ny} x {nx} grid exactly once")
    return {"window": [0, ny, 0, nx], "layers": layers, "parts": parts,
            "timing": {"compute_s": float(sum(t["timing"]["compute_s"] for t in tiles)),
                       "n_tiles": len(tiles)}}


def run_tile(layers: Mapping[str, object], study: dict, geoms: Mapping[str, list] | None,
             tile: str, opts: Mapping | None = None, threads: int | None = None) -> dict:
    """One tile (``tile``: an id of :func:`tile_ids` for ``study["tiles"]``) of a pixel study:
    its per-pixel layers and zonal parts (:func:`compute_window`). Only the tile's window of
    each stack is read; memory is bounded by the chunk size and the tile's 2-D layers."""
    from ..errors import ConfigError

    opts = options(opts)
    outcome_id, aligned, _ = _align(layers, study, opts["chunk"])
    outcome = aligned[outcome_id]
    lat, lon = outcome["lat"].values, outcome["lon"].values
    wins = tile_windows((lat.size, lon.size), opts["chunk"], study["tiles"],
                        f"studies.{study.get('name')}.tiles")
    if tile not in wins:
        raise ConfigError(f"studies.{study.get('name')}.tiles", tile, f"one of the tiles {sorted(wins)}")
    zone, zunits = _zones(study, geoms, lat, lon)
    area = M.cell_area_km2(lat, lon)
    res = compute_window(aligned, study, zone, area, len(zunits), opts, wins[tile], threads)
    res["tile"] = tile
    return res


def run_pixel_study(layers: Mapping[str, object], study: dict, outdir: str | Path,
                    geoms: Mapping[str, list] | None, opts: Mapping | None = None,
                    threads: int | None = None, truth=None, maps: bool = True,
                    tiles: Sequence[dict] | None = None) -> dict:
    """Run one pixel study and write its outputs under ``outdir``.

    ``layers``: ``{indicator: DataArray (year, lat, lon)}`` for the study's outcome (first of
    ``study["outcomes"]``), its climate drivers (``study["drivers"]``, the RESTREND regressors)
    and carried layers (``study["carry"]``: zonal means only; a layer without ``year`` is static
    and labelled so). ``geoms``: unit polygons for zonal tables (only the study's ``units``).
    ``truth``: a synthetic Dataset with planted truth (then ``recovery.csv`` is written).
    ``tiles``: the results of :func:`run_tile` for every tile of the study (the gather step of a
    tiled study: the per-pixel layers are mosaicked, not recomputed; FDR, classes, SDG
    performance and the zonal tables are computed here over ALL pixels); None computes the
    whole grid here. Returns the run record (also ``run.json``).
    """
    import xarray as xr

    from .io import write_cog, write_layer

    opts = options(opts)
    out = Path(outdir)
    (out / "layers").mkdir(parents=True, exist_ok=True)
    outcome_id, layers, regridded = _align(layers, study, opts["chunk"])
    outcome = layers[outcome_id]
    lat, lon = outcome["lat"].values, outcome["lon"].values
    area = M.cell_area_km2(lat, lon)
    t0 = time.perf_counter()
    zone, zunits = _zones(study, geoms, lat, lon)
    t_raster = time.perf_counter() - t0
    nz = len(zunits)
    yearly = {k: v for k, v in layers.items() if "year" in v.dims}
    static = {k: v for k, v in layers.items() if "year" not in v.dims}
    if tiles is None:
        res = compute_window(layers, study, zone, area, nz, opts, None, threads)
    else:
        res = mosaic(tiles, zone.shape)
    missing = sorted(set(yearly) - set(res["parts"]))
    if missing:
        from ..errors import ConfigError

        raise ConfigError("tiles", missing, "zonal sums of every yearly layer in every tile")
    t1 = time.perf_counter()
    raw = xr.Dataset({n: (("lat", "lon"), res["layers"][n]) for n in PIXEL_LAYERS},
                     coords={"lat": lat, "lon": lon})
    ds = finish(raw, opts, zone)
    timing = {**res["timing"], "field_steps_s": time.perf_counter() - t1, "rasterize_s": t_raster}
    sums = [Z.combine_block_parts(res["parts"][k], v.sizes["year"], nz) for k, v in yearly.items()]
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
    # ---- field significance: Benjamini-Hochberg over all pixels, discoveries per test
    fdr_rows = []
    for k, what in (("actual", "trend of the outcome"), ("climate", "climate-driven trend"),
                    ("residual", "residual (non-climatic) trend")):
        pv, qv = ds[f"{k}_p"].values, ds[f"{k}_q"].values
        tested = np.isfinite(pv)
        disc = tested & (qv < q)
        fdr_rows.append({"test": f"{k}_trend", "what": what, "n_tested": int(tested.sum()),
                         "fdr_target_q": q, "n_discoveries": int(disc.sum()),
                         "share_of_tested": float(disc.sum() / tested.sum()) if tested.any() else np.nan,
                         "tested_area_km2": float(area[tested].sum()),
                         "discovery_area_km2": float(area[disc].sum()),
                         "n_raw_p_below_target": int((tested & (pv < q)).sum()),
                         "method": "Benjamini-Hochberg over all pixels of the study",
                         "estimand": "detection"})
    pd.DataFrame(fdr_rows).to_csv(out / "fdr.csv", index=False)
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
        if "netcdf" in opts["layer_formats"]:
            write_layer(da.rename(name), out / "layers" / f"{name}.nc", attrs)
        if "cog" in opts["layer_formats"]:
            write_cog(da.rename(name), out / "layers" / f"{name}.tif", attrs,
                      categorical=name in CATEGORICAL_LAYERS, blocksize=opts["cog_blocksize"])
    xr.Dataset({"zone": (("lat", "lon"), zone)}, coords={"lat": lat, "lon": lon}).to_netcdf(
        out / "layers" / "zone.nc")
    rec = None
    if truth is not None:
        from .synthetic import recovery
        rec = recovery(truth, ds, q=q)
        rec.to_csv(out / "recovery.csv", index=False)
    colour_limits: dict[str, float] = {}
    if maps:
        from .methods import slope_colour_limit
        from .plots import plot_maps
        colour_limits = {n: slope_colour_limit(ds[n].values) for n in ("actual_slope", "residual_slope")}
        plot_maps(ds, out / "maps", geoms={u: geoms[u] for u in zunits} if geoms else None,
                  title=study.get("description", study.get("name", "")), limits=colour_limits)
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
        "options": opts, "timings_s": timing, "tiles": study.get("tiles"),
        "n_tiles": len(tiles) if tiles is not None else None,
        "attribution_share_of_assessed_area": shares,
        "map_colour_limits (98th percentile of |slope|)": colour_limits,
        "recovery_targets_met": None if rec is None else bool(rec["met"].dropna().astype(bool).all()),
    }
    (out / "run.json").write_text(json.dumps(record, indent=1, default=str), encoding="utf-8")
    return record


# ------------------------------------------------------------------------- config adapters
def zone_geometries(study: dict, boundary_files: Mapping[str, str | Path],
                    code_fields: Mapping[str, str] | None = None) -> dict[str, list]:
    """Polygons of the study's units: aimags from the Mongolian COD-AB file; countries as the
    union of their first-level units from their declared boundary files (``code_fields``: the
    feature code field of each country's file, registry ``boundary.code_field``)."""
    from ..sources.boundaries import read_features
    from ..sources.boundaries_mng import read_geometries

    if study["zone_level"] == "aimag":
        geoms = read_geometries(boundary_files["MNG"])
    else:
        geoms = {}
        for iso, path in boundary_files.items():
            field = (code_fields or {}).get(iso)
            if field and Path(path).is_file():
                geoms[iso] = [poly for polys in read_features(path, field).values() for poly in polys]
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


def open_configured(study: dict, info: Mapping[str, dict], raw_root, synthetic_path, chunk: int) -> dict:
    """The study's layers (``info``: :func:`dlddrivers.gridded.study.study_layers`), lazily,
    region first."""
    from .products import open_layer

    return {lid: open_layer(lid, i, study, raw_root, synthetic_path, chunk) for lid, i in info.items()}


def run_configured(study: dict, info: Mapping[str, dict], raw_root, synthetic_path,
                   boundary_files: Mapping[str, str | Path], outdir, opts: Mapping | None,
                   threads: int | None = None, tile_files: Sequence[str | Path] = (),
                   code_fields: Mapping[str, str] | None = None) -> dict:
    """Open the study's layers lazily, region first, run the study and write ``outdir``.
    ``tile_files`` (written by :func:`run_configured_tile`, one per tile of ``study["tiles"]``)
    make this the gather step of a tiled study; ``code_fields`` name each boundary file's unit
    code field (from the registry's boundary declarations)."""
    import xarray as xr

    o = options(opts)
    layers = open_configured(study, info, raw_root, synthetic_path, o["chunk"])
    truth = None
    if any(i["source"]["reader"] == "synthetic" for i in info.values()):
        with xr.open_dataset(synthetic_path, engine="netcdf4") as syn:  # the 2-D truth, not the stacks
            truth = syn[[v for v in syn.data_vars if "year" not in syn[v].dims]].load()
    geoms = zone_geometries(study, boundary_files, code_fields)
    tiles = [load_tile(f) for f in tile_files] if tile_files else None
    return run_pixel_study(layers, study, outdir, geoms, o, threads=threads, truth=truth, tiles=tiles)


def run_configured_tile(study: dict, info: Mapping[str, dict], raw_root, synthetic_path,
                        boundary_files: Mapping[str, str | Path], tile: str, out,
                        opts: Mapping | None, threads: int | None = None,
                        code_fields: Mapping[str, str] | None = None) -> Path:
    """One tile job of a tiled study: :func:`run_tile` written to ``out`` (:func:`save_tile`)."""
    o = options(opts)
    layers = open_configured(study, info, raw_root, synthetic_path, o["chunk"])
    geoms = zone_geometries(study, boundary_files, code_fields)
    return save_tile(run_tile(layers, study, geoms, tile, o, threads=threads), out)
