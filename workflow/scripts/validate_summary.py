"""Thin adapter: gather the validation runs (dlddrivers.validation.summary_job) and draw the
recovery figure from the table just written (dlddrivers.plots.validation)."""

from dlddrivers.jobserver import run_in_server

run_in_server()  # in a forked child of the warm job server when one runs (local runs)

import logging
from pathlib import Path

import pandas as pd

from dlddrivers.plots.validation import plot_recovery
from dlddrivers.process import end_job
from dlddrivers.validation import summary_job

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
paths = summary_job(
    list(snakemake.input),  # noqa: F821
    str(Path(snakemake.output.recovery).parent),  # noqa: F821
    snakemake.params.shapes,  # noqa: F821
    runs=snakemake.params.runs,  # noqa: F821
)
plot_recovery(pd.read_csv(paths["by_units"]), snakemake.output.recovery_plot)  # noqa: F821
end_job()  # every output is written: skip the interpreter's teardown
