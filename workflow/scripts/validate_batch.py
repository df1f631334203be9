"""Thin adapter: a batch of validation runs from its slice (dlddrivers.validation.run_batch_job)."""

from dlddrivers.jobserver import run_in_server

run_in_server()  # in a forked child of the warm job server when one runs (local runs)

import logging
import warnings

from dlddrivers.process import end_job
from dlddrivers.validation import run_batch_job

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
logging.captureWarnings(True)
warnings.simplefilter("ignore")
run_batch_job(snakemake.params.slice, snakemake.output[0])  # noqa: F821
end_job()  # every output is written: skip the interpreter's teardown
