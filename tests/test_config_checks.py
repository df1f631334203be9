"""Config checked before any job (issue 11): each failure names file, key, value and what was
expected; config slices hold exactly what a job depends on."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from dlddrivers.catalogue import Catalogue
from dlddrivers.causal.effects import choose_adjustment_set
from dlddrivers.causal.graph import GraphError
from dlddrivers.config import SCHEMA_PATH, load_config, validate_schema
from dlddrivers.derived import MAX_LAG, parse_formula
from dlddrivers.errors import ConfigError
from dlddrivers.options import check_options
from dlddrivers.panel import check_support
from dlddrivers.pipeline import (
    check_data_support,
    check_stage_options,
    load_sources,
    panel_slice,
    setup,
    stage_slice,
)
from dlddrivers.units import UnitRegistry
from dlddrivers.yamlio import load_yaml


@pytest.fixture(scope="module")
def base():
    return load_config("config/config.yaml")


@pytest.fixture(scope="module")
def loaded():
    sources = load_sources("config/sources.yaml")
    return (UnitRegistry.from_yaml("config/units.yaml"),
            Catalogue.from_yaml("config/catalogue.yaml", sources), sources)


# ----------------------------------------------------------------------------- YAML
def test_duplicate_yaml_key_names_file_key_and_both_lines(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("seed: 1\nrun: [neasia]\nstudies:\n  neasia: {years: [1992, 2020]}\nseed: 2\n")
    with pytest.raises(ConfigError) as exc:
        load_yaml(p)
    msg = str(exc.value)
    assert exc.value.key == "seed" and str(p) in msg and "lines 1 and 5" in msg


def test_duplicate_key_in_a_config_file_is_refused_by_setup(base, tmp_path):
    text = Path("config/config.yaml").read_text()
    text = text.replace("seed: 20261125", "seed: 20261125\nseed: 7", 1)
    p = tmp_path / "config.yaml"
    p.write_text(text)
    cfg = load_config("config/config.yaml")  # what Snakemake would have merged
    with pytest.raises(ConfigError, match="seed"):
        setup(cfg, config_files=[str(p)])


def test_duplicate_key_in_catalogue_and_graph(tmp_path):
    cat = tmp_path / "catalogue.yaml"
    cat.write_text(Path("config/catalogue.yaml").read_text() + "\n  land_area_km2: {label: x, domain: land_use, "
                   "level: country, measure: km2, source: wdi, code: ag.lnd.totl.k2}\n")
    with pytest.raises(ConfigError, match="land_area_km2"):
        Catalogue.from_yaml(cat)
    g = tmp_path / "g.yaml"
    g.write_text("edges: []\ndescription: a\ndescription: b\n")
    from dlddrivers.causal.graph import load_graph

    with pytest.raises(GraphError, match="description"):
        load_graph(g)


def test_missing_config_file_is_one_clear_line(tmp_path):
    exe = Path(sys.executable).parent / "dlddrivers"
    r = subprocess.run([str(exe), "check-config", str(tmp_path / "nope.yaml")], capture_output=True, text=True)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "nope.yaml" in r.stderr and "not found" in r.stderr


# ----------------------------------------------------------------------------- stage options
@pytest.mark.parametrize("stage,options,key,expected", [
    ("relative_importance", {"bootstrap_draws": "many"}, "methods.relative_importance.bootstrap_draws", "an integer"),
    ("relative_importance", {"bootstrap_draw": 10}, "methods.relative_importance.bootstrap_draw", "one of the options"),
    ("relative_importance", {"bootstrap_draws": 0}, "methods.relative_importance.bootstrap_draws", ">= 1"),
    ("trends", {"mk_alpha": 1.5}, "methods.trends.mk_alpha", "strictly between 0 and 1"),
    ("panel_regression", {"detrend": "yes"}, "methods.panel_regression.detrend", "true or false"),
    ("causal", {"rules": {"placebo_min_p": "x"}}, "methods.causal.rules.placebo_min_p", "a number"),
    ("causal", {"rules": {"unknown_rule": 1}}, "methods.causal.rules.unknown_rule", "one of the options"),
    ("causal", {"sensitivity_strengths": [0.1, "a"]}, "methods.causal.sensitivity_strengths[1]", "a number"),
    ("geodetector", {"n_strata": -2}, "methods.geodetector.n_strata", ">= 1"),
])
def test_stage_option_errors_name_key_value_and_expectation(base, stage, options, key, expected):
    cfg = copy.deepcopy(base)
    cfg["methods"][stage] = options
    with pytest.raises(ConfigError) as exc:
        check_stage_options(cfg)
    assert exc.value.key == key
    assert expected in exc.value.expected


def test_valid_options_pass_and_unknown_stage_is_named(base):
    cfg = copy.deepcopy(base)
    cfg["methods"]["causal"] = {"refuter_simulations": 5, "sensitivity_strengths": [0.5, 1],
                                "change_attribution": {"baseline": [1992, 1996]}, "treatments": ["urban_share"]}
    cfg["methods"]["panel_regression"] = {"lags": {"spei_gs": 1}, "ci": 0.9}
    check_stage_options(cfg)  # passes
    cfg["methods"]["trend"] = {}
    with pytest.raises(ConfigError, match="methods.trend"):
        check_stage_options(cfg)


def test_option_bounds_declared_by_a_module_win():
    with pytest.raises(ConfigError, match="between 2 and 5"):
        check_options("toy", {"k": 9}, {"k": 3}, {"k": (2, 5)})
    check_options("toy", {"k": 4}, {"k": 3}, {"k": (2, 5)})


# ----------------------------------------------------------------------------- formulas
def test_formula_bounds_refused_before_any_work(tmp_path):
    with pytest.raises(ValueError, match=f"at most {MAX_LAG}"):
        parse_formula("lag(arable_share, 100000000000000000000000000000)")
    with pytest.raises(ValueError):
        parse_formula("lag(arable_share, 10**29)")
    huge = " + ".join(["arable_share"] * 50_000)
    with pytest.raises(ValueError, match="at most"):
        parse_formula(huge)
    # through the catalogue: a ConfigError naming the entry's formula key
    cat = yaml.safe_load(open("config/catalogue.yaml"))
    cat["indicators"]["runaway"] = {"label": "x", "domain": "outcome", "level": "country", "measure": "-",
                                    "formula": huge}
    p = tmp_path / "catalogue.yaml"
    p.write_text(yaml.safe_dump(cat))
    with pytest.raises(ConfigError) as exc:
        Catalogue.from_yaml(p)
    assert exc.value.key == "indicators.runaway.formula"


def test_lag_within_bound_reads_enough_earlier_years(loaded, snapshot):
    """A lag of 6 years (more than the 3 years read by default) still has values at the
    study's first year: the panel reads as many earlier years as the longest lag chain."""
    reg, cat, src = loaded
    raw = yaml.safe_load(open("config/catalogue.yaml"))
    raw["indicators"]["arable_lag6"] = {"label": "x", "domain": "agriculture", "level": "country",
                                        "measure": "%", "formula": "lag(arable_share, 6)"}
    cat2 = Catalogue.from_dict(raw, src)
    from dlddrivers.panel import build_panel

    study = {"name": "t", "level": "country", "units": ["MNG"], "years": [2000, 2005],
             "outcomes": ["arable_share"], "drivers": [], "carry": ["arable_lag6"]}
    res = build_panel(study, cat2, src, reg, snapshot)
    wide = build_panel(dict(study, years=[1994, 2005]), cat2, src, reg, snapshot).panel.set_index("year")
    p = res.panel.set_index("year")
    assert not pd.isna(p.loc[2000, "arable_lag6"])
    assert p.loc[2000, "arable_lag6"] == wide.loc[1994, "arable_share"]
    assert p.loc[2005, "arable_lag6"] == wide.loc[1999, "arable_share"]


