"""Plain-language summary of a finished run, generated only from the result files.

Every number in the summary is read from a table the workflow wrote (``results/<study>/...``)
and each section names the table it comes from, the stage and the function that wrote it, so a
number traces back to the raw files in a few steps: summary -> table -> stage function (in
:mod:`dlddrivers.stages`) -> the study's ``panel.parquet`` -> ``provenance.json`` (raw files with
their URL and sha256). Nothing is typed in by hand. Each section is a function that takes
DataFrames (or paths) and returns a markdown string, so the text can be tested on small
hand-made tables without Snakemake. A stage whose folder is absent (not built yet, or failed) is
reported as missing, never silently skipped.

Modules: :mod:`.read` (result files), :mod:`.format` (numbers, labels), :mod:`.sections`,
:mod:`.effects` and :mod:`.validation` (the sections), :mod:`.study` (one panel study's pages),
:mod:`.grid` (grid studies), :mod:`.render` (HTML). Entry points: :func:`study_summary`,
:func:`build_summary` (all studies plus the validation section), :func:`write_summary` and
:func:`markdown_to_html`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .effects import causal_section, caveats_section, impacts_section
from .format import direction_text, fmt_estimate, fmt_interval, fmt_num, fmt_p, fmt_pct, md_table
from .grid import grid_study_summary, is_grid_study
from .read import VALIDATION_TABLE, StudyResults, read_study
from .render import front_page_fragment, markdown_to_html
from .sections import (
    agreement_section,
    attribution_section,
    coverage_gaps,
    coverage_section,
    drivers_section,
    headline_section,
    headline_split,
    headline_table,
    stage_status_section,
)
from .study import figures_section, study_summary
from .validation import validation_section


def build_summary(results_dir: str | Path, studies: Sequence[str],
                  validation: str | Path | None = None, stages: Sequence[str] | None = None,
                  rel_to: str | Path | None = None) -> str:
    """The whole summary (markdown) for ``studies`` under ``results_dir``.

    ``validation`` defaults to ``results_dir/validation/expected_error.csv``; image links are
    relative to ``rel_to`` (the folder of ``summary.md``; default ``results_dir``).
    """
    root = Path(results_dir)
    rel = Path(rel_to) if rel_to is not None else root
    val = Path(validation) if validation is not None else root / VALIDATION_TABLE
    head = [
        "# DLD drivers: summary of results",
        "Generated from the result files of this run; every number below is read from a table in "
        "this folder. Each share names its **estimand**: `share_of_explained_variance` (LMG: part of "
        "the variance explained by a linear model), `share_of_trend` (part of the observed change), "
        "`association` (within-unit regression, geodetector q), `causal_effect` (under a stated "
        "causal graph), `share_of_mean_abs_shap` (grid study: SHAP of a tree model). "
        "None of them is a bare \"percent caused by people\". Intervals are the stages' bootstrap or "
        "model intervals at the level shown.",
        "Studies: " + ", ".join(f"`{s}`" for s in studies) + ".",
    ]
    # first one page per study (the headline), then the details of every study; a grid study
    # has its own one-block summary
    from ..gridded.summary import is_pixel_study, pixel_study_summary

    body = [pixel_study_summary(root / s, rel) if is_pixel_study(root / s)
            else grid_study_summary(root / s, rel) if is_grid_study(root / s)
            else study_summary(root / s, rel, stages, val, part="headline") for s in studies]
    body += ["# Details"] + [study_summary(root / s, rel, stages, val, part="details") for s in studies
                             if not is_grid_study(root / s) and not is_pixel_study(root / s)]
    if val.is_file() and "study" in pd.read_csv(val, nrows=0).columns:
        tail = ["## Expected error (validation)",
                f"Per study above (the methods of its headline); all rows: "
                f"[{VALIDATION_TABLE.as_posix()}]({Path(os.path.relpath(val, rel)).as_posix()})."]
    else:
        tail = ["## Expected error (validation)", validation_section(val)]
    return "\n\n".join(head + body + tail) + "\n"


def write_summary(results_dir: str | Path, studies: Sequence[str], md_path: str | Path,
                  html_path: str | Path, validation: str | Path | None = None,
                  front_path: str | Path | None = None) -> tuple[Path, Path]:
    """Write ``summary.md`` and ``summary.html`` (image links relative to ``results_dir``) and,
    with ``front_path``, the studies' first pages as the report's front-page fragment
    (:func:`front_page_fragment`)."""
    md_path, html_path = Path(md_path), Path(html_path)
    md = build_summary(results_dir, studies, validation, rel_to=md_path.parent)
    md_path.parent.mkdir(parents=True, exist_ok=True)
    md_path.write_text(md, encoding="utf-8")
    html_path.write_text(markdown_to_html(md), encoding="utf-8")
    if front_path is not None:
        Path(front_path).write_text(front_page_fragment(md), encoding="utf-8")
    return md_path, html_path


__all__ = [
    "StudyResults", "read_study", "coverage_section", "coverage_gaps", "stage_status_section",
    "drivers_section", "headline_section", "headline_table", "headline_split", "attribution_section",
    "agreement_section", "causal_section", "impacts_section", "caveats_section", "validation_section",
    "figures_section", "study_summary", "grid_study_summary", "is_grid_study", "build_summary",
    "markdown_to_html", "front_page_fragment", "write_summary", "direction_text", "VALIDATION_TABLE",
    "fmt_num", "fmt_pct", "fmt_interval", "fmt_estimate", "fmt_p", "md_table",
]
