"""Thin adapter: validation figures (dlddrivers.plots.validation)."""

import logging

import pandas as pd

from dlddrivers.plots.validation import plot_power, plot_recovery
from dlddrivers.process import end_job

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
plot_recovery(pd.read_csv(snakemake.input.by_units), snakemake.output.recovery)  # noqa: F821
plot_power(pd.read_csv(snakemake.input.power), snakemake.output.power)  # noqa: F821
end_job()  # every output is written: skip the interpreter's teardown