# ----------------------------------------------------------------------------- graphs
def test_graph_edge_from_human_driver_into_climate_is_refused(base, loaded, tmp_path):
    reg, cat, src = loaded
    g = yaml.safe_load(open("config/graphs/neasia.yaml"))
    g["edges"].append({"from": "urban_share", "to": "precip_annual", "reason": "cities make rain"})
    p = tmp_path / "neasia.yaml"
    p.write_text(yaml.safe_dump(g))
    cfg = copy.deepcopy(base)
    cfg["studies"]["neasia"]["graph"] = str(p)
    from dlddrivers.pipeline import check_graphs

    with pytest.raises(GraphError) as exc:
        check_graphs(cfg, cat)
    assert "urban_share -> precip_annual" in str(exc.value) and str(p) in str(exc.value)


# ----------------------------------------------------------------------------- data support
@pytest.fixture(scope="module")
def snap_cfg(base, snapshot):
    cfg = copy.deepcopy(base)
    cfg["snapshot_dir"] = str(snapshot)
    return cfg


def test_years_without_any_data_are_refused(snap_cfg, loaded):
    reg, cat, src = loaded
    cfg = copy.deepcopy(snap_cfg)
    cfg["studies"]["neasia"]["years"] = [1930, 1950]
    with pytest.raises(ConfigError) as exc:
        check_data_support(cfg, "neasia", reg, cat, src)
    assert exc.value.key == "studies.neasia.years" and exc.value.value == [1930, 1950]
    assert "bare_sparse_share" in exc.value.expected


