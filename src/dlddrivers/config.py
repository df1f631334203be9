"""Configuration: load, validate against the JSON schema, then semantic checks.

Every error names the key and the bad value (:class:`~dlddrivers.errors.ConfigError`), and is
raised when the workflow starts, before any job runs.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

from .errors import ConfigError

#: The workflow's root folder (this package lives in ``<root>/src/dlddrivers``): the schema and
#: the default config files are found relative to it, so ``snakemake --directory DIR`` works.
WORKFLOW_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = WORKFLOW_ROOT / "config" / "schema" / "config.schema.yaml"
#: Config keys that name files; a relative path is read from the working directory when it
#: exists there, else from the workflow root.
PATH_KEYS = ("registry", "catalogue", "sources")
ROLES = ("outcomes", "drivers", "impacts", "carry")


def deep_merge(base: dict, override: dict) -> dict:
    """Merge ``override`` into a copy of ``base`` (dicts recursively; lists and scalars replaced),
    as Snakemake does with ``--configfile``."""
    out = copy.deepcopy(base)
    for k, v in override.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def load_config(*paths: str | Path, overrides: dict | None = None) -> dict:
    """Read and merge config files (later ones override), then apply ``overrides``."""
    from .yamlio import load_yaml

    cfg: dict = {}
    for p in paths:
        part = load_yaml(p) or {}
        if not isinstance(part, dict):
            raise ConfigError("<root>", type(part).__name__, "a mapping", str(p))
        cfg = deep_merge(cfg, part)
    if overrides:
        cfg = deep_merge(cfg, overrides)
    return cfg


def _path_of(err) -> str:
    return ".".join(str(p) for p in err.absolute_path) or "<root>"


def load_schema(schema_path: str | Path = SCHEMA_PATH) -> dict:
    """The config JSON schema with the ``methods`` keys of every registered stage
    (:func:`dlddrivers.stages.option_sections`): the stage list has one home, the registry."""
    from .stages import option_sections
    from .yamlio import load_yaml

    schema = load_yaml(schema_path)
    methods = schema["properties"]["methods"]
    methods["properties"] = {name: {"type": "object", "description": f"options of the stage '{name}'"}
                             for name in option_sections()}
    return schema


def validate_schema(cfg: dict, schema_path: str | Path = SCHEMA_PATH, *,
                    cache_dir: str | Path | None = None) -> None:
    """Validate ``cfg`` against the JSON schema; the first error names the key and value.

    ``cache_dir``: remember a config that passed, keyed by the sha256 of the schema and the
    config together (:func:`schema_key`), so the same config with the same schema is not
    validated again (importing jsonschema alone costs a no-op ``snakemake -n`` about 0.07 s).
    Any edit of either changes the key; a config that fails is never remembered.
    """
    schema = load_schema(schema_path)
    marker = None
    if cache_dir:
        try:
            marker = Path(cache_dir) / f"schema-ok-{schema_key(schema, cfg)}"
        except (TypeError, ValueError):  # keys JSON cannot sort (e.g. int and str): no cache
            marker = None
    if marker is not None and marker.is_file():
        return
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(cfg), key=lambda e: (len(list(e.absolute_path)), str(e.absolute_path)))
    if errors:
        e = errors[0]
        raise ConfigError(_path_of(e), e.instance if not isinstance(e.instance, dict) else "{...}",
                          e.message if len(e.message) < 300 else e.message[:300])
    if marker is not None:
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        except OSError:  # a read-only working folder: validate every time
            pass


def schema_key(schema: dict, cfg: dict) -> str:
    """sha256 (first 32 hex digits) of the schema and the config as canonical JSON, with the
    JSON Schema draft the check uses: equal keys mean the same validation and the same result.
    Values JSON does not hold (dates from YAML) are keyed by their text and their type, so a
    date and the string that prints like it do not share a key."""
    def typed(v: Any) -> str:
        return f"{type(v).__module__}.{type(v).__qualname__}:{v}"

    text = json.dumps({"draft": "2020-12", "schema": schema, "config": cfg}, sort_keys=True,
                      default=typed)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def validate_semantics(cfg: dict, registry, catalogue) -> None:
    """Checks the schema cannot express.

    * every study in ``run`` is defined;
    * units exist in the registry at the study's level;
    * every indicator exists in the catalogue at the study's level;
    * years are ordered and within the range the catalogue's sources can cover (panel studies);
    * grid studies have no years and no graph, and their grid sizes are cell sizes of the grid;
    * the same indicator is not both driver and outcome (or impact).
    """
    for i, name in enumerate(cfg["run"]):
        if name not in cfg["studies"]:
            raise ConfigError(f"run[{i}]", name, f"one of the defined studies {sorted(cfg['studies'])}")
    for name, st in cfg["studies"].items():
        level = st["level"]
        if level == "pixel":  # gridded stacks, checked by their own module
            from .gridded.study import check_pixel_study

            check_pixel_study(cfg, name, registry)
            continue
        for k in ("zone_level", "bbox", "synthetic", "tiles"):
            if k in st:
                raise ConfigError(f"studies.{name}.{k}", st[k], "no such key: only a study of level 'pixel' has it")
        known = set(registry.ids(level))
        for i, u in enumerate(st["units"]):
            if u not in known:
                raise ConfigError(
                    f"studies.{name}.units[{i}]", u,
                    f"a {level} id of the unit registry {registry.path} (e.g. {sorted(known)[:6]})",
                )
        if level == "grid":
            _check_grid_study(name, st, registry)
        else:
            if "grid_sizes_km" in st:
                raise ConfigError(f"studies.{name}.grid_sizes_km", st["grid_sizes_km"],
                                  "no grid sizes: only a study of level 'grid' has them")
            y0, y1 = st["years"]
            if y0 > y1:
                raise ConfigError(f"studies.{name}.years", st["years"], "[first, last] with first <= last")
            if y1 - y0 < 2:
                raise ConfigError(f"studies.{name}.years", st["years"], "a span of at least 3 years")
        for role in ROLES:
            for i, ind in enumerate(st.get(role, []) or []):
                if ind not in catalogue.entries:
                    raise ConfigError(f"studies.{name}.{role}[{i}]", ind,
                                      f"an indicator id of the catalogue {catalogue.path}")
                lvl = catalogue.entries[ind].level
                if lvl != level:
                    raise ConfigError(f"studies.{name}.{role}[{i}]", ind,
                                      f"an indicator of level '{level}' (this one is '{lvl}')")
        drivers = set(st.get("drivers", []))
        for role in ("outcomes", "impacts"):
            both = drivers & set(st.get(role, []) or [])
            if both:
                raise ConfigError(f"studies.{name}.drivers", sorted(both),
                                  f"indicators that are not also {role}")
        if not (st.get("outcomes") or st.get("impacts")):
            raise ConfigError(f"studies.{name}.outcomes", st.get("outcomes"),
                              "at least one outcome or impact")
        if graph := st.get("graph"):
            if not Path(graph).exists():
                raise ConfigError(f"studies.{name}.graph", graph, "an existing graph file")


def _check_grid_study(name: str, st: dict, registry) -> None:
    """A grid study: no years, no causal graph, and each grid size is one its region offers.

    Cells are generated from the data (the registry lists the grid region and its cell sizes,
    not 46,000 cells); ``grid_sizes_km`` picks among the region's cell sizes.
    """
    if "years" in st:
        raise ConfigError(f"studies.{name}.years", st["years"],
                          "no years: a grid study is cross-sectional (one value per cell)")
    if st.get("graph"):
        raise ConfigError(f"studies.{name}.graph", st["graph"],
                          "null: the causal stage needs years and does not apply to grid studies")
    grids = getattr(registry, "grids", {}) or {}
    for u in st["units"]:
        sizes = list((grids.get(u) or {}).get("cell_sizes_km", []))
        for i, km in enumerate(st.get("grid_sizes_km") or []):
            if km not in sizes:
                raise ConfigError(f"studies.{name}.grid_sizes_km[{i}]", km,
                                  f"a cell size of grid '{u}' in {registry.path} ({sizes})")


def study_level(cfg: dict, name: str) -> str:
    """The ``level`` of study ``name`` (country, aimag or grid)."""
    return str(cfg["studies"][name]["level"])


def resolve_path(path: str | Path, root: str | Path | None = None) -> str:
    """A config path as the workflow reads it: as given when it exists (relative to the working
    directory, or absolute), else relative to the workflow root ``root``."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return str(path)
    alt = Path(root or WORKFLOW_ROOT) / p
    return str(alt) if alt.exists() else str(path)


