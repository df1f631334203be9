"""Thin adapter: run one analysis stage on one study's panel (dlddrivers.pipeline.stage_job)."""

from dlddrivers.jobserver import run_in_server

run_in_server()  # in a forked child of the warm job server when one runs (local runs)

import logging
import warnings
from pathlib import Path

from dlddrivers.pipeline import stage_job
from dlddrivers.process import end_job

logging.basicConfig(filename=snakemake.log[0], level=logging.WARNING)  # noqa: F821
logging.captureWarnings(True)
warnings.simplefilter("default")
stage_job(
    snakemake.params.slice["study"],  # noqa: F821
    snakemake.params.stage,  # noqa: F821
    snakemake.params.slice["options"],  # noqa: F821
    Path(snakemake.input.panel).parent,  # noqa: F821
    snakemake.output[0],  # noqa: F821
    graph=(snakemake.input.graph or [None])[0] if hasattr(snakemake.input, "graph") else None,  # noqa: F821
)
end_job()  # every output is written: skip the interpreter's teardown