def test_unit_with_no_rows_is_refused(snap_cfg, tmp_path):
    raw = yaml.safe_load(open("config/units.yaml"))
    raw["countries"]["ZZZ"] = {"name": "Nowhere", "fao": 99999, "m49": 999, "names": ["Nowhere"]}
    p = tmp_path / "units.yaml"
    p.write_text(yaml.safe_dump(raw))
    cfg = copy.deepcopy(snap_cfg)
    cfg["registry"] = str(p)
    cfg["studies"]["neasia"]["units"] = ["CHN", "MNG", "ZZZ"]
    cfg["run"] = ["neasia"]
    with pytest.raises(ConfigError) as exc:
        setup(cfg, check_data=True)
    assert exc.value.key == "studies.neasia.units[2]" and exc.value.value == "ZZZ"


def test_partial_coverage_is_a_warning_with_the_span(snap_cfg, loaded):
    reg, cat, src = loaded
    warnings = check_data_support(snap_cfg, "mongolia_aimag", reg, cat, src)
    assert any("licences_active_n" in w and "2007-2018" in w for w in warnings)


def test_check_support_on_a_hand_made_panel():
    import numpy as np
    import pandas as pd

    study = {"name": "s", "years": [2000, 2003], "units": ["A", "B"], "outcomes": ["y"], "drivers": ["x"]}
    panel = pd.DataFrame({"unit": ["A"] * 4 + ["B"] * 4, "year": list(range(2000, 2004)) * 2,
                          "y": [1, 2, 3, 4, 1, 2, np.nan, np.nan], "x": [1, 1, 1, 1, 2, 2, 2, 2.0]})
    assert check_support(study, panel) == []
    panel.loc[panel["year"] == 2003, "y"] = np.nan
    assert check_support(study, panel) == ["study s: outcome 'y' is observed only in 2000-2002 of the study period 2000-2003"]
    panel.loc[panel["unit"] == "B", "x"] = np.nan
    with pytest.raises(ConfigError) as exc:
        check_support(study, panel)
    assert exc.value.key == "studies.s.units[1]" and "driver 'x'" in exc.value.expected


def test_data_support_result_is_cached(snap_cfg, loaded, tmp_path, monkeypatch):
    reg, cat, src = loaded
    first = check_data_support(snap_cfg, "mongolia_dzud", reg, cat, src, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("support-mongolia_dzud-*.json"))) == 1
    import dlddrivers.panel as panel_mod

    monkeypatch.setattr(panel_mod, "build_panel", lambda *a, **k: pytest.fail("not cached"))
    assert check_data_support(snap_cfg, "mongolia_dzud", reg, cat, src, cache_dir=tmp_path) == first


