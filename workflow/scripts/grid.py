"""Thin adapter for the grid rules (grid_data, grid_geodetector, grid_ml, grid_scale):
Snakemake inputs/params -> dlddrivers.grid job functions."""

from dlddrivers.jobserver import run_in_server

run_in_server()  # in a forked child of the warm job server when one runs (local runs)

import logging
import warnings
from pathlib import Path

from dlddrivers import grid
from dlddrivers.process import end_job

logging.basicConfig(filename=snakemake.log[0], level=logging.WARNING)  # noqa: F821
logging.captureWarnings(True)
warnings.simplefilter("default")
sm = snakemake  # noqa: F821
rule = sm.rule
if rule == "grid_data":
    grid.grid_data_job(sm.params.slice, sm.params.raw_root, Path(sm.output.cells).parent,
                       sm.output.status, list(sm.params.panel_stages))
elif rule == "grid_geodetector":
    grid.grid_geodetector_job(dict(sm.params.study), dict(sm.params.options), sm.input.cells,
                              sm.input.dictionary, int(sm.wildcards.km), sm.output[0])
elif rule == "grid_ml":
    grid.grid_ml_job(dict(sm.params.study), dict(sm.params.options), sm.input.cells,
                     sm.input.dictionary, Path(sm.input.geodetector) / "factor.csv",
                     int(sm.wildcards.km), sm.output[0])
elif rule == "grid_scale":
    d = [Path(p) for p in sm.input.geodetector]
    m = [Path(p) for p in sm.input.ml]
    grid.grid_scale_job(dict(sm.params.study), [p / "factor.csv" for p in d],
                        [p / "shares.csv" for p in m], [p / "ranking_agreement.csv" for p in m],
                        sm.input.dictionary, sm.output[0])
else:
    raise ValueError(f"workflow/scripts/grid.py: unknown rule {rule!r}")
end_job()  # every output is written: skip the interpreter's teardown
