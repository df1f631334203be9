"""One panel study's summary: its first page (headline) and its details, with figures and the tables every number comes from."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from .effects import causal_section, caveats_section, impacts_section
from .read import VALIDATION_TABLE, StudyResults, read_study
from .sections import (
    agreement_section,
    attribution_section,
    coverage_section,
    drivers_section,
    headline_section,
    headline_split,
    headline_table,
    stage_status_section,
)
from .validation import HEADLINE_METHODS, validation_section


def _figure(path: Path, rel_to: Path, alt: str) -> str:
    rel = os.path.relpath(path, rel_to)
    return f"![{alt}]({Path(rel).as_posix()})"


def figures_section(res: StudyResults, rel_to: Path,
                    stage_figures: Iterable[str] = ("attribution", "impacts")) -> str:
    """Embed the coverage heatmap, the maps and the key stage figures by relative path."""
    figs: list[Path] = []
    if (res.path / "coverage.png").is_file():
        figs.append(res.path / "coverage.png")
    figs += sorted((res.path / "maps").glob("*.png"))
    for st in stage_figures:
        figs += sorted((res.path / st).glob("*.png"))[:4]
    return "\n\n".join(_figure(f, rel_to, f"{res.name}: {f.parent.name}/{f.stem}") for f in figs)


def _link(path: Path, rel_to: Path, text: str) -> str:
    return f"[{text}]({Path(os.path.relpath(path, rel_to)).as_posix()})"


def table_ref(res: StudyResults, rel_to: Path, stage: str, table: str) -> str:
    """A link to ``<study>/<stage>/<table>.csv`` and the registered function that wrote it."""
    from ..stages import STAGES

    fn = f" by `{STAGES[stage].function}`" if stage in STAGES else ""
    return f"{_link(res.path / stage / f'{table}.csv', rel_to, f'{stage}/{table}.csv')}{fn}"


def cite(res: StudyResults, rel_to: Path, *refs: tuple[str, str], panel: bool = False) -> str:
    """The line after a section that names the tables its numbers come from: each table, the
    function that wrote it (from the stage registry) and, with ``panel``, the panel and its
    provenance (raw files, URLs, sha256)."""
    items = [table_ref(res, rel_to, st, t) for st, t in refs if st in res.stages]
    if panel:
        items.append(_link(res.path / "coverage.csv", rel_to, "coverage.csv"))
    if not items:
        return ""
    tail = (f"; computed from {_link(res.path / 'panel.parquet', rel_to, 'panel.parquet')}, raw files "
            f"with their URL and sha256 in {_link(res.path / 'provenance.json', rel_to, 'provenance.json')}")
    return "*Source: " + "; ".join(items) + tail + ".*"


def _heading(title: str, res: StudyResults, rel_to: Path, stage: str, table: str) -> str:
    """A section heading that links the table its numbers come from (no extra line on the
    study's first page)."""
    if stage not in res.stages:
        return title
    return f"{title} ({_link(res.path / stage / f'{table}.csv', rel_to, f'{stage}/{table}.csv')})"


def study_summary(study_dir: str | Path, rel_to: str | Path | None = None,
                  stages: Sequence[str] | None = None, validation: str | Path | None = None,
                  part: str = "all") -> str:
    """The markdown summary of one study from its result folder.

    ``part="headline"``: the first page of the study (the placebo-calibrated split, the observed
    change and its components, surviving causal effects, impacts, the condensed expected error),
    each heading linking the table its numbers come from; ``part="details"``: data coverage,
    stage status, leading drivers, the full tables by method and of every causal effect,
    agreement, caveats and figures, each section followed by the tables it cites (table, the
    function that wrote it, the panel and its provenance); ``"all"``: everything.
    """
    res = read_study(study_dir, stages)
    rel = Path(rel_to) if rel_to is not None else res.path.parent
    dic = res.dictionary
    desc = res.config.get("description", "")
    title = (f"## Study `{res.name}`" + (f": {desc}" if desc else "") if part != "details"
             else f"## Details: study `{res.name}`")
    parts = [title]
    if res.coverage is None:
        parts.append("Panel not built: no result files for this study.")
        return "\n\n".join(parts)
    headline = part == "headline"
    if "relative_importance" in res.stages:
        shares_t = res.table("relative_importance", "shares")
        head = "### Headline: anthropogenic vs biophysical, calibrated against placebos"
        if headline:
            parts += [_heading(head, res, rel, "relative_importance", "shares"), headline_table(shares_t, dic)]
        else:
            parts += [head, headline_section(shares_t, dic), cite(res, rel, ("relative_importance", "shares"))]
    if not headline:
        parts += ["### Data coverage", coverage_section(res.coverage, dic, res.config),
                  cite(res, rel, panel=True)]
        parts += ["### Stages", stage_status_section(res)]
    leading = ["### Leading drivers",
               drivers_section(res.table("relative_importance", "shares") if "relative_importance" in res.stages else None,
                               res.table("panel_regression", "coefficients") if "panel_regression" in res.stages else None,
                               dic),
               cite(res, rel, ("relative_importance", "shares"), ("panel_regression", "coefficients"))]
    if part == "details":  # the first page has the calibrated split; the drivers come here
        return "\n\n".join(p for p in parts + leading + _details_tail(res, dic, rel, validation, full_tables=True) if p)
    if not headline:
        parts += leading
    attr = res.table("attribution", "attribution") if "attribution" in res.stages else None
    shares = res.table("relative_importance", "shares")
    causal = res.table("causal", "effects") if "causal" in res.stages else None
    if "causal" in res.stages and causal is None:
        causal = pd.DataFrame()
    causal_md = causal_section(causal, dic, res.table("causal", "refutations"))
    if headline:
        # the first page: one line per outcome, the causal verdict without its table
        parts += [_heading("### The observed change and its components", res, rel, "attribution", "attribution"),
                  headline_split(attr, dic, lmg=False) if attr is not None else attribution_section(attr, dic, shares)]
        # the verdict: the counts (first sentence) and the closing sentence; method and every
        # effect in the details
        paras = [p for p in causal_md.split("\n\n") if p.strip() and not p.lstrip().startswith("|")]
        verdict = paras[0].split(". ")[0].rstrip(".") + "." if paras else ""
        if len(paras) > 1:
            verdict += " " + paras[-1]
        parts += [_heading("### Causal effects that survive their refutations", res, rel, "causal", "effects"),
                  verdict + " Method, robustness values and every effect: in the details."]
    else:
        parts += ["### Anthropogenic vs biophysical, by method", attribution_section(attr, dic, shares),
                  cite(res, rel, ("attribution", "attribution"), ("relative_importance", "shares"))]
        parts += ["### Causal effects that survive their refutations", causal_md,
                  cite(res, rel, ("causal", "effects"), ("causal", "refutations"))]
    if "impacts" in res.stages:
        imp = impacts_section(res.table("impacts", "effects"), res.table("impacts", "loss_years"), dic)
    else:
        imp = "Impacts stage missing."
    if not (headline and imp.startswith("No impact indicator")):
        if headline:
            parts += [_heading("### Impacts (what it costs)", res, rel, "impacts", "loss_years"), imp]
        else:
            parts += ["### Impacts (what it costs)", imp,
                      cite(res, rel, ("impacts", "loss_years"), ("impacts", "effects"))]
    link = (os.path.relpath(validation, rel) if validation is not None else VALIDATION_TABLE.as_posix())
    parts += ["### Expected error of these methods (validation)",
              validation_section(validation, res.name, methods=HEADLINE_METHODS,
                                 link=Path(link).as_posix())]
    if headline:
        return "\n\n".join(parts)
    return "\n\n".join(p for p in parts + _details_tail(res, dic, rel, validation) if p)


def _details_tail(res: StudyResults, dic: pd.DataFrame | None, rel: Path,
                  validation: str | Path | None, full_tables: bool = False) -> list[str]:
    attr = res.table("attribution", "attribution") if "attribution" in res.stages else None
    restrend = res.table("restrend", "restrend") if "restrend" in res.stages else None
    parts = []
    if full_tables:  # the tables the first page condensed
        parts += ["### Anthropogenic vs biophysical, by method",
                  attribution_section(attr, dic, res.table("relative_importance", "shares")),
                  cite(res, rel, ("attribution", "attribution"), ("relative_importance", "shares"))]
        causal = res.table("causal", "effects") if "causal" in res.stages else None
        if causal is not None:
            parts += ["### Causal effects, every driver", causal_section(causal, dic, res.table("causal", "refutations")),
                      cite(res, rel, ("causal", "effects"), ("causal", "refutations"))]
    parts += ["### Where the methods agree", agreement_section(attr, restrend, res.coverage, dic),
              cite(res, rel, ("attribution", "attribution"), ("restrend", "restrend"))]
    parts += ["### Data caveats", caveats_section(dic, res.config, res.drops),
              "*Source: " + _link(res.path / "data_dictionary.csv", rel, "data_dictionary.csv") + "; "
              + _link(res.path / "drops.csv", rel, "drops.csv") + ".*"]
    figs = figures_section(res, rel)
    if figs:
        parts += ["### Figures", figs]
    return parts
