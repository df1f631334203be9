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

from .pipeline import STAGES

SUMMARY_CATEGORY = "1 Summary"
VALIDATION_CATEGORY = "3 Validation"

#: Stage -> words (the subcategory after its number).
STAGE_TITLES = {
    "trends": "Trends",
    "panel_regression": "Panel regression",
    "relative_importance": "Relative importance",
    "restrend": "RESTREND",
    "geodetector": "Geographical detector",
    "sdg": "SDG 15.3.1 productivity",
    "attribution": "Attribution",
    "impacts": "Impacts (livestock losses)",
    "causal": "Causal inference",
}

#: File-name prefix -> title words (longest prefix wins); the rest of the name is an indicator.
ITEM_TITLES = {
    "coverage": "Data coverage per unit and indicator",
    "trends_correlations_within": "Within-unit correlations",
    "trends_": "Trend per unit",
    "land_condition_": "Improving, stable, degrading units and area",
    "unit_drivers_": "Outcome and drivers per unit (standardised) with its trend",
    "coefficients_": "Standardised two-way fixed-effects coefficients",
    "lmg_shares_": "LMG shares of the explained variance",
    "restrend_residuals_": "RESTREND residuals and their trend",
    "geodetector_q_": "Factor detector (q)",
    "geodetector_risk_": "Risk detector (mean per stratum)",
    "geodetector_interaction_": "Interaction detector",
    "attribution_units_": "Attribution waterfall per unit",
    "attribution_": "Attribution of the observed change (waterfall) and LMG shares",
    "impacts_": "Impact associations and loss years",
    "impact_vs_climate_": "Impact against each climate driver",
    "heads_lost": "Livestock lost per year (million head)",
    "sdg_": "SDG 15.3.1 productivity terms",
    "causal_graph": "Causal graph",
    "causal_effects": "Causal effects with refutations",
    "causal_change_attribution": "Change attribution between periods",
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
    "shap_beeswarm": "SHAP values per cell (random forest)",
    "shap_group_shares": "SHAP shares of the driver groups",
    "scale_q": "q across grid sizes (scale effect)",
}

#: CSV tables in words (file stem -> title).
TABLE_TITLES = {
    "trends": "Table: trends", "correlations": "Table: correlations",
    "land_condition": "Table: land condition (counts and area)",
    "land_condition_units": "Table: land condition per unit", "standardised": "Table: standardised series",
    "coefficients": "Table: coefficients", "per_unit": "Table: per-unit regressions",
    "shares": "Table: LMG shares", "restrend": "Table: RESTREND per unit",
    "residual_drivers": "Table: residuals against anthropogenic drivers", "residuals": "Table: residuals",
    "factor": "Table: factor detector", "interaction": "Table: interaction detector",
    "risk": "Table: risk detector", "attribution": "Table: attribution", "effects": "Table: impact effects",
    "loss_years": "Table: largest-loss years",
}


def study_category(study: str) -> str:
    """Report category of a study: ``2 Study <name>`` (after the summary, before validation)."""
    return f"2 Study {study}"


def coverage_subcategory() -> str:
    return "01 Data coverage"


def stage_subcategory(stage: str) -> str:
    """``NN <stage in words>``, numbered in pipeline order after the data coverage (02, 03, ...)."""
    order = list(STAGES)
    k = order.index(stage) + 2 if stage in order else 90
    return f"{k:02d} {STAGE_TITLES.get(stage, stage.replace('_', ' ').capitalize())}"


def maps_subcategory() -> str:
    return f"{len(STAGES) + 2:02d} Maps"


def item_title(name: str, labels: Mapping[str, str] | None = None) -> str:
    """Words for a report item from its file stem; an indicator at the end of the name is given
    by its catalogue label (``labels``: indicator -> label) when known."""
    if name in TABLE_TITLES:
        return TABLE_TITLES[name]
    for prefix in sorted(ITEM_TITLES, key=len, reverse=True):
        if name in (prefix, prefix.rstrip("_")) or (prefix.endswith("_") and name.startswith(prefix)):
            rest = name[len(prefix):] if name.startswith(prefix) else ""
            title = ITEM_TITLES[prefix]
            if rest.endswith("_year_to_year"):
                rest, title = rest.removesuffix("_year_to_year"), title + " (year-to-year)"
            if rest:
                title += ": " + (labels or {}).get(rest, rest.replace("_", " "))
            return title
    return name.replace("_", " ")


__all__ = ["SUMMARY_CATEGORY", "VALIDATION_CATEGORY", "study_category", "coverage_subcategory",
           "stage_subcategory", "maps_subcategory", "item_title"]
