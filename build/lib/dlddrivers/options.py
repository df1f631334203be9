"""Stage options: each stage's ``DEFAULTS`` is its option schema.

A value given in ``config['methods'][stage]`` must be a key of the stage's ``DEFAULTS`` and
have the default's type (an integer where the default is an integer, a number where it is a
float, true/false where it is a boolean, a list where it is a list, a mapping with the same
keys where it is a non-empty mapping). A default of ``None`` or an empty mapping accepts any
value (the stage checks it). Ranges: a module may declare ``OPTION_BOUNDS = {key: (min, max)}``;
without one, counts and numbers whose default is non-negative must be >= 0, draw and
simulation counts >= 1, and confidence levels, alphas and fractions lie strictly between 0
and 1. Every failure is a :class:`~dlddrivers.errors.ConfigError` naming the key, the value and
what was expected, raised when the workflow starts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .errors import ConfigError

#: Keys (or key suffixes) that are probabilities or levels: strictly between 0 and 1.
_UNIT_INTERVAL = ("ci", "ci_level", "alpha", "power", "fraction", "quantile")
#: Keys (or key parts) that count draws, simulations or folds: at least 1.
_AT_LEAST_ONE = ("draws", "simulations", "n_sim", "n_boot", "bootstrap", "num_", "folds",
                 "n_strata", "permutations", "samples")


def _type_name(default: Any) -> str:
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, int):
        return "an integer"
    if isinstance(default, float):
        return "a number"
    if isinstance(default, str):
        return "a string"
    if isinstance(default, list):
        return "a list"
    if isinstance(default, Mapping):
        return "a mapping"
    return "a value"


def _type_ok(value: Any, default: Any) -> bool:
    if default is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if isinstance(default, str):
        return isinstance(value, str) or value is None
    if isinstance(default, list):
        return isinstance(value, list)
    if isinstance(default, Mapping):
        return isinstance(value, Mapping)
    return True


def default_bounds(key: str, default: Any) -> tuple[float | None, float | None, bool]:
    """(min, max, exclusive) implied by a key's name and default (see the module docstring)."""
    if isinstance(default, bool) or not isinstance(default, (int, float)):
        return None, None, False
    k = key.lower()
    if isinstance(default, float) and 0 < default < 1 and (
            k in _UNIT_INTERVAL or any(k.endswith("_" + u) or k.startswith(u + "_") for u in _UNIT_INTERVAL)):
        return 0, 1, True
    if default >= 0 and any(p in k for p in _AT_LEAST_ONE) and isinstance(default, int):
        return 1, None, False
    if default >= 0:
        return 0, None, False
    return None, None, False


def check_options(stage: str, given: Mapping | None, defaults: Mapping,
                  bounds: Mapping[str, tuple] | None = None, file: str | None = None,
                  prefix: str | None = None) -> None:
    """Check ``given`` options of ``stage`` against its ``defaults`` (recursively)."""
    if given is None:
        return
    where = prefix or f"methods.{stage}"
    if not isinstance(given, Mapping):
        raise ConfigError(where, given, f"a mapping of options of stage '{stage}'", file)
    bounds = bounds or {}
    for key in given:
        if key not in defaults:
            raise ConfigError(f"{where}.{key}", given[key],
                              f"one of the options of stage '{stage}': {sorted(defaults)}", file)
        value, default = given[key], defaults[key]
        if value is None:
            continue
        if not _type_ok(value, default):
            raise ConfigError(f"{where}.{key}", value,
                              f"{_type_name(default)} (the default is {default!r})", file)
        if isinstance(default, Mapping) and default:
            check_options(stage, value, default, bounds.get(key) if isinstance(bounds.get(key), Mapping) else None,
                          file, f"{where}.{key}")
            continue
        if isinstance(default, list) and default and isinstance(value, list):
            for i, v in enumerate(value):
                if not _type_ok(v, default[0]):
                    raise ConfigError(f"{where}.{key}[{i}]", v, f"{_type_name(default[0])} (list items like {default[0]!r})", file)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            lo, hi, excl = (*bounds[key], False) if key in bounds else default_bounds(key, default)
            if excl and lo is not None and hi is not None and not (lo < value < hi):
                raise ConfigError(f"{where}.{key}", value, f"a number strictly between {lo} and {hi}", file)
            if not excl and ((lo is not None and value < lo) or (hi is not None and value > hi)):
                rng = f">= {lo}" if hi is None else (f"<= {hi}" if lo is None else f"between {lo} and {hi}")
                raise ConfigError(f"{where}.{key}", value, f"a value {rng}", file)
