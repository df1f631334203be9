"""Thin adapter: draw the maps of one study (dlddrivers.maps_job.maps_job)."""

from dlddrivers.jobserver import run_in_server

run_in_server()  # in a forked child of the warm job server when one runs (local runs)

import logging
from pathlib import Path

from dlddrivers.maps_job import maps_job
from dlddrivers.process import end_job

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
logging.captureWarnings(True)
sm = snakemake  # noqa: F821
maps_job(
    Path(sm.input.dictionary).parent,
    sm.params.level,
    sm.output[0],
    boundaries=sm.params.boundaries,
    boundary_files=list(sm.input.boundaries),
    skipped=sm.params.boundaries_skipped,
    tiles=sm.params.tiles,
)
end_job()  # every output is written: skip the interpreter's teardown
