"""Thin adapter: download one raw file into the cache (dlddrivers.retrieve.fetch)."""

import sys
from pathlib import Path

from dlddrivers.pipeline import load_sources, wdi_codes
from dlddrivers.retrieve import fetch, resolve, spec_for_path

cfg = snakemake.config  # noqa: F821
specs = resolve(load_sources(snakemake.params.sources), wdi_codes(cfg))  # noqa: F821
spec = spec_for_path(specs, snakemake.wildcards.path)  # noqa: F821
with open(snakemake.log[0], "w") as log:  # noqa: F821
    sys.stderr = log
    fetch(spec, Path(cfg["raw_dir"]), on_checksum_mismatch=snakemake.params.on_mismatch,  # noqa: F821
          deadline=float(snakemake.params.deadline), progress=log)  # noqa: F821