def resolve_paths(cfg: dict, root: str | Path | None = None) -> dict:
    """Resolve the file keys of a config (registry, catalogue, sources, each study's graph) in
    place with :func:`resolve_path`; returns ``cfg``."""
    for k in PATH_KEYS:
        if cfg.get(k):
            cfg[k] = resolve_path(cfg[k], root)
    for st in (cfg.get("studies") or {}).values():
        if isinstance(st, dict) and st.get("graph"):
            st["graph"] = resolve_path(st["graph"], root)
    return cfg


def panel_run(cfg: dict) -> list[str]:
    """Studies in ``run`` built as unit-year panels (every level except ``pixel``)."""
    return [n for n in cfg["run"] if cfg["studies"][n].get("level") != "pixel"]


def study_indicators(st: dict) -> dict[str, str]:
    """Indicator id -> role (outcome, driver, impact, carried) for a study, in config order."""
    out: dict[str, str] = {}
    for role, label in (("outcomes", "outcome"), ("drivers", "driver"), ("impacts", "impact"),
                        ("carry", "carried")):
        for ind in st.get(role, []) or []:
            out.setdefault(ind, label)
    return out


def config_hash(cfg: dict) -> str:
    """sha256 of the effective configuration (canonical JSON)."""
    blob = json.dumps(cfg, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def study_config(cfg: dict, name: str) -> dict[str, Any]:
    """The study's config with its name and the global seed filled in."""
    st = copy.deepcopy(cfg["studies"][name])
    st["name"] = name
    st.setdefault("seed", cfg.get("seed", 0))
    st.setdefault("climate_product", "cru")
    st.setdefault("impacts", [])
    st.setdefault("carry", [])
    st.setdefault("interpolate", {"max_gap": 0})
    return st
