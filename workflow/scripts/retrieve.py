"""Thin adapter: download one raw file into the cache from its spec (dlddrivers.retrieve.fetch)."""

import sys
from pathlib import Path

from dlddrivers.retrieve import FileSpec, fetch

spec = FileSpec(**snakemake.params.spec)  # noqa: F821
with open(snakemake.log[0], "w") as log:  # noqa: F821
    sys.stderr = log
    fetch(spec, Path(snakemake.params.raw_dir), on_checksum_mismatch=snakemake.params.on_mismatch,  # noqa: F821
          deadline=float(snakemake.params.deadline), progress=log)  # noqa: F821
