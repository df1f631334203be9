"""Thin adapter: draw the coverage heatmap of one study."""

import pandas as pd

from dlddrivers.plots.coverage import plot_coverage

cov = pd.read_csv(snakemake.input.coverage)  # noqa: F821
plot_coverage(cov, snakemake.wildcards.study, snakemake.output[0])  # noqa: F821
