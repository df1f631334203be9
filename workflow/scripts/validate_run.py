"""Thin adapter: one validation scenario x seed (dlddrivers.validation.run_job)."""

import logging
import warnings

from dlddrivers.validation import load_config, run_job

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
logging.captureWarnings(True)
warnings.simplefilter("ignore")
cfg = load_config(snakemake.params.config_file, snakemake.params.preset)  # noqa: F821
run_job(cfg, snakemake.wildcards.scenario, int(snakemake.wildcards.seed), snakemake.output[0])  # noqa: F821
