"""Thin adapter: build one study's panel from its config slice (dlddrivers.pipeline.panel_job)."""

from dlddrivers.jobserver import run_in_server

run_in_server()  # in a forked child of the warm job server when one runs (local runs)

import logging
from pathlib import Path

from dlddrivers.pipeline import panel_job
from dlddrivers.process import end_job

logging.basicConfig(filename=snakemake.log[0], level=logging.WARNING)  # noqa: F821
panel_job(
    snakemake.params.slice,  # noqa: F821
    snakemake.params.raw_root,  # noqa: F821
    Path(snakemake.output.panel_csv).parent,  # noqa: F821
)
end_job()  # every output is written: skip the interpreter's teardown
