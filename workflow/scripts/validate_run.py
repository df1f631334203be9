"""Thin adapter: one validation scenario x seed from its slice (dlddrivers.validation.run_slice_job)."""

import logging
import warnings

from dlddrivers.validation import run_slice_job

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
logging.captureWarnings(True)
warnings.simplefilter("ignore")
run_slice_job(snakemake.params.slice, int(snakemake.wildcards.seed), snakemake.output[0])  # noqa: F821
