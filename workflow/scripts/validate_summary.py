"""Thin adapter: gather the validation runs (dlddrivers.validation.summary_job)."""

import logging
from pathlib import Path

from dlddrivers.process import end_job
from dlddrivers.validation import summary_job

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
summary_job(
    list(snakemake.input),  # noqa: F821
    str(Path(snakemake.output.recovery).parent),  # noqa: F821
    snakemake.params.shapes,  # noqa: F821
)
end_job()  # every output is written: skip the interpreter's teardown
