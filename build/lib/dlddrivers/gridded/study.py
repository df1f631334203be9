"""Pixel studies (``level: pixel``) in the config: checks, layer specs and the files they read.

A pixel study is a study like the others (``units``, ``years``, ``outcomes``, ``drivers``,
``carry``) with ``level: pixel`` and:

* ``zone_level``: the registry level of its ``units`` (``aimag`` or ``country``), the units the
  zonal tables aggregate to (their boundary polygons come from the project's boundary files);
* ``bbox``: ``[lon_min, lat_min, lon_max, lat_max]``, selected before anything is read and sent
  to the provider at download where the provider allows a subset;
* ``synthetic`` (optional): ``{ny, nx, seed}`` of a generated stack with planted truth, for the
  layers whose source is ``synthetic_stack``.

Its indicators are **pixel layers**, declared in ``config/catalogue.yaml`` under
``pixel_layers:`` (label, domain, measure, ``source``, provider variable ``code``, optional
``months``/``how`` for monthly products, ``static: true`` for layers without years); their
sources are in ``config/sources.yaml`` under ``pixel_sources:`` (reader, provider, licence, URL
and file patterns). The outcome is the first of ``outcomes``; ``drivers`` are the climate
regressors of RESTREND (domain ``climate``); anthropogenic layers go in ``carry`` (zonal means,
labelled static when they have no years).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..yamlio import load_yaml

LAYER_KEYS = frozenset({"label", "domain", "measure", "source", "code", "months", "how", "static",
                        "valid_range", "note"})
READERS = ("synthetic", "terraclimate", "pku_gimms_ndvi", "netcdf", "geotiff")


def is_pixel(cfg: dict, name: str) -> bool:
    """Whether study ``name`` is a pixel study."""
    return str(cfg["studies"][name].get("level")) == "pixel"


def pixel_layers(catalogue_path: str | Path) -> dict[str, dict]:
    """The ``pixel_layers`` section of the catalogue, checked (keys, required fields)."""
    raw = load_yaml(catalogue_path) or {}
    layers = raw.get("pixel_layers") or {}
    for lid, spec in layers.items():
        if not isinstance(spec, dict):
            raise ConfigError(f"pixel_layers.{lid}", spec, "a mapping", str(catalogue_path))
        extra = sorted(set(spec) - LAYER_KEYS)
        if extra:
            raise ConfigError(f"pixel_layers.{lid}.{extra[0]}", spec[extra[0]],
                              f"only the keys {sorted(LAYER_KEYS)}", str(catalogue_path))
        for req in ("label", "domain", "measure", "source", "code"):
            if req not in spec:
                raise ConfigError(f"pixel_layers.{lid}.{req}", None, "a value", str(catalogue_path))
    return layers


def pixel_sources(sources_path: str | Path) -> dict[str, dict]:
    """The ``pixel_sources`` section of ``config/sources.yaml``, checked (reader known)."""
    raw = load_yaml(sources_path) or {}
    srcs = raw.get("pixel_sources") or {}
    for sid, spec in srcs.items():
        if not isinstance(spec, dict) or spec.get("reader") not in READERS:
            raise ConfigError(f"pixel_sources.{sid}.reader", (spec or {}).get("reader"),
                              f"one of {list(READERS)}", str(sources_path))
    return srcs


def check_pixel_study(cfg: dict, name: str, registry) -> None:
    """Semantic checks of a pixel study (each error names the key, the value and what was
    expected): zone units in the registry at ``zone_level``, layers in ``pixel_layers`` with
    known sources, one outcome, climate drivers, years, bbox, no graph."""
    st = cfg["studies"][name]
    key = f"studies.{name}"
    zl = st.get("zone_level")
    if zl not in ("aimag", "country"):
        raise ConfigError(f"{key}.zone_level", zl, "aimag or country (the level of the study's units)")
    known = set(registry.ids(zl))
    for i, u in enumerate(st["units"]):
        if u not in known:
            raise ConfigError(f"{key}.units[{i}]", u, f"a {zl} id of the unit registry {registry.path}")
    y0, y1 = st["years"]
    if y1 - y0 < 9:
        raise ConfigError(f"{key}.years", st["years"], "at least 10 years for per-pixel trends")
    bbox = st.get("bbox")
    if not (isinstance(bbox, list) and len(bbox) == 4 and bbox[0] < bbox[2] and bbox[1] < bbox[3]):
        raise ConfigError(f"{key}.bbox", bbox, "[lon_min, lat_min, lon_max, lat_max] with min < max")
    if st.get("graph"):
        raise ConfigError(f"{key}.graph", st["graph"], "null: the causal stage is not run on pixels")
    layers = pixel_layers(cfg["catalogue"])
    srcs = pixel_sources(cfg["sources"])
    if len(st.get("outcomes") or []) != 1:
        raise ConfigError(f"{key}.outcomes", st.get("outcomes"), "exactly one pixel layer")
    for role in ("outcomes", "drivers", "carry"):
        for i, lid in enumerate(st.get(role) or []):
            if lid not in layers:
                raise ConfigError(f"{key}.{role}[{i}]", lid,
                                  f"a pixel layer of {cfg['catalogue']} (pixel_layers: {sorted(layers)})")
            src = layers[lid]["source"]
            if src not in srcs:
                raise ConfigError(f"pixel_layers.{lid}.source", src,
                                  f"a pixel source of {cfg['sources']} ({sorted(srcs)})")
            if srcs[src]["reader"] == "synthetic" and not st.get("synthetic"):
                raise ConfigError(f"{key}.synthetic", None,
                                  f"{{ny, nx, seed}}: layer '{lid}' comes from the synthetic stack")
            if role == "drivers" and layers[lid]["domain"] != "climate":
                raise ConfigError(f"{key}.drivers[{i}]", lid,
                                  "a climate layer (RESTREND regresses the outcome on climate only)")
    if not st.get("drivers"):
        raise ConfigError(f"{key}.drivers", st.get("drivers"), "at least one climate layer")


def layer_files(study: dict, layer: dict, source: dict, raw_root: str | Path,
                synthetic_path: str | Path) -> list[Path]:
    """The files a layer is read from: the generated synthetic stack, or the provider files
    in the raw folder (one per year for TerraClimate; one decade zip per decade for PKU GIMMS)."""
    reader = source["reader"]
    if reader == "synthetic":
        return [Path(synthetic_path)]
    if reader == "geotiff":  # one static map
        return [Path(raw_root) / source["files"]["path"].format(code=layer["code"], study=study["name"])]
    y0, y1 = study["years"]
    pattern = source["files"]["path"]
    out = []
    for y in range(y0, y1 + 1):
        p = Path(raw_root) / pattern.format(code=layer["code"], year=y, study=study["name"],
                                            decade=decade_of(y, source))
        if p not in out:
            out.append(p)
    return out


def decade_of(year: int, source: dict) -> str:
    """The archive period (e.g. ``1991_2000``) holding ``year`` for decade-zip products."""
    for period in source.get("periods", []) or []:
        a, b = (int(v) for v in str(period).split("_"))
        if a <= year <= b:
            return str(period)
    return ""


def study_layers(study: dict, catalogue_path, sources_path) -> dict[str, dict[str, Any]]:
    """``{layer id: {"spec": catalogue entry, "source": source entry, "role": ...}}``."""
    layers = pixel_layers(catalogue_path)
    srcs = pixel_sources(sources_path)
    out = {}
    for role in ("outcomes", "drivers", "carry"):
        for lid in study.get(role) or []:
            out[lid] = {"spec": layers[lid], "source": srcs[layers[lid]["source"]], "role": role}
    return out
