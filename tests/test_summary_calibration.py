"""Summary: the placebo-calibrated headline, the two LMG estimands and empty ratios (issue 13)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dlddrivers import summary as S


def _dic() -> pd.DataFrame:
    return pd.DataFrame({"indicator": ["y", "rain", "graze"], "role": ["outcome", "driver", "driver"],
                         "domain": ["outcome", "climate", "grazing"],
                         "label": ["Bare land", "Rainfall", "Grazing pressure"],
                         "measure": ["% of land area", "mm/yr", "SFU per km2"]})


def _groups(calib_levels: str, calib_yy: str) -> pd.DataFrame:
    base = {"outcome": "y", "level": "group", "predictor": "anthropogenic", "ci_level": 0.95,
            "status": "ok", "placebo_draws": 200, "flag": ""}
    return pd.DataFrame([
        {**base, "variation": "levels", "estimand": "share_of_explained_variance", "share": 0.938,
         "share_ci_low": 0.926, "share_ci_high": 0.979, "placebo_median": 0.944,
         "placebo_p95": 0.969, "placebo_exceedance": 0.71, "calibration": calib_levels},
        {**base, "variation": "year_to_year", "estimand": "share_of_year_to_year_variance",
         "share": 0.42, "share_ci_low": 0.0, "share_ci_high": 0.61, "placebo_median": 0.12,
         "placebo_p95": 0.30, "placebo_exceedance": 0.01, "calibration": calib_yy, "flag": "near_zero"},
    ])


def test_headline_says_plainly_when_split_is_not_a_finding():
    md = S.headline_section(_groups("indistinguishable_from_placebo", "exceeds_placebo"), _dic())
    lines = [x for x in md.splitlines() if x.startswith("- ")]
    assert len(lines) == 2
    lev, yy = lines
    assert "`share_of_explained_variance`" in lev and "cannot be told apart from placebos" in lev
    assert "93.8 %" in lev and "placebo median 94.4 %" in lev and "not a finding" in lev
    assert "`share_of_year_to_year_variance`" in yy and "above what placebo drivers" in yy
    assert "95th percentile 30.0 %" in yy and "interval reaches 0" in yy
    assert "good and bad years" in yy  # the question each estimand answers


def test_headline_without_calibration_states_no_split():
    md = S.headline_section(None, _dic())
    assert "no anthropogenic vs biophysical split is stated" in md


def test_attribution_section_shows_empty_ratio_with_reason_and_placebo():
    base = {"outcome": "y", "unit": "pooled", "ci_level": 0.95, "status": "ok", "note": "",
            "estimand": "share_of_trend"}
    a = pd.DataFrame([
        {**base, "method": "counterfactual", "quantity": "climate_share_of_predicted_change",
         "value": np.nan, "ci_low": np.nan, "ci_high": np.nan, "value_unit": "fraction",
         "status": "not_defined: the denominator's interval (-0.38 to 0.42) spans zero, so the ratio "
                   "is unbounded; read the components"},
        {**base, "method": "counterfactual", "quantity": "climate_attributable_change", "value": 0.01,
         "ci_low": -0.02, "ci_high": 0.03, "value_unit": "% of land area"},
        {**base, "method": "lmg", "quantity": "anthropogenic_share", "value": 0.938, "ci_low": 0.9,
         "ci_high": 0.98, "value_unit": "fraction of R2", "estimand": "share_of_explained_variance",
         "placebo_median": 0.93, "placebo_exceedance": 0.29, "calibration": "indistinguishable_from_placebo"},
    ])
    md = S.attribution_section(a, _dic())
    assert "climate share of predicted change | left empty: the denominator's interval (-0.38 to 0.42) spans zero" in md
    assert "not distinguishable from placebos" in md
    assert "Status: ok." in md  # the ratio's own status is shown in its row, not as the block status


def test_causal_section_gives_robustness_values_and_benchmark():
    eff = pd.DataFrame([{"outcome": "y", "treatment": "graze", "status": "ok", "robust": True,
                         "effect": -0.5, "ci_low": -0.8, "ci_high": -0.2, "ci_level": 0.95,
                         "effect_per_sd": -1.0, "ci_low_per_sd": -1.6, "ci_high_per_sd": -0.4,
                         "refuters_passed": "4/4", "rv_q1": 0.139, "rv_q1_alpha": 0.076,
                         "partial_r2_yd": 0.022, "benchmark": "rain", "k_erase": 2.6}])
    md = S.causal_section(eff, _dic())
    assert "RV 13.9 % (RV at the interval level 7.6 %)" in md
    assert "a confounder 2.6 times as strong as Rainfall (`rain`) would erase it" in md
    assert "Cinelli and Hazlett 2020" in md


def test_direction_from_dictionary_in_summary_and_maps():
    from dlddrivers.plots.maps import trend_cmap

    dic = _dic().assign(better=["lower", "", ""])
    assert S.direction_text(dic, "y") == " (lower is better)"
    assert S.direction_text(_dic(), "y") == ""
    md = S.headline_section(_groups("indistinguishable_from_placebo", "exceeds_placebo"), dic)
    assert "Bare land (`y`) (lower is better)" in md
    assert trend_cmap(dic, "y")[0] == "BrBG_r"  # falling bare land drawn green (improvement)
    assert trend_cmap(dic.assign(better=["higher", "", ""]), "y")[0] == "BrBG"
    assert trend_cmap(_dic().assign(better=""), "y")[0] == "PuOr_r"


def test_validation_section_lists_placebo_and_trend_scenarios(tmp_path):
    ee = pd.DataFrame([{"study": "neasia", "method": "lmg", "quantity": "q", "coverage": 0.9,
                        "coverage_ci_low": 0.6, "coverage_ci_high": 0.98}])
    ee.to_csv(tmp_path / "expected_error.csv", index=False)
    pd.DataFrame([
        {"scenario": "placebo_null_u21_y30", "method": "lmg", "quantity": "anthropogenic_share_exceeds_placebo",
         "null_anthropogenic": True, "year_trend": 0.0, "mean_abs_error": 0.2, "coverage": np.nan,
         "coverage_ci_low": np.nan, "coverage_ci_high": np.nan, "n_seeds": 5},
        {"scenario": "trend_year_effects_u21_y30", "method": "trend_decomposition",
         "quantity": "anthropogenic_change", "null_anthropogenic": False, "year_trend": 0.05,
         "mean_abs_error": 0.15, "coverage": 0.8, "coverage_ci_low": 0.376, "coverage_ci_high": 0.964,
         "n_seeds": 5},
        {"scenario": "s0.5_conf1_nlow_u21_y30", "method": "lmg", "quantity": "anthropogenic_share_variance",
         "null_anthropogenic": False, "year_trend": 0.0, "mean_abs_error": 0.04, "coverage": 1.0,
         "coverage_ci_low": 0.2, "coverage_ci_high": 1.0, "n_seeds": 1},
    ]).to_csv(tmp_path / "summary.csv", index=False)
    md = S.validation_section(tmp_path / "expected_error.csv", "neasia")
    assert "`placebo_null_u21_y30` | lmg | anthropogenic_share_exceeds_placebo | 0.200" in md
    assert "0.80 (Wilson 0.38 to 0.96)" in md
    assert "s0.5_conf1" not in md
