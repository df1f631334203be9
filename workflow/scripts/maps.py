"""Thin adapter: draw the maps of one study (dlddrivers.plots.maps.study_maps)."""

import logging
from pathlib import Path

from dlddrivers.plots.maps import study_maps

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
logging.captureWarnings(True)
inp = snakemake.input  # noqa: F821
boundaries = {"MNG": inp.boundary_mng}
for iso, key in (("CHN", "boundary_chn"), ("JPN", "boundary_jpn")):
    files = inp.get(key)  # [] when the file is not in the snapshot, else [path]
    if files:
        boundaries[iso] = files if isinstance(files, str) else files[0]
written = study_maps(
    Path(inp.dictionary).parent,
    snakemake.params.level,  # noqa: F821
    boundaries,
    snakemake.output[0],  # noqa: F821
)
logging.info("maps written: %s", ", ".join(p.name for p in written))
