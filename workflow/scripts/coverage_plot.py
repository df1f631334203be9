"""Thin adapter: draw the coverage heatmap of one study."""

from dlddrivers.jobserver import run_in_server

run_in_server()  # in a forked child of the warm job server when one runs (local runs)

import pandas as pd

from dlddrivers.plots.coverage import plot_coverage
from dlddrivers.process import end_job

cov = pd.read_csv(snakemake.input.coverage)  # noqa: F821
plot_coverage(cov, snakemake.wildcards.study, snakemake.output[0])  # noqa: F821
end_job()  # every output is written: skip the interpreter's teardown
