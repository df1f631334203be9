"""Reading time stacks lazily (xarray + dask), region first; writing result layers.

Stacks are opened with ``xarray.open_dataset``/``open_mfdataset`` and ``chunks`` so nothing is
read until a computation asks for it; the study's bounding box is selected by coordinate labels
right after opening (before any value is loaded), and the years (and months, for monthly
products aggregated to years) likewise. Coordinates are normalised to ``year, lat, lon``
(``latitude``/``longitude``/``y``/``x`` renamed), the time axis is kept in one chunk (per-pixel
methods need a pixel's whole series) and the space axes are chunked ``chunk x chunk``.

Providers' packing is decoded by xarray from the file's own attributes (``scale_factor``,
``add_offset``, ``_FillValue``/``missing_value``); :func:`open_stack` additionally masks values
outside ``valid_range`` when the file declares one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import RawFileError

_RENAME = {"latitude": "lat", "longitude": "lon", "y": "lat", "x": "lon", "Latitude": "lat",
           "Longitude": "lon"}


def _engine() -> str:
    return "netcdf4"


def select_region(obj, bbox: Sequence[float] | None):
    """Select ``bbox = [lon_min, lat_min, lon_max, lat_max]`` by labels, whatever the latitude
    order of the file (many providers store north to south)."""
    if bbox is None:
        return obj
    x0, y0, x1, y1 = (float(v) for v in bbox)
    lat = obj["lat"].values
    lat_sl = slice(y1, y0) if lat.size > 1 and lat[0] > lat[-1] else slice(y0, y1)
    return obj.sel(lat=lat_sl, lon=slice(x0, x1))


def normalise(ds):
    """Rename spatial coordinates to ``lat``/``lon``; drop a CRS/band helper dimension."""
    ren = {k: v for k, v in _RENAME.items() if k in ds.dims or k in ds.coords}
    ds = ds.rename(ren)
    if "band" in ds.dims and ds.sizes["band"] == 1:
        ds = ds.isel(band=0, drop=True)
    return ds


def to_annual(da, months: Sequence[int] | None, how: str):
    """Monthly (or sub-monthly) ``time`` -> ``year`` by ``how`` (mean | sum | max) over
    ``months``; a variable already indexed by ``year`` is returned unchanged."""
    if "year" in da.dims:
        return da
    if "time" not in da.dims:
        raise ValueError(f"to_annual: {da.name!r} has dims {da.dims}; expected 'time' or 'year'")
    if months:
        da = da.sel(time=da["time"].dt.month.isin(list(months)))
    g = da.groupby("time.year")
    if how == "mean":
        out = g.mean("time", skipna=False)
    elif how == "sum":
        out = g.sum("time", skipna=False, min_count=1)
    elif how == "max":
        out = g.max("time", skipna=False)
    else:
        raise ValueError(f"to_annual: how={how!r}; expected mean, sum or max")
    return out


def open_stack(paths: str | Path | Sequence[str | Path], variable: str, *,
               bbox: Sequence[float] | None = None, years: Sequence[int] | None = None,
               months: Sequence[int] | None = None, how: str = "mean", chunk: int = 256,
               valid_range: Sequence[float] | None = None):
    """One layer as a lazy, dask-chunked ``DataArray`` (year, lat, lon) for the region and years.

    ``paths``: one NetCDF file or several (concatenated along time/year). ``variable``: the
    provider's variable name (an error names the file and the variables it has). Monthly data
    are aggregated to years with ``months``/``how``. ``valid_range`` masks decoded values outside
    it (NaN); the file's own ``valid_range``/``valid_min``/``valid_max`` are used when not given.
    """
    import xarray as xr

    plist = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    if not plist:
        raise RawFileError("<none>", variable, "at least one stack file")
    for p in plist:
        if not p.is_file():
            raise RawFileError(p, variable, "an existing NetCDF stack file")
    parts = []
    for p in plist:
        ds = normalise(xr.open_dataset(p, engine=_engine(), chunks={}, decode_times=True))
        if variable not in ds.data_vars:
            raise RawFileError(p, variable, f"a variable named '{variable}' (file has {sorted(ds.data_vars)})")
        for c in ("lat", "lon"):
            if c not in ds.coords:
                raise RawFileError(p, c, "a latitude/longitude coordinate (lat/latitude/y, lon/longitude/x)")
        da = select_region(ds[variable], bbox)  # region first: nothing has been read yet
        if "time" in da.dims and years is not None:
            da = da.sel(time=da["time"].dt.year.isin(list(years)))
        parts.append(da)
    dim = "year" if "year" in parts[0].dims else "time"
    da = parts[0] if len(parts) == 1 else xr.concat(parts, dim=dim)
    vr = valid_range
    if vr is None:
        a = parts[0].attrs
        if "valid_range" in a:
            vr = list(np.asarray(a["valid_range"], dtype=float))
        elif "valid_min" in a or "valid_max" in a:
            vr = [float(a.get("valid_min", -np.inf)), float(a.get("valid_max", np.inf))]
    if vr is not None:
        da = da.where((da >= vr[0]) & (da <= vr[1]))
    if "time" not in da.dims and "year" not in da.dims:  # a static layer (lat, lon)
        da = da.transpose("lat", "lon").astype(np.float32)
        return da.chunk({"lat": chunk, "lon": chunk})
    da = to_annual(da, months, how)
    if years is not None:
        da = da.sel(year=[y for y in years if y in set(da["year"].values.tolist())])
    da = da.transpose("year", "lat", "lon").astype(np.float32)
    return da.chunk({"year": -1, "lat": chunk, "lon": chunk})


def write_layer(da, path: str | Path, attrs: dict | None = None) -> Path:
    """One result layer as a compressed NetCDF4 file (CF lat/lon, WGS84 grid mapping)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = da.to_dataset(name=da.name or path.stem)
    ds["crs"] = ((), np.int32(0), {"grid_mapping_name": "latitude_longitude",
                                  "semi_major_axis": 6378137.0,
                                  "inverse_flattening": 298.257223563, "crs_wkt": "EPSG:4326"})
    v = ds[da.name or path.stem]
    v.attrs.update(attrs or {})
    v.attrs["grid_mapping"] = "crs"
    ds["lat"].attrs.update(units="degrees_north", standard_name="latitude")
    ds["lon"].attrs.update(units="degrees_east", standard_name="longitude")
    enc = {v.name: {"zlib": True, "complevel": 1}}
    ds.to_netcdf(path, engine=_engine(), encoding=enc)
    return path


