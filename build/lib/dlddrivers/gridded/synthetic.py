"""Synthetic annual stacks with planted per-pixel truth, and the recovery table.

Each pixel is one of four truth classes (shares in ``DEFAULTS["class_shares"]``):

* ``none``: no trend in climate or land use;
* ``climate``: precipitation trends, vegetation follows it through the vegetation-precipitation
  relation (the climate-driven trend is ``b_precip * precip_trend``);
* ``human``: precipitation has no trend, vegetation has a land-use trend ``human_trend``;
* ``both``: both, with the same sign (a degradation or an improvement on both counts).

The sign (degradation or improvement) is drawn per pixel. Vegetation is
``ndvi = a + b_precip * precip + b_temp * temp + human + noise``: the climate varies from year to
year with a regional anomaly shared by all pixels plus a local one; the noise is AR(1)
(``ar1``); a share of the ``human`` pixels (``break_share``) degrade abruptly (a step of
``human_trend * n_years / 2`` at the middle year) instead of gradually. All draws come from
``numpy.random.default_rng([seed, row_block])``, so any block of rows can be generated alone
(a 2,000 x 2,000 stack is written block by block in bounded memory).

:func:`recovery` runs the study's per-pixel methods on a generated stack and scores them against
the truth: class accuracy (overall and per truth class), slope errors (actual, climate-driven and
human components), interval coverage of the actual slope, and the false discovery rate achieved
by the Benjamini-Hochberg rule against its target. Each row has its target and ``met``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

TRUTH_CODES = {"none": 0, "climate": 1, "human": 2, "both": 3}

DEFAULTS: dict = {
    "class_shares": {"none": 0.4, "climate": 0.2, "human": 0.2, "both": 0.2},
    "intercept": 0.25,
    "b_precip": 0.0005,       # NDVI per mm
    "b_temp": -0.004,         # NDVI per degree C
    "precip_mean": 250.0,     # mm / year
    "precip_sd": 50.0,        # local interannual sd (mm)
    "precip_regional_sd": 30.0,
    "precip_trend": 5.0,      # mm / year on climate and both pixels (so 0.0025 NDVI / year)
    "temp_mean": 2.0,
    "temp_sd": 0.6,
    "human_trend": 0.003,     # NDVI / year on human and both pixels
    "noise_sd": 0.012,
    "ar1": 0.3,
    "break_share": 0.25,      # of human pixels: an abrupt step instead of a gradual trend
    "bbox": [87.7, 41.5, 119.9, 52.2],  # lon_min, lat_min, lon_max, lat_max (Mongolia)
}

#: recovery targets (the recovery table says whether each is met)
TARGETS: dict = {
    "class_accuracy": 0.75,          # share of pixels in their planted class (overall)
    "fdr_tolerance": 0.03,           # achieved FDR <= q + tolerance
    "actual_slope_rmse_max": 0.0012,  # NDVI / year
    "actual_ci_coverage_min": 0.85,
}


def grid_coords(ny: int, nx: int, bbox: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Cell-centre latitudes (north to south, as most providers store them) and longitudes."""
    x0, y0, x1, y1 = bbox
    dx, dy = (x1 - x0) / nx, (y1 - y0) / ny
    lon = x0 + dx * (np.arange(nx) + 0.5)
    lat = y1 - dy * (np.arange(ny) + 0.5)
    return lat, lon


def generate_block(ny: int, nx: int, years: np.ndarray, seed: int, block: int = 0,
                   params: dict | None = None) -> dict[str, np.ndarray]:
    """One block of rows: ``ndvi``, ``precip``, ``temp`` as (T, ny, nx) float32, and the truth
    (ny, nx): ``truth`` (code, :data:`TRUTH_CODES`), ``sign``, ``true_climate_slope``,
    ``true_human_slope`` (per year; for break pixels the average rate of the step over the
    period), ``break`` (bool)."""
    p = {**DEFAULTS, **(params or {})}
    rng = np.random.default_rng([int(seed), int(block)])
    T = len(years)
    t = np.arange(T, dtype=np.float64) - (T - 1) / 2.0
    names = list(TRUTH_CODES)
    shares = np.array([p["class_shares"][k] for k in names], dtype=float)
    truth = rng.choice(len(names), size=(ny, nx), p=shares / shares.sum())
    sign = rng.choice([-1.0, 1.0], size=(ny, nx))
    has_clim = (truth == 1) | (truth == 3)
    has_hum = (truth == 2) | (truth == 3)
    brk = (truth == 2) & (rng.random((ny, nx)) < p["break_share"])
    # regional anomalies are shared across the whole study: drawn from the seed alone
    reg = np.random.default_rng([int(seed), 10**6])
    reg_p = reg.normal(0, p["precip_regional_sd"], T)
    reg_t = reg.normal(0, p["temp_sd"] / 2, T)
    pc_trend = np.where(has_clim, sign * p["precip_trend"], 0.0)
    precip = (p["precip_mean"] + reg_p[:, None, None] + pc_trend[None] * t[:, None, None]
              + rng.normal(0, p["precip_sd"], (T, ny, nx)))
    precip = np.maximum(precip, 0.0)
    temp = p["temp_mean"] + reg_t[:, None, None] + rng.normal(0, p["temp_sd"], (T, ny, nx))
    h = np.where(has_hum, sign * p["human_trend"], 0.0)
    human = h[None] * t[:, None, None]
    step = np.where(t >= 0, 1.0, 0.0)[:, None, None] * (h * T / 2.0)[None]
    human = np.where(brk[None], step - (h * T / 4.0)[None], human)
    e = rng.normal(0, p["noise_sd"] * np.sqrt(1 - p["ar1"] ** 2), (T, ny, nx))
    noise = np.empty_like(e)
    noise[0] = rng.normal(0, p["noise_sd"], (ny, nx))
    for k in range(1, T):
        noise[k] = p["ar1"] * noise[k - 1] + e[k]
    ndvi = (p["intercept"] + p["b_precip"] * precip + p["b_temp"] * temp + human + noise)
    # the break's average rate over the period (the OLS slope of a centred step)
    step_rate = (h * T / 2.0) * float((np.where(t >= 0, 1.0, 0.0) * t).sum() / (t * t).sum())
    true_h = np.where(brk, step_rate, h)
    return {"ndvi": ndvi.astype(np.float32), "precip": precip.astype(np.float32),
            "temp": temp.astype(np.float32), "truth": truth.astype(np.int8), "sign": sign,
            "true_climate_slope": p["b_precip"] * pc_trend, "true_human_slope": true_h,
            "break": brk}


