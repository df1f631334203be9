"""Open gridded products: retrieval (region subset at download where the provider allows it)
and lazy readers, for PKU GIMMS NDVI (outcome) and TerraClimate (climate).

**TerraClimate** (Abatzoglou et al. 2018, Sci. Data 5:170191; CC0; Climatology Lab, University
of Idaho). Monthly, 1/24 degree, one NetCDF per variable and year
(``TerraClimate_<var>_<year>.nc``: ``ppt``, ``tmax``, ``tmin``, ``PDSI``, ...), dims
``time, lat, lon`` with latitude north to south, values packed as 16-bit integers with
``scale_factor``/``add_offset`` and ``_FillValue``. The THREDDS NetCDF Subset Service of the
Northwest Knowledge Network serves the region and months only
(``.../thredds/ncss/TERRACLIMATE_ALL/data/TerraClimate_<var>_<year>.nc?var=<var>&north=..&
west=..&east=..&south=..&horizStride=1&time_start=<year>-01-01T00:00:00Z&time_end=<year>-12-31T
23:59:59Z&accept=netcdf``), so the cache holds ``terraclimate/<study>/TerraClimate_<var>_<year>.nc``
for the study's box only. xarray decodes the packing from the file's attributes.

**PKU GIMMS NDVI V1.2** (Li et al. 2023, ESSD 15:4181; CC-BY-4.0; Zenodo record 8253971).
Half-monthly, 1/12 degree, 1982-2022, distributed only as decade zips
(``PKU_GIMMS_NDVI_AVHRR_MODIS_consolidated_<first>_<last>.zip``) of GeoTIFFs named
``PKU_GIMMS_NDVI_V1.2_<YYYYMMHH>.tif`` (HH = 01 first, 02 second half of the month), two bands:
1 = NDVI as ``uint16`` (NDVI = DN x 0.001, valid 0-1000, 65535 = fill: non-vegetated or NDVI <=
0), 2 = QC; EPSG:4326 with origin (-180, 90) (the product readme). Zenodo serves whole files
only, so the zips are downloaded whole (several GB each); the reader then reads only the study's
window of each member straight from the zip (GDAL ``/vsizip/``), lazily, one dask task per member.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import RawFileError

PKU_FILL = 65535
PKU_VALID = (0, 1000)
PKU_SCALE = 0.001


# ------------------------------------------------------------------------------ URLs
def terraclimate_url(base: str, var: str, year: int, bbox: Sequence[float]) -> str:
    """NCSS subset URL of one TerraClimate variable and year for ``bbox``."""
    x0, y0, x1, y1 = bbox
    return (f"{base.rstrip('/')}/TerraClimate_{var}_{year}.nc?var={var}&north={y1}&west={x0}"
            f"&east={x1}&south={y0}&horizStride=1&time_start={year}-01-01T00:00:00Z"
            f"&time_end={year}-12-31T23:59:59Z&accept=netcdf")


def pku_zip_name(period: str) -> str:
    return f"PKU_GIMMS_NDVI_AVHRR_MODIS_consolidated_{period}.zip"


def pku_url(base: str, period: str) -> str:
    return f"{base.rstrip('/')}/{pku_zip_name(period)}"


# ------------------------------------------------------------------------------ retrieval
def _check_netcdf(path: Path, var: str) -> None:
    import xarray as xr

    try:
        with xr.open_dataset(path, engine="netcdf4") as ds:
            if var not in ds.data_vars:
                raise RawFileError(path, var, f"a variable '{var}' (file has {sorted(ds.data_vars)})")
    except (OSError, ValueError) as exc:
        raise RawFileError(path, var, f"a readable NetCDF file ({exc})") from None


def _check_zip(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
            if bad is not None:
                raise RawFileError(path, bad, "a zip member with a valid CRC")
            if not any(n.lower().endswith(".tif") for n in zf.namelist()):
                raise RawFileError(path, None, "GeoTIFF members PKU_GIMMS_NDVI_V1.2_<YYYYMMHH>.tif")
    except zipfile.BadZipFile as exc:
        raise RawFileError(path, None, f"a zip archive ({exc})") from None


def fetch_file(url: str, dest: Path, *, check, timeout: float = 60, retries: int = 3,
               backoff: float = 1.0, deadline: float = 900, progress=None) -> Path:
    """Download ``url`` to ``dest`` through the project's downloader (retries, deadline), into
    a ``.part`` file that is checked by ``check(path)`` and then renamed; nothing partial stays."""
    from ..retrieve.transfer import download

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        download(url, part, path=str(dest), timeout=timeout, retries=retries, backoff=backoff,
                 progress=progress, label=dest.name, deadline=deadline)
        check(part)
        part.replace(dest)
    finally:
        if part.exists():
            part.unlink()
    return dest


def retrieve_layer_files(study: dict, layer: dict, source: dict, raw_root: str | Path, **kw) -> list[Path]:
    """Download the files of one layer that are not in the cache yet; returns all its files."""
    from .study import decade_of, layer_files

    reader = source["reader"]
    files = layer_files(study, layer, source, raw_root, "")
    y0, y1 = study["years"]
    for y, f in zip(range(y0, y1 + 1), files, strict=False) if reader == "terraclimate" else []:
        if not f.exists():
            fetch_file(terraclimate_url(source["url"], layer["code"], y, study["bbox"]), f,
                       check=lambda p, v=layer["code"]: _check_netcdf(p, v), **kw)
    if reader == "pku_gimms_ndvi":
        for y in range(y0, y1 + 1):
            period = decade_of(y, source)
            if not period:
                raise RawFileError(f"pixel_sources.{layer['source']}.periods", y,
                                   f"a period holding year {y} (periods {source.get('periods')})")
        for f in files:
            if not f.exists():
                period = f.name.removeprefix("PKU_GIMMS_NDVI_AVHRR_MODIS_consolidated_").removesuffix(".zip")
                fetch_file(pku_url(source["url"], period), f, check=_check_zip, **kw)
    return files


# ------------------------------------------------------------------------------ readers
def _pku_members(zips: Sequence[Path], years: Sequence[int], months: Sequence[int] | None):
    import re

    pat = re.compile(r"PKU_GIMMS_NDVI_V[\d.]+_(\d{4})(\d{2})(\d{2})\.tif$", re.IGNORECASE)
    out = []
    for z in zips:
        if not Path(z).is_file():
            raise RawFileError(z, None, "a downloaded PKU GIMMS NDVI decade zip")
        with zipfile.ZipFile(z) as zf:
            for n in zf.namelist():
                m = pat.search(n)
                if not m:
                    continue
                y, mo, h = int(m.group(1)), int(m.group(2)), int(m.group(3))
                if h not in (1, 2) or not 1 <= mo <= 12:
                    raise RawFileError(z, n, "a member date YYYYMMHH with HH 01 or 02")
                if y in years and (not months or mo in months):
                    out.append((np.datetime64(f"{y:04d}-{mo:02d}-{1 if h == 1 else 16:02d}"), z, n))
    return sorted(out)


def _pku_read(zpath: str, member: str, window: tuple[int, int, int, int]) -> np.ndarray:
    import rasterio
    from rasterio.windows import Window

    r0, r1, c0, c1 = window
    with rasterio.open(f"/vsizip/{Path(zpath).as_posix()}/{member}") as ds:
        if ds.count < 2:
            raise RawFileError(f"{zpath}:{member}", "bands", f"2 bands (NDVI, QC), found {ds.count}")
        raw = ds.read(1, window=Window(c0, r0, c1 - c0, r1 - r0))
    out = raw.astype(np.float32) * np.float32(PKU_SCALE)
    out[(raw < PKU_VALID[0]) | (raw > PKU_VALID[1])] = np.nan  # 65535 fill and out of range
    return out


def open_pku_ndvi(zips: Sequence[Path], bbox: Sequence[float], years: Sequence[int],
                  months: Sequence[int] | None = None, how: str = "mean", chunk: int = 256):
    """PKU GIMMS NDVI for ``bbox`` and ``years`` as a lazy DataArray (year, lat, lon): the window
    of each half-monthly member is read by its own dask task, then aggregated to years."""
    import dask
    import dask.array as da
    import rasterio
    import xarray as xr

    from .io import to_annual

    members = _pku_members(zips, list(years), months)
    if not members:
        raise RawFileError(zips[0] if zips else "<none>", "members",
                           f"PKU GIMMS NDVI members for years {years[0]}-{years[-1]}")
    _, z0, n0 = members[0]
    with rasterio.open(f"/vsizip/{Path(z0).as_posix()}/{n0}") as ds:
        tr, H, W = ds.transform, ds.height, ds.width
        if ds.crs is None or tr.is_identity:
            from rasterio.transform import from_origin
            tr = from_origin(-180.0, 90.0, 1 / 12, 1 / 12)  # the product's documented grid
    x0, y0, x1, y1 = bbox
    c0 = max(int(np.floor((x0 - tr.c) / tr.a)), 0)
    c1 = min(int(np.ceil((x1 - tr.c) / tr.a)), W)
    r0 = max(int(np.floor((y1 - tr.f) / tr.e)), 0)
    r1 = min(int(np.ceil((y0 - tr.f) / tr.e)), H)
    if c1 <= c0 or r1 <= r0:
        raise RawFileError(z0, "bbox", f"a box overlapping the product grid ({bbox})")
    win = (r0, r1, c0, c1)
    lon = tr.c + tr.a * (np.arange(c0, c1) + 0.5)
    lat = tr.f + tr.e * (np.arange(r0, r1) + 0.5)
    arrs = [da.from_delayed(dask.delayed(_pku_read)(str(z), n, win), shape=(r1 - r0, c1 - c0),
                            dtype=np.float32) for _, z, n in members]
    stack = xr.DataArray(da.stack(arrs), dims=("time", "lat", "lon"),
                         coords={"time": [t for t, _, _ in members], "lat": lat, "lon": lon},
                         name="ndvi")
    out = to_annual(stack, None, how).transpose("year", "lat", "lon").astype(np.float32)
    return out.chunk({"year": -1, "lat": chunk, "lon": chunk})


def open_layer(lid: str, info: dict, study: dict, raw_root: str | Path, synthetic_path: str | Path,
               chunk: int = 256):
    """A study layer as a lazy DataArray (year, lat, lon), region and years selected first."""
    from .io import open_stack
    from .study import layer_files

    spec, source = info["spec"], info["source"]
    files = layer_files(study, spec, source, raw_root, synthetic_path)
    y0, y1 = study["years"]
    years = list(range(y0, y1 + 1))
    if source["reader"] == "geotiff":  # a static layer (no years), e.g. livestock density
        from .io import open_geotiff

        if not files[0].exists():
            raise RawFileError(files[0], spec["code"], f"the GeoTIFF of static layer '{lid}'")
        da = open_geotiff(files[0], bbox=study["bbox"], band=int(spec["code"]), chunk=chunk)
        da.name = lid
        da.attrs.update(long_name=spec["label"], units=spec["measure"], source=spec["source"],
                        static="true: one map for all years")
        return da
    if source["reader"] == "pku_gimms_ndvi":
        da = open_pku_ndvi(files, study["bbox"], years, spec.get("months"), spec.get("how", "mean"), chunk)
    else:
        missing = [f for f in files if not f.exists()]
        if missing:
            raise RawFileError(missing[0], spec["code"],
                               f"a file of layer '{lid}' ({len(missing)} of {len(files)} missing); "
                               "run the pixel_retrieve rule or python -m dlddrivers.gridded.retrieve")
        da = open_stack(files, spec["code"], bbox=study["bbox"], years=years,
                        months=spec.get("months"), how=spec.get("how", "mean"), chunk=chunk,
                        valid_range=spec.get("valid_range"))
    da.name = lid
    da.attrs.update(long_name=spec["label"], units=spec["measure"], source=spec["source"])
    return da
