"""The pixel path: gridded annual time stacks (outcome, climate, human layers) analysed per pixel
with xarray + dask, then aggregated back to registry units.

Modules: :mod:`.methods` (vectorised Mann-Kendall + Theil-Sen, RESTREND, SDG 15.3.1 terms,
attribution classes, Benjamini-Hochberg FDR, cell areas), :mod:`.io` (lazy, chunked reading with
the region selected before loading; NetCDF writing), :mod:`.zonal` (area-weighted unit means and
class areas -> a unit-year panel), :mod:`.synthetic` (planted per-pixel truth and the recovery
table), :mod:`.products` (retrieval of PKU GIMMS NDVI and TerraClimate subsets) and
:mod:`.pipeline` (one study end to end).
"""