def generate(ny: int, nx: int, years, seed: int, params: dict | None = None):
    """A whole synthetic study as an ``xarray.Dataset`` (dims year, lat, lon): data variables
    ``ndvi``, ``precip``, ``temp`` and the truth layers (prefixed ``truth_``/``true_``)."""
    import xarray as xr

    p = {**DEFAULTS, **(params or {})}
    years = np.asarray(list(years), dtype=np.int64)
    b = generate_block(ny, nx, years, seed, 0, p)
    lat, lon = grid_coords(ny, nx, p["bbox"])
    dims3, dims2 = ("year", "lat", "lon"), ("lat", "lon")
    ds = xr.Dataset(
        {
            "ndvi": (dims3, b["ndvi"], {"long_name": "synthetic NDVI", "units": "1"}),
            "precip": (dims3, b["precip"], {"long_name": "annual precipitation", "units": "mm"}),
            "temp": (dims3, b["temp"], {"long_name": "annual mean temperature", "units": "degC"}),
            "truth_class": (dims2, b["truth"], {"flag_values": list(TRUTH_CODES.values()),
                                                "flag_meanings": " ".join(TRUTH_CODES)}),
            "truth_sign": (dims2, b["sign"]),
            "true_climate_slope": (dims2, b["true_climate_slope"]),
            "true_human_slope": (dims2, b["true_human_slope"]),
            "truth_break": (dims2, b["break"].astype(np.int8)),
        },
        coords={"year": years, "lat": lat, "lon": lon},
        attrs={"title": "dlddrivers synthetic stack with planted per-pixel truth", "seed": int(seed)},
    )
    return ds


def write_stack_netcdf(path: str | Path, ny: int, nx: int, years, seed: int,
                       params: dict | None = None, rows_per_block: int = 100,
                       variables: tuple[str, ...] = ("ndvi", "precip", "temp")) -> Path:
    """Write a large synthetic stack (one NetCDF4 file, variables (year, lat, lon), chunked
    (T, 100, 500), zlib level 1) block of rows by block, in memory bounded by the block."""
    import netCDF4

    p = {**DEFAULTS, **(params or {})}
    years = np.asarray(list(years), dtype=np.int64)
    lat, lon = grid_coords(ny, nx, p["bbox"])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("year", len(years))
        nc.createDimension("lat", ny)
        nc.createDimension("lon", nx)
        nc.createVariable("year", "i4", ("year",))[:] = years
        v = nc.createVariable("lat", "f8", ("lat",))
        v[:] = lat
        v.units = "degrees_north"
        v = nc.createVariable("lon", "f8", ("lon",))
        v[:] = lon
        v.units = "degrees_east"
        chunks = (len(years), min(rows_per_block, ny), min(500, nx))
        out = {k: nc.createVariable(k, "f4", ("year", "lat", "lon"), zlib=True, complevel=1,
                                    chunksizes=chunks) for k in variables}
        for bi, r0 in enumerate(range(0, ny, rows_per_block)):
            nr = min(rows_per_block, ny - r0)
            b = generate_block(nr, nx, years, seed, bi, p)
            for k in variables:
                out[k][:, r0 : r0 + nr, :] = b[k]
    return path