def write_cog(da, path: str | Path, attrs: dict | None = None, *, categorical: bool = False,
              blocksize: int = 256) -> Path:
    """One 2-D (lat, lon) result layer as a Cloud-Optimised GeoTIFF (GDAL's COG driver, from
    the rasterio wheel: no system GDAL): north-up EPSG:4326 with the grid's transform,
    ``blocksize`` tiles, deflate, internal overviews down to one tile (resampled by ``mode``
    for class layers, ``average`` otherwise), nodata (NaN for floats, -128 for int8 classes),
    the layer name as band description, its units, and ``attrs`` (long_name, estimand, ...) as
    band tags. An irregular grid is an error naming the file and the axis."""
    import rasterio
    from rasterio.io import MemoryFile
    from rasterio.shutil import copy as rio_copy
    from rasterio.transform import from_origin

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    a = da.transpose("lat", "lon")
    arr = np.asarray(a.values)
    lat, lon = np.asarray(a["lat"].values, float), np.asarray(a["lon"].values, float)
    if lat.size > 1 and lat[0] < lat[-1]:  # south to north: flip to north-up rows
        arr, lat = arr[::-1], lat[::-1]
    steps = {}
    for name, c in (("lat", lat), ("lon", lon)):
        d = np.abs(np.diff(c))
        if d.size == 0 or not np.allclose(d, d[0], rtol=1e-6, atol=0):
            raise ValueError(f"{path}: coordinate '{name}' is not a regular grid of at least 2 "
                             f"cells (steps {d[:5].tolist()}); a GeoTIFF needs a regular grid")
        steps[name] = float(d[0])
    transform = from_origin(lon[0] - steps["lon"] / 2, lat[0] + steps["lat"] / 2, steps["lon"], steps["lat"])
    if np.issubdtype(arr.dtype, np.floating):
        nodata = float("nan")
    else:
        arr = arr.astype(np.int8)
        nodata = -128
    attrs = dict(attrs or {})
    units = str(attrs.pop("units", ""))
    tags = {k: (" ".join(str(x) for x in v) if isinstance(v, np.ndarray | list | tuple) else str(v))
            for k, v in attrs.items()}
    with MemoryFile() as mf:
        with mf.open(driver="GTiff", width=arr.shape[1], height=arr.shape[0], count=1,
                     dtype=arr.dtype, crs="EPSG:4326", transform=transform, nodata=nodata) as dst:
            dst.write(np.ascontiguousarray(arr), 1)
            dst.set_band_description(1, str(da.name or path.stem))
            dst.set_band_unit(1, units)
            dst.update_tags(1, **tags)
            dst.update_tags(LAYER=str(da.name or path.stem))
        with mf.open() as src:
            rio_copy(src, path, driver="COG", BLOCKSIZE=int(blocksize), COMPRESS="DEFLATE",
                     OVERVIEWS="IGNORE_EXISTING",
                     OVERVIEW_RESAMPLING="MODE" if categorical else "AVERAGE")
    assert rasterio  # the driver registry
    return path


