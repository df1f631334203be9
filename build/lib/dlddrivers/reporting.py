"""Names of the Snakemake report's sections and items, in words and in reading order.

The report's menus sort categories and subcategories alphabetically, so each name starts with
its place: ``1 Summary``, ``2 Study <name>``, ``3 Validation``; inside a study ``01 Data
coverage``, then the stages in pipeline order, then the maps. Items are titled in words from
their file name (``lmg_shares_biomass_median`` -> "Relative importance (LMG shares of the
explained variance): Rangeland biomass (median of plots)"). Used by the workflow rules (as
``category``, ``subcategory`` and ``labels`` of ``report()``); nothing here imports Snakemake.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .stages import GRID_STAGES, STAGES, TABLE_TITLES

SUMMARY_CATEGORY = "1 Summary"
VALIDATION_CATEGORY = "3 Validation"

#: File-name prefix -> title words for items that no stage draws (the stages' own figures are
#: named in their registry entries, :mod:`dlddrivers.stages`).
OTHER_ITEM_TITLES = {
    "coverage": "Data coverage per unit and indicator",
    "map_trend_": "Map: trend",
    "map_attribution_": "Map: attribution",
    "map_restrend_": "Map: RESTREND residual trend",
    "map_condition_": "Map: improving, stable, degrading",
    "map_lmg_": "Map: LMG anthropogenic share",
    "map_none": "Map: nothing to map",
    "recovery_by_units": "Recovery of the true shares and effects by panel size",
    "power": "Detection power of trend tests",
    "expected_error": "Expected error per method for each study's panel shape",
    "summary": "Plain-language summary of every study",
    "scale_q": "q across grid sizes (scale effect)",
}

def item_titles() -> dict[str, str]:
    """File-name prefix -> title words (longest prefix wins; the rest of the name is an
    indicator): the items above and every registered stage's ``figures``."""
    return {**OTHER_ITEM_TITLES, **{k: v for reg in (STAGES, GRID_STAGES) for st in reg.values()
                                    for k, v in st.figures.items()}}


def front_page_rst(base: str | Path, fragment: str | Path, out: str | Path) -> str:
    """The report's front page: ``base`` (workflow.rst) followed by the summary's first pages
    (``fragment``, written by the summary rule) when that file exists. Returns the path of the
    RST to give Snakemake's ``report:`` (``base`` itself when there is no fragment yet; else
    ``out``, written here, which includes the fragment by absolute path)."""
    base, fragment, out = Path(base), Path(fragment), Path(out)
    if not fragment.is_file():
        return str(base.resolve())
    text = base.read_text(encoding="utf-8").rstrip() + (
        "\n\nSummary of results\n------------------\n\n"
        f".. raw:: html\n   :file: {fragment.resolve()}\n")
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.is_file() or out.read_text(encoding="utf-8") != text:
        out.write_text(text, encoding="utf-8")
    return str(out.resolve())


def study_category(study: str) -> str:
    """Report category of a study: ``2 Study <name>`` (after the summary, before validation)."""
    return f"2 Study {study}"


def coverage_subcategory() -> str:
    return "01 Data coverage"


def stage_subcategory(stage: str) -> str:
    """``NN <stage in words>``, numbered in pipeline order after the data coverage (02, 03, ...)."""
    if stage not in STAGES:
        return f"90 {stage.replace('_', ' ').capitalize()}"
    return f"{STAGES.position(stage) + 2:02d} {STAGES[stage].title}"


def maps_subcategory() -> str:
    return f"{len(STAGES) + 2:02d} Maps"


def item_title(name: str, labels: Mapping[str, str] | None = None, stage: str | None = None) -> str:
    """Words for a report item from its file stem; an indicator at the end of the name is given
    by its catalogue label (``labels``: indicator -> label) when known. With ``stage``, a table
    of that stage is titled as its registry entry declares."""
    if stage in STAGES and name in {t.name for t in STAGES[stage].tables}:
        return STAGES[stage].table(name).title
    if name in TABLE_TITLES:
        return TABLE_TITLES[name]
    titles = item_titles()
    for prefix in sorted(titles, key=len, reverse=True):
        if name in (prefix, prefix.rstrip("_")) or (prefix.endswith("_") and name.startswith(prefix)):
            rest = name[len(prefix):] if name.startswith(prefix) else ""
            title = titles[prefix]
            if rest.endswith("_year_to_year"):
                rest, title = rest.removesuffix("_year_to_year"), title + " (year-to-year)"
            if rest:
                title += ": " + (labels or {}).get(rest, rest.replace("_", " "))
            return title
    return name.replace("_", " ")


__all__ = ["SUMMARY_CATEGORY", "VALIDATION_CATEGORY", "study_category", "coverage_subcategory",
           "stage_subcategory", "maps_subcategory", "item_title"]
