"""Reading YAML config files strictly: a key written twice in one mapping is an error.

PyYAML (and so Snakemake's ``configfile:``) silently keeps the last of two equal keys. In a
config that decides what an analysis reports, that hides edits: the error names the file, the
key, and both lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError


class ConfigFileError(ConfigError):
    """A config file named on the command line or in the config does not exist."""

    def __init__(self, path: Path):
        super().__init__("<file>", str(path), "an existing YAML file", str(path))
        self.args = (f"config file '{path}' not found (working directory {Path.cwd()})",)

    def __str__(self) -> str:
        return self.args[0]


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml: ~10x faster
    """A SafeLoader that refuses duplicate mapping keys (libyaml's parser when PyYAML was built
    with it, PyYAML's pure-Python parser otherwise; both build the same nodes)."""


class _StrictPyLoader(yaml.SafeLoader):
    """The same loader on PyYAML's pure-Python parser: used only to word a syntax error (its
    messages name the offending character, alias or token; libyaml's are terser)."""


def _construct_mapping(loader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:  # unhashable keys are refused by PyYAML itself below
            continue
        line = key_node.start_mark.line + 1
        if key in seen:
            raise ConfigError(
                str(key), f"written twice (lines {seen[key]} and {line})",
                "each key once per mapping (YAML keeps only the last one silently)",
                getattr(loader, "name", None) or "<yaml>",
            )
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


for _loader in (_StrictLoader, _StrictPyLoader):
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(path: str | Path) -> Any:
    """Parse a YAML file, refusing duplicate keys; a missing file or a syntax error is one
    :class:`~dlddrivers.errors.ConfigError` naming the file."""
    p = Path(path)
    if not p.is_file():
        raise ConfigFileError(p)
    text = p.read_text(encoding="utf-8")
    return loads_yaml(text, str(p))


def loads_yaml(text: str, name: str = "<yaml>") -> Any:
    """Parse YAML text strictly (see :func:`load_yaml`)."""
    try:
        return _parse(_StrictLoader, text, name)
    except yaml.YAMLError:
        pass
    try:  # the same text again with the pure-Python parser, for its wording of the error
        return _parse(_StrictPyLoader, text, name)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "<document>"
        raise ConfigError(where, getattr(exc, "problem", None) or str(exc), "valid YAML",
                          name) from exc


def _parse(loader_class, text: str, name: str) -> Any:
    loader = loader_class(text)
    loader.name = name
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
