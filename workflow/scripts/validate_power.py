"""Thin adapter: detection power table (dlddrivers.validation.power_job)."""

import logging

from dlddrivers.validation import load_config, power_job

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
cfg = load_config(snakemake.params.config_file, snakemake.params.preset)  # noqa: F821
power_job(cfg, snakemake.output[0])  # noqa: F821
