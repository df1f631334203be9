"""Thin adapter: detection power table (dlddrivers.validation.power_job)."""

import logging

from dlddrivers.process import end_job
from dlddrivers.validation import power_job

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
power_job(
    {"power": snakemake.params.power, "base_seed": snakemake.params.base_seed},  # noqa: F821
    snakemake.output[0],  # noqa: F821
)
end_job()  # every output is written: skip the interpreter's teardown