def align_to(layer, target, chunk: int | None = None):
    """``layer`` on the grid of ``target`` (lat/lon cell centres): unchanged when the grids are
    the same, else interpolated bilinearly, lazily. For nested grids (e.g. TerraClimate 1/24
    degree to PKU GIMMS 1/12 degree) a coarse cell centre is the shared corner of four fine
    cells, so the bilinear value there is exactly their mean (a block average). Cells of the
    target outside the layer's extent are missing (NaN)."""
    same = (layer.sizes["lat"] == target.sizes["lat"] and layer.sizes["lon"] == target.sizes["lon"]
            and np.allclose(layer["lat"].values, target["lat"].values)
            and np.allclose(layer["lon"].values, target["lon"].values))
    if same:
        return layer.assign_coords(lat=target["lat"].values, lon=target["lon"].values)
    out = layer.interp(lat=target["lat"].values, lon=target["lon"].values, method="linear")
    if chunk:
        out = out.chunk({"lat": chunk, "lon": chunk})
    out.attrs.update(layer.attrs)
    out.attrs["regridded"] = "bilinear to the outcome grid"
    return out


def open_geotiff(path: str | Path, *, bbox: Sequence[float] | None = None, band: int = 1,
                 chunk: int = 256):
    """A static single-band GeoTIFF layer (lat, lon) in EPSG:4326 (e.g. livestock or
    population density), read lazily with rioxarray; nodata and scale/offset decoded
    (``mask_and_scale``); the box is selected before reading."""
    import rioxarray

    path = Path(path)
    if not path.is_file():
        raise RawFileError(path, "band", "an existing GeoTIFF")
    da = rioxarray.open_rasterio(path, masked=True, mask_and_scale=True, chunks={"x": chunk, "y": chunk})
    crs = da.rio.crs
    if crs is not None and crs.to_epsg() != 4326:
        raise RawFileError(path, "crs", f"EPSG:4326 lon/lat (found {crs})")
    if band not in da["band"].values:
        raise RawFileError(path, "band", f"band {band} (file has {list(da['band'].values)})")
    da = normalise(da.sel(band=band, drop=True)).drop_vars("spatial_ref", errors="ignore")
    da = select_region(da, bbox)
    return da.transpose("lat", "lon").astype(np.float32).chunk({"lat": chunk, "lon": chunk})
