"""Thin adapter: detection power table (dlddrivers.validation.power_job) and its figure
(dlddrivers.plots.validation), drawn from the table just written."""

from dlddrivers.jobserver import run_in_server

run_in_server()  # in a forked child of the warm job server when one runs (local runs)

import logging

import pandas as pd

from dlddrivers.plots.validation import plot_power
from dlddrivers.process import end_job
from dlddrivers.validation import power_job

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
power_job(
    {"power": snakemake.params.power, "base_seed": snakemake.params.base_seed},  # noqa: F821
    snakemake.output.power,  # noqa: F821
)
plot_power(pd.read_csv(snakemake.output.power), snakemake.output.plot)  # noqa: F821
end_job()  # every output is written: skip the interpreter's teardown
