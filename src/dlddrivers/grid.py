"""Grid studies (``level: grid``): cross-sectional cell tables instead of unit-year panels.

A grid study names a grid region of the unit registry (``grids:`` in ``config/units.yaml``) and
the cell sizes to analyse (``grid_sizes_km``). ``build_cells`` reads the study's indicators
through the source readers (the same tidy contract as the panels, ``year`` null), keeps the
study's cell sizes, and returns one row per cell (``unit, grid_km`` + one column per
indicator), the data dictionary (with ``categories`` for class variables) and the drop log.

The panel stages (trends, panel regression, RESTREND, ...) need years and do not apply:
:func:`stages_not_applicable` writes that once, per stage, as a status table.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .catalogue import Catalogue
from .config import study_indicators
from .errors import ConfigError, RawFileError
from .panel import RawFile, data_dictionary, read_raw
from .sources import DropLog
from .units import UnitRegistry

_CELL = re.compile(r"^(?P<region>[^_]+)_(?P<km>\d+)km_(?P<row>\d+)$")


@dataclass
class GridResult:
    cells: pd.DataFrame
    dictionary: pd.DataFrame
    drops: pd.DataFrame
    files: list[RawFile] = field(default_factory=list)


def parse_cell(unit: str) -> tuple[str, int, int]:
    """(region, cell size km, row) of a cell id ``<region>_<km>km_<row>``."""
    m = _CELL.match(str(unit))
    if not m:
        raise ConfigError("unit", unit, "a grid cell id '<region>_<km>km_<row>'")
    return m["region"], int(m["km"]), int(m["row"])


def build_cells(study: dict, catalogue: Catalogue, sources_cfg: dict, registry: UnitRegistry,
                raw_dir: str | Path) -> GridResult:
    """One row per cell of the study's grid sizes, one column per study indicator.

    Cells outside the study's regions are counted in the drop log; a cell missing any study
    indicator is kept with a missing value (the methods count complete rows and report drops).
    """
    if study.get("level") != "grid":
        raise ConfigError(f"studies.{study.get('name')}.level", study.get("level"), "'grid'")
    log = DropLog()
    roles = study_indicators(study)
    for iid in roles:
        if catalogue.entries[iid].derived:
            raise ConfigError(f"indicators.{iid}.formula", catalogue.entries[iid].formula,
                              "a raw indicator (formulas are per unit-year; grid studies read raw "
                              "cell values)", catalogue.path)
    # read_raw needs `years` only for lead years of some readers; grid readers ignore them
    tidy, used = read_raw({**study, "years": [1900, 1900]}, catalogue, sources_cfg, registry,
                          raw_dir, log)
    if tidy["year"].notna().any():
        raise RawFileError(", ".join(str(f.path) for f in used), "year",
                           "cross-sectional values (year null) for a grid study",
                           sorted(tidy["year"].dropna().unique().tolist())[:5])
    parts = tidy["unit"].map(parse_cell)
    tidy = tidy.assign(region=parts.str[0], grid_km=parts.str[1].astype(int))
    regions = set(study["units"])
    sizes = set(study["grid_sizes_km"])
    outside = ~tidy["region"].isin(regions) | ~tidy["grid_km"].isin(sizes)
    for src, n in tidy[outside].groupby("source").size().items():
        log.add(str(src), "-", "cell not in study regions or grid sizes", int(n))
    tidy = tidy[~outside]
    wide = tidy.pivot_table(index=["unit", "grid_km"], columns="indicator", values="value",
                            aggfunc="first").reset_index()
    for iid in roles:
        if iid not in wide.columns:
            wide[iid] = float("nan")
    wide["row"] = wide["unit"].map(lambda u: parse_cell(u)[2])
    cells = (wide.sort_values(["grid_km", "row"]).reset_index(drop=True)
             [["unit", "grid_km", *roles]])
    cells.columns.name = None
    dictionary = data_dictionary(roles, catalogue, sources_cfg, study)
    dictionary["categories"] = [json.dumps(catalogue.entries[i].categories or [])
                                for i in dictionary["indicator"]]
    dictionary["ordered"] = [bool(catalogue.entries[i].ordered) for i in dictionary["indicator"]]
    return GridResult(cells=cells, dictionary=dictionary, drops=log.frame(), files=used)


def categorical_of(dictionary: pd.DataFrame) -> dict[str, list[str]]:
    """Indicator -> class labels (code order) for the categorical indicators of a dictionary."""
    out = {}
    for _, r in dictionary.iterrows():
        cats = json.loads(r.get("categories") or "[]") if isinstance(r.get("categories"), str) else []
        if cats:
            out[str(r["indicator"])] = list(cats)
    return out


def stages_not_applicable(study: dict, stages: list[str]) -> pd.DataFrame:
    """One row per panel stage: it needs years (a unit-year panel) and is not run for this grid
    study. Written once per grid study instead of an error per stage."""
    return pd.DataFrame({
        "study": study.get("name", ""),
        "stage": list(stages),
        "status": "not_applicable: needs years",
        "reason": (f"level 'grid' is cross-sectional (one value per cell, no years); the stage "
                   "needs a unit-year panel. Grid studies run grid_geodetector, grid_ml and "
                   "grid_scale instead"),
    })
