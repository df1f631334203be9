"""The schema check remembers a config that passed (config.validate_schema ``cache_dir``):
the same config and schema skip the check, any edit is checked again, a failure is never
remembered."""

from __future__ import annotations

import copy
import datetime as dt
import subprocess
import sys
import textwrap

import pytest

from dlddrivers.config import load_config, load_schema, schema_key, validate_schema
from dlddrivers.errors import ConfigError


@pytest.fixture(scope="module")
def cfg() -> dict:
    return load_config("config/config.yaml")


def test_a_passing_config_is_remembered_and_an_edit_is_checked_again(cfg, tmp_path):
    validate_schema(copy.deepcopy(cfg), cache_dir=tmp_path)
    markers = sorted(p.name for p in tmp_path.iterdir())
    assert len(markers) == 1 and markers[0].startswith("schema-ok-")
    validate_schema(copy.deepcopy(cfg), cache_dir=tmp_path)  # the same: no second marker
    assert sorted(p.name for p in tmp_path.iterdir()) == markers
    bad = copy.deepcopy(cfg)
    bad["results_dir"] = 3  # the schema wants a string
    with pytest.raises(ConfigError, match="results_dir"):
        validate_schema(bad, cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="results_dir"):  # the failure was not remembered
        validate_schema(bad, cache_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == markers


def test_the_key_follows_every_part_of_config_and_schema(cfg):
    schema = load_schema()
    base = schema_key(schema, cfg)
    assert base == schema_key(copy.deepcopy(schema), copy.deepcopy(cfg))
    deep = copy.deepcopy(cfg)
    name = next(iter(deep["studies"]))
    deep["studies"][name]["years"] = [1990, 2000]
    assert schema_key(schema, deep) != base
    looser = copy.deepcopy(schema)
    looser["properties"]["results_dir"] = {}
    assert schema_key(looser, cfg) != base
    # a YAML date and the string that prints like it are different configs
    d = {**cfg, "x": dt.date(2020, 1, 1)}
    assert schema_key(schema, d) != schema_key(schema, {**cfg, "x": "2020-01-01"})


def test_keys_json_cannot_sort_are_checked_every_time(cfg, tmp_path):
    odd = {**copy.deepcopy(cfg), "results_dir": {1: "a", "b": 2}}
    with pytest.raises(ConfigError):
        validate_schema(odd, cache_dir=tmp_path)
    assert not list(tmp_path.iterdir())


def test_a_remembered_config_does_not_import_jsonschema(tmp_path):
    code = textwrap.dedent(f"""
        import sys
        from dlddrivers.config import load_config, validate_schema
        cfg = load_config("config/config.yaml")
        validate_schema(cfg, cache_dir={str(tmp_path)!r})
        print("jsonschema" in sys.modules)
    """)
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    again = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert (first.stdout.strip(), again.stdout.strip()) == ("True", "False")
