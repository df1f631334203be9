"""Thin adapter: write results/summary.md, summary.html and the report's front page
(dlddrivers.summary.write_summary).

The validation table (``<results>/validation/expected_error.csv``) is read when present.
"""

from dlddrivers.jobserver import run_in_server

run_in_server()  # in a forked child of the warm job server when one runs (local runs)

import logging
from pathlib import Path

from dlddrivers.process import end_job
from dlddrivers.summary import VALIDATION_TABLE, write_summary

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
logging.captureWarnings(True)
results = Path(snakemake.output.md).parent  # noqa: F821
md, html = write_summary(
    results,
    snakemake.params.studies,  # noqa: F821
    snakemake.output.md,  # noqa: F821
    snakemake.output.html,  # noqa: F821
    validation=results / VALIDATION_TABLE,
    front_path=snakemake.output.front,  # noqa: F821
)
logging.info("summary written: %s, %s", md, html)
end_job()  # every output is written: skip the interpreter's teardown
