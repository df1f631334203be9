# Config slices and file lists. Every job gets exactly the config it depends on as rule
# `params` (a rerun trigger) and every file it reads as `input`; nothing else.
import os

from dlddrivers.config import study_config
from dlddrivers.panel import required_files
from dlddrivers.pipeline import panel_slice, raw_dir, stage_slice
from dlddrivers.stages import STAGES
from dlddrivers import reporting


def canonical_path(p):
    """One spelling per file (relative to the working directory, symbolic links resolved), so
    that an absolute, a relative or a linked `snapshot_dir` name the same inputs and trigger no
    rerun."""
    return os.path.relpath(os.path.realpath(p))


def study_files(study):
    """Raw files a study reads (paths in the snapshot folder or the download cache)."""
    st = study_config(config, study)
    return sorted(
        {
            canonical_path(f.path)
            for f in required_files(st, CATALOGUE, SOURCES, raw_dir(config))
        }
    )


def panel_params(study):
    return panel_slice(config, study, REGISTRY, CATALOGUE, SOURCES)


def graph_input(study):
    g = study_config(config, study).get("graph")
    return [canonical_path(g)] if g else []


def panel_outputs(studies):
    names = [
        "panel.csv",
        "panel.parquet",
        "coverage.csv",
        "coverage_summary.csv",
        "data_dictionary.csv",
        "drops.csv",
        "provenance.json",
        "coverage.png",
    ]
    return [f"{RESULTS}/{s}/{n}" for s in studies for n in names]


# the registered analysis stages in pipeline order (dlddrivers.stages): one rule each
STAGE_NAMES = list(STAGES)


def stage_outputs(studies):
    return [f"{RESULTS}/{s}/{stage}" for s in studies for stage in STAGE_NAMES]


from dlddrivers.methods.geodetector import GRID_DEFAULTS
from dlddrivers.methods.grid_ml import DEFAULTS as GRID_ML_DEFAULTS


def grid_options(name, defaults):
    """A grid stage's options: module defaults overridden by config['methods'][name]."""
    return {**defaults, **((config.get("methods") or {}).get(name) or {})}


def grid_sizes(study):
    return list(study_config(config, study)["grid_sizes_km"])


def grid_outputs(studies):
    """Outputs of grid studies: cells, the not-applicable stage table, per grid size the
    geodetector and ML folders, and the scale effect."""
    out = []
    for s in studies:
        out += [
            f"{RESULTS}/{s}/data/cells.parquet",
            f"{RESULTS}/{s}/stages_not_applicable.csv",
            f"{RESULTS}/{s}/scale",
        ]
        for km in study_config(config, s)["grid_sizes_km"]:
            out += [
                f"{RESULTS}/{s}/grid_{km}km/geodetector",
                f"{RESULTS}/{s}/grid_{km}km/ml",
            ]
    return out


# Report sections in reading order and items titled in words (dlddrivers.reporting).
INDICATOR_LABELS = {i: e.label for i, e in CATALOGUE.entries.items()}


def item_label(w):
    return {"item": reporting.item_title(w.name, INDICATOR_LABELS)}


# Pixel studies (rules/pixel.smk)
from dlddrivers.gridded.pipeline import options as pixel_options
from dlddrivers.gridded.pipeline import tile_ids as pixel_tile_ids
from dlddrivers.gridded.study import study_layers
from dlddrivers.sources.boundaries import available_boundaries, map_units


def pixel_study(study):
    return study_config(config, study)


def pixel_layers_of(study):
    return study_layers(pixel_study(study), config["catalogue"], config["sources"])


def pixel_readers(study):
    return {i["source"]["reader"] for i in pixel_layers_of(study).values()}


def study_boundaries(units):
    """Declared boundary files of `units` (units.yaml `boundary` -> sources.yaml) and the
    declarations skipped (source absent from sources.yaml; offline: file not in the snapshot).
    """
    return available_boundaries(
        REGISTRY, SOURCES, units, raw_dir(config), bool(config.get("snapshot_dir"))
    )


def map_boundaries(study):
    """The study maps' boundary declarations and skipped declarations."""
    st = study_config(config, study)
    return study_boundaries(map_units(REGISTRY, st["level"], st["units"]))


def boundary_paths(specs):
    return [canonical_path(raw_dir(config) / s.path) for s in specs.values()]


def map_tiles(study):
    """The national tile grid of the study's countries (registry `tile`)."""
    st = study_config(config, study)
    if st["level"] != "country":
        return {}
    units = [REGISTRY.units[u] for u in st["units"] if u in REGISTRY.units]
    return {u.id: list(u.tile) for u in units if u.tile is not None}


def pixel_boundaries(study):
    """Boundary files of the study's zones: the aimags' country file, or the countries' files."""
    st = pixel_study(study)
    units = ["MNG"] if st["zone_level"] == "aimag" else list(st["units"])
    specs, _ = study_boundaries(units)
    return {u: canonical_path(raw_dir(config) / s.path) for u, s in specs.items()}


def pixel_boundary_fields(study):
    st = pixel_study(study)
    units = ["MNG"] if st["zone_level"] == "aimag" else list(st["units"])
    return {u: s.code_field for u, s in study_boundaries(units)[0].items()}


def pixel_tile_files(study):
    """One tile file per tile of a study with `tiles: [ny, nx]` ([] when untiled)."""
    return [
        f"{RESULTS}/{study}/pixel_tiles/{t}.npz"
        for t in pixel_tile_ids(pixel_study(study).get("tiles"))
    ]


def pixel_outputs(studies):
    return [f"{RESULTS}/{s}/pixel" for s in studies]


PIXEL_PATTERN = "|".join(PIXEL_STUDIES) if PIXEL_STUDIES else "(?!x)x"