def truth_attribution_class(truth: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """The attribution class (:data:`dlddrivers.gridded.methods.ATTRIBUTION_CLASSES`) each
    planted pixel should get."""
    base = np.where(sign < 0, 0, 4)
    comp = np.select([truth == 1, truth == 2, truth == 3], [1, 2, 3], 0)
    return np.where(truth == 0, 0, base + comp).astype(np.int8)


def recovery(ds, result, q: float = 0.05, targets: dict | None = None) -> pd.DataFrame:
    """Score per-pixel results (``result``: the Dataset of :func:`dlddrivers.gridded.pipeline.
    pixel_analysis`) against the planted truth of ``ds`` (from :func:`generate`).

    Rows: ``metric, truth_subset, value, target, met, n_pixels, note``.
    """
    tg = {**TARGETS, **(targets or {})}
    truth = ds["truth_class"].values
    sign = ds["truth_sign"].values
    expect = truth_attribution_class(truth, sign)
    got = result["attribution_class"].values
    true_total = ds["true_climate_slope"].values + ds["true_human_slope"].values
    rows: list[dict] = []

    def add(metric, subset, value, target=np.nan, met=None, n=0, note=""):
        rows.append({"metric": metric, "truth_subset": subset, "value": float(value),
                     "target": float(target) if target is not None else np.nan,
                     "met": met, "n_pixels": int(n), "note": note})

    acc = float((got == expect).mean())
    add("class_accuracy", "all", acc, tg["class_accuracy"], acc >= tg["class_accuracy"],
        truth.size, "share of pixels in the class their planted truth implies")
    for name, code in TRUTH_CODES.items():
        sel = truth == code
        if sel.any():
            add("class_recall", name, (got[sel] == expect[sel]).mean(), n=sel.sum(),
                note="share of this truth class recovered")
    brk = ds["truth_break"].values.astype(bool)
    if brk.any():
        add("class_recall", "human (abrupt break)", (got[brk] == expect[brk]).mean(), n=brk.sum(),
            note="abrupt steps: RESTREND and monotonic trend tests are built for gradual change")
    # slopes
    a = result["actual_slope"].values
    ok = np.isfinite(a)
    rmse = float(np.sqrt(np.mean((a[ok] - true_total[ok]) ** 2)))
    add("actual_slope_rmse", "all", rmse, tg["actual_slope_rmse_max"],
        rmse <= tg["actual_slope_rmse_max"], ok.sum(), "Theil-Sen slope vs planted total trend (per year)")
    add("actual_slope_bias", "all", np.mean(a[ok] - true_total[ok]), n=ok.sum())
    lo, hi = result["actual_ci_low"].values, result["actual_ci_high"].values
    gradual = ok & ~brk
    cov = float(((lo <= true_total) & (true_total <= hi))[gradual].mean())
    add("actual_ci_coverage", "gradual pixels", cov, tg["actual_ci_coverage_min"],
        cov >= tg["actual_ci_coverage_min"], gradual.sum(),
        "Sen interval (nominal 0.95) covers the planted trend; AR(1) noise narrows it")
    for comp, true in (("climate", ds["true_climate_slope"].values),
                       ("residual", ds["true_human_slope"].values)):
        v = result[f"{comp}_slope"].values
        okc = np.isfinite(v)
        if okc.any():
            add(f"{comp}_slope_rmse", "fit not refused", np.sqrt(np.mean((v[okc] - true[okc]) ** 2)),
                n=okc.sum(), note="per year; RESTREND's climate fit absorbs part of a human trend "
                "where precipitation also trends")
            add(f"{comp}_slope_bias", "fit not refused", np.mean(v[okc] - true[okc]), n=okc.sum())
    add("climate_fit_refused", "all", float(result["restrend_refused"].values.mean()), n=truth.size,
        note="share of pixels whose vegetation-climate fit is not significant")
    # false discovery rate achieved by BH on the actual trend
    sig = result["actual_q"].values < q
    null = true_total == 0
    nd = int(sig.sum())
    fdr = float((sig & null).sum() / nd) if nd else 0.0
    add("fdr_actual_trend", "all", fdr, q + tg["fdr_tolerance"], fdr <= q + tg["fdr_tolerance"], nd,
        f"false discoveries / discoveries, BH at q={q}; truth: no planted trend")
    power = float((sig & ~null).sum() / max((~null).sum(), 1))
    add("power_actual_trend", "pixels with a planted trend", power, n=int((~null).sum()))
    naive = result["actual_p"].values < q
    nn = int(naive.sum())
    add("fdr_actual_trend_per_pixel_p", "all", (naive & null).sum() / nn if nn else 0.0, n=nn,
        note=f"for comparison: per-pixel p < {q} without FDR control")
    rs = result["residual_q"].values < q
    hnull = ds["true_human_slope"].values == 0
    nr = int(rs.sum())
    add("fdr_residual_trend", "fit not refused", (rs & hnull).sum() / nr if nr else 0.0,
        q + tg["fdr_tolerance"], ((rs & hnull).sum() / nr if nr else 0.0) <= q + tg["fdr_tolerance"],
        nr, "truth: no planted human trend")
    return pd.DataFrame(rows)