# ----------------------------------------------------------------------------- paths
def test_schema_is_found_from_any_working_directory(base, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert SCHEMA_PATH.is_absolute() and SCHEMA_PATH.exists()
    validate_schema(copy.deepcopy(base))


# ----------------------------------------------------------------------------- slices
def test_panel_slice_holds_exactly_what_the_panel_depends_on(snap_cfg, loaded):
    reg, cat, src = loaded
    s = panel_slice(snap_cfg, "mongolia_dzud", reg, cat, src)
    assert s["study"]["name"] == "mongolia_dzud" and s["study"]["seed"] == snap_cfg["seed"]
    # formula dependencies are included: sheep units of the previous December need the herds
    assert {"sheep_units_per_km2_prev", "sheep_units_per_km2", "area_km2"} <= set(s["indicators"])
    assert set(s["registry"]["aimags"]) >= {"MN11", "MN21"} and s["registry"]["countries"].keys() == {"MNG"}
    assert snap_cfg["snapshot_dir"] not in str(s)  # the raw folder is an input, not a param
    # another study's edit and an unused catalogue entry leave the slice unchanged
    cfg2 = copy.deepcopy(snap_cfg)
    cfg2["studies"]["neasia"]["units"].append("KAZ")
    raw = yaml.safe_load(open("config/catalogue.yaml"))
    raw["indicators"]["unused_new"] = {"label": "x", "domain": "agriculture", "level": "country",
                                       "measure": "%", "source": "wdi", "code": "ag.lnd.irig.ag.zs"}
    cat2 = Catalogue.from_dict(raw, src)
    assert panel_slice(cfg2, "mongolia_dzud", reg, cat2, src) == s
    assert panel_slice(cfg2, "neasia", reg, cat2, src) != panel_slice(snap_cfg, "neasia", reg, cat, src)
    # carrying one more indicator changes it
    cfg3 = copy.deepcopy(snap_cfg)
    cfg3["studies"]["mongolia_dzud"]["carry"].append("t2m_mam")
    assert panel_slice(cfg3, "mongolia_dzud", reg, cat, src) != s


def test_stage_slice_is_options_over_defaults(snap_cfg):
    from dlddrivers.methods.trends import DEFAULTS

    s = stage_slice(snap_cfg, "neasia", "trends")
    assert set(s) == {"study", "options"} and s["options"] == {k: DEFAULTS[k] for k in sorted(DEFAULTS)}
    cfg = copy.deepcopy(snap_cfg)
    cfg["methods"]["trends"] = {"n_sim": 50}
    assert stage_slice(cfg, "neasia", "trends")["options"]["n_sim"] == 50
    assert stage_slice(cfg, "neasia", "restrend") == stage_slice(snap_cfg, "neasia", "restrend")


# ----------------------------------------------------------------------------- determinism
def test_adjustment_set_choice_ignores_candidate_order():
    a = {"backdoor1": ["z", "c", "b"], "backdoor2": ["m", "s"], "backdoor3": ["m", "n"], "backdoor": ["m", "s"]}
    b = dict(reversed(list(a.items())))
    b["backdoor"] = ["m", "n"]  # DoWhy's own pick differs between hash seeds
    assert choose_adjustment_set(a) == choose_adjustment_set(b) == ["m", "n"]
    assert choose_adjustment_set({"backdoor": []}) == []


def test_yaml_syntax_errors_name_the_line_and_the_character():
    """libyaml parses; a syntax error is worded by PyYAML's own parser (names the character)."""
    from dlddrivers.errors import ConfigError
    from dlddrivers.yamlio import loads_yaml

    with pytest.raises(ConfigError) as e:
        loads_yaml("studies:\n\tneasia: {}\n", "config/x.yaml")
    msg = str(e.value)
    assert "config/x.yaml" in msg and "line 2" in msg and "found character" in msg and "\\t" in msg
    with pytest.raises(ConfigError, match="undefined alias 'x'"):
        loads_yaml("a: *x\n", "config/x.yaml")
    with pytest.raises(ConfigError, match="unacceptable character"):
        loads_yaml("a: \x07\n", "config/x.yaml")
