"""Configuration errors: each names the key and the bad value, before any work starts."""

from __future__ import annotations

import copy

import pytest
import yaml

from dlddrivers.catalogue import Catalogue
from dlddrivers.config import load_config, validate_schema, validate_semantics
from dlddrivers.errors import ConfigError
from dlddrivers.pipeline import load_sources, setup
from dlddrivers.units import UnitRegistry


@pytest.fixture(scope="module")
def base():
    return load_config("config/config.yaml")


@pytest.fixture(scope="module")
def reg_cat():
    sources = load_sources("config/sources.yaml")
    return UnitRegistry.from_yaml("config/units.yaml"), Catalogue.from_yaml("config/catalogue.yaml", sources)


def _semantic_error(cfg, reg_cat) -> ConfigError:
    reg, cat = reg_cat
    validate_schema(cfg)
    with pytest.raises(ConfigError) as exc:
        validate_semantics(cfg, reg, cat)
    return exc.value


def test_default_and_drylands_configs_are_valid(base, reg_cat):
    reg, cat = reg_cat
    validate_schema(base)
    validate_semantics(base, reg, cat)
    dry = load_config("config/config.yaml", "config/drylands.yaml")
    validate_schema(dry)
    validate_semantics(dry, reg, cat)
    assert dry["run"] == ["drylands"] and len(dry["studies"]["drylands"]["units"]) == 13


def test_unknown_country_names_key_and_value(base, reg_cat):
    cfg = copy.deepcopy(base)
    cfg["studies"]["neasia"]["units"][2] = "XYZ"
    err = _semantic_error(cfg, reg_cat)
    assert err.key == "studies.neasia.units[2]" and err.value == "XYZ"
    assert "XYZ" in str(err) and "registry" in str(err)


def test_unknown_indicator(base, reg_cat):
    cfg = copy.deepcopy(base)
    cfg["studies"]["neasia"]["drivers"].append("ndvi_magic")
    err = _semantic_error(cfg, reg_cat)
    assert err.key.startswith("studies.neasia.drivers[") and err.value == "ndvi_magic"


def test_indicator_of_wrong_level(base, reg_cat):
    cfg = copy.deepcopy(base)
    cfg["studies"]["mongolia_aimag"]["drivers"].append("precip_annual")
    err = _semantic_error(cfg, reg_cat)
    assert "level 'aimag'" in str(err)


def test_driver_and_outcome_at_once(base, reg_cat):
    cfg = copy.deepcopy(base)
    cfg["studies"]["neasia"]["drivers"].append("barren_share")
    err = _semantic_error(cfg, reg_cat)
    assert err.key == "studies.neasia.drivers" and err.value == ["barren_share"]


def test_years_reversed(base, reg_cat):
    cfg = copy.deepcopy(base)
    cfg["studies"]["neasia"]["years"] = [2020, 1992]
    err = _semantic_error(cfg, reg_cat)
    assert err.key == "studies.neasia.years"


def test_schema_wrong_type_and_unknown_key(base):
    cfg = copy.deepcopy(base)
    cfg["studies"]["neasia"]["years"] = ["1992", 2020]
    with pytest.raises(ConfigError) as exc:
        validate_schema(cfg)
    assert exc.value.key == "studies.neasia.years.0" and exc.value.value == "1992"
    cfg = copy.deepcopy(base)
    cfg["studies"]["neasia"]["outcome"] = ["barren_share"]  # typo for `outcomes`
    with pytest.raises(ConfigError) as exc:
        validate_schema(cfg)
    assert "outcome" in str(exc.value)


def test_run_names_undefined_study(base, reg_cat):
    cfg = copy.deepcopy(base)
    cfg["run"] = ["neasia", "atlantis"]
    err = _semantic_error(cfg, reg_cat)
    assert err.key == "run[1]" and err.value == "atlantis"


def test_malformed_config_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError) as exc:
        load_config(bad)
    assert str(bad) in str(exc.value)


def test_catalogue_rejects_unsafe_formula(tmp_path):
    cat = yaml.safe_load(open("config/catalogue.yaml"))
    cat["indicators"]["evil"] = {"label": "x", "domain": "outcome", "level": "country", "measure": "-",
                                 "formula": "__import__('os').system('echo hi')"}
    p = tmp_path / "catalogue.yaml"
    p.write_text(yaml.safe_dump(cat))
    with pytest.raises(ConfigError) as exc:
        Catalogue.from_yaml(p)
    assert exc.value.key == "indicators.evil.formula"


def test_catalogue_unknown_name_in_formula(tmp_path):
    cat = yaml.safe_load(open("config/catalogue.yaml"))
    cat["indicators"]["ratio"] = {"label": "x", "domain": "outcome", "level": "country", "measure": "-",
                                  "formula": "barren_share / no_such_thing"}
    p = tmp_path / "catalogue.yaml"
    p.write_text(yaml.safe_dump(cat))
    with pytest.raises(ConfigError, match="no_such_thing"):
        Catalogue.from_yaml(p)


def test_snapshot_missing_file_named_before_work(base, tmp_path):
    cfg = copy.deepcopy(base)
    cfg["snapshot_dir"] = str(tmp_path)  # an empty folder
    with pytest.raises(Exception) as exc:
        setup(cfg)
    msg = str(exc.value)
    assert str(tmp_path) in msg and "https://" in msg


def test_catalogue_rejects_unknown_entry_keys(tmp_path):
    """An unquoted comma in a flow-style entry splits a label into a new key: an error, not a
    silently truncated label."""
    text = open("config/catalogue.yaml").read() + (
        "  broken: {label: Winter temperature (DJF, labelled by January year), domain: climate, "
        "level: aimag, source: era5_aimag, code: t2m_djf, measure: degC}\n")
    p = tmp_path / "catalogue.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as exc:
        Catalogue.from_yaml(p)
    assert exc.value.key == "indicators.broken.labelled by January year)"


def test_catalogue_outcomes_say_which_direction_is_better(tmp_path):
    cat = yaml.safe_load(open("config/catalogue.yaml"))
    ents = cat["indicators"]
    assert ents["bare_sparse_share"]["better"] == "lower"
    assert ents["biomass_median"]["better"] == "higher" and ents["mort_sfu"]["better"] == "lower"
    assert all(e.get("better") in ("lower", "higher") for e in ents.values()
               if e["domain"] in ("outcome", "impact"))
    ents["new_outcome"] = {"label": "x", "domain": "outcome", "level": "country", "measure": "-",
                           "formula": "barren_share * 2"}
    p = tmp_path / "catalogue.yaml"
    p.write_text(yaml.safe_dump(cat))
    with pytest.raises(ConfigError) as exc:
        Catalogue.from_yaml(p)
    assert exc.value.key == "indicators.new_outcome.better"
    ents["new_outcome"]["better"] = "up"
    p.write_text(yaml.safe_dump(cat))
    with pytest.raises(ConfigError, match="lower"):
        Catalogue.from_yaml(p)
