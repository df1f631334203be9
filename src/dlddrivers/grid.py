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

import numpy as np
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
        "reason": ("level 'grid' is cross-sectional (one value per cell, no years); the stage "
                   "needs a unit-year panel. Grid studies run grid_geodetector, grid_ml and "
                   "grid_scale instead"),
    })


# --------------------------------------------------------------------------- file-level jobs
def _write_tables(tables: dict[str, pd.DataFrame], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, t in tables.items():
        p = out / f"{name}.csv"
        t.to_csv(p, index=False)
        written.append(p)
    return written


def _run_record(out: Path, study: dict, stage: str, options: dict, tables: dict, figures: list,
                seconds: float, inputs: list[Path]) -> None:
    from .plots import style
    from .provenance import package_versions, sha256_file

    names = [Path(f).name for f in figures]
    rec = {"study": study.get("name"), "stage": stage, "seed": study.get("seed"),
           "options": options, "inputs_sha256": {Path(p).name: sha256_file(p) for p in inputs},
           "tables": {k: len(v) for k, v in tables.items()},
           "figures": names, "seconds": round(seconds, 3),
           # texts whose rendered boxes overlap, per figure (empty when every figure reads cleanly)
           "text_overlaps": {k: [list(p) for p in v] for k, v in style.OVERLAPS.items() if k in names},
           "packages": package_versions()}
    (out / "run.json").write_text(json.dumps(rec, indent=2, default=str))


def grid_data_job(slice_: dict, raw_root: str | Path, outdir: str | Path, status_path: str | Path,
                  panel_stages: list[str]) -> dict[str, Path]:
    """Read a grid study's cells from its config slice (:func:`dlddrivers.pipeline.panel_slice`:
    the study, its catalogue entries, the registry's grids and the source specs) and the raw
    folder ``raw_root``: ``cells.parquet``/``.csv``, ``data_dictionary.csv``, ``drops.csv``,
    ``provenance.json`` in ``outdir``; the not-applicable stage table at ``status_path``."""
    from .catalogue import Catalogue
    from .config import config_hash
    from .pipeline import verify_raw_files
    from .provenance import file_records, package_versions
    from .units import UnitRegistry

    study = slice_["study"]
    study_name = study["name"]
    registry = UnitRegistry.from_dict(slice_["registry"], "config slice of the unit registry")
    sources = slice_["sources"]
    catalogue = Catalogue.from_dict({"indicators": slice_["indicators"]}, sources,
                                    "config slice of the catalogue")
    # raw-file checksums before anything is read
    verify_raw_files(study, catalogue, sources, raw_root, slice_.get("on_checksum_mismatch") or "error")
    res = build_cells(study, catalogue, sources, registry, Path(raw_root))
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"cells": out / "cells.parquet", "cells_csv": out / "cells.csv",
             "dictionary": out / "data_dictionary.csv", "drops": out / "drops.csv",
             "provenance": out / "provenance.json", "status": Path(status_path)}
    res.cells.to_parquet(paths["cells"], index=False)
    res.cells.to_csv(paths["cells_csv"], index=False)
    res.dictionary.to_csv(paths["dictionary"], index=False)
    res.drops.to_csv(paths["drops"], index=False)
    prov = {"study": study_name, "config_slice_sha256": config_hash(slice_), "config_slice": slice_,
            "study_config": study,
            "seed": study["seed"], "raw_files": file_records(res.files),
            "rows_not_passed_on": res.drops.to_dict(orient="records"),
            "cells_per_grid_km": {int(k): int(v) for k, v in
                                  res.cells.groupby("grid_km").size().items()},
            "packages": package_versions()}
    paths["provenance"].write_text(json.dumps(prov, indent=2, default=str))
    stages_not_applicable(study, panel_stages).to_csv(paths["status"], index=False)
    return paths


def _read_cells(cells_path: str | Path, dictionary_path: str | Path, km: int):
    cells = pd.read_parquet(cells_path)
    cells = cells[cells["grid_km"] == int(km)].reset_index(drop=True)
    if cells.empty:
        raise RawFileError(cells_path, "grid_km", f"cells of size {km} km",
                           sorted(pd.read_parquet(cells_path)["grid_km"].unique().tolist()))
    dictionary = pd.read_csv(dictionary_path, keep_default_na=False)
    return cells, dictionary


def grid_geodetector_job(study: dict, options: dict, cells_path: str | Path,
                         dictionary_path: str | Path, km: int, outdir: str | Path) -> list[Path]:
    """Optimal discretisation and the four detectors for every outcome on one grid size."""
    import time

    from .methods.geodetector import GRID_DEFAULTS, grid_detectors
    from .plots.grid import plot_geodetector
    from .stages import GRID_STAGES

    t0 = time.perf_counter()
    opt = {**GRID_DEFAULTS, **(options or {})}
    cells, dictionary = _read_cells(cells_path, dictionary_path, km)
    cats = categorical_of(dictionary)
    parts: dict[str, list[pd.DataFrame]] = {}
    for y in list(study.get("outcomes") or []) + list(study.get("impacts") or []):
        res = grid_detectors(cells, y, list(study["drivers"]), cats, opt,
                             seed=int(study.get("seed", 0)), study=study.get("name", ""),
                             grid_km=int(km))
        for k, v in res.items():
            parts.setdefault(k, []).append(v)
    tables = {k: pd.concat(v, ignore_index=True) for k, v in parts.items()}
    GRID_STAGES["grid_geodetector"].check_tables(tables)  # the declared contracts
    out = Path(outdir)
    written = _write_tables(tables, out)
    figs = plot_geodetector(tables, dictionary, out, int(km))
    _run_record(out, study, "grid_geodetector", opt, tables, figs, time.perf_counter() - t0,
                [Path(cells_path), Path(dictionary_path)])
    return written + figs


def grid_ml_job(study: dict, options: dict, cells_path: str | Path, dictionary_path: str | Path,
                factor_path: str | Path, km: int, outdir: str | Path) -> list[Path]:
    """Boosted trees + SHAP on one grid size, and where its ranking agrees with the geodetector."""
    import time

    from .methods.grid_ml import DEFAULTS, compute, ranking_agreement
    from .plots.grid import plot_ml
    from .stages import GRID_STAGES

    t0 = time.perf_counter()
    opt = {**DEFAULTS, **(options or {})}
    cells, dictionary = _read_cells(cells_path, dictionary_path, km)
    tables = compute(cells, dictionary, study, opt, int(km))
    tables["ranking_agreement"] = ranking_agreement(pd.read_csv(factor_path),
                                                    tables["importance"])
    GRID_STAGES["grid_ml"].check_tables(tables)  # the declared contracts
    out = Path(outdir)
    written = _write_tables(tables, out)
    figs = plot_ml(tables, dictionary, out, int(km))
    _run_record(out, study, "grid_ml", opt, tables, figs, time.perf_counter() - t0,
                [Path(cells_path), Path(dictionary_path), Path(factor_path)])
    return written + figs


def scale_table(factors: list[pd.DataFrame], shares: list[pd.DataFrame],
                agreements: list[pd.DataFrame]) -> pd.DataFrame:
    """Long table of q per variable and SHAP group shares per cell size, with n and interval,
    and the rank of each variable at each size (the scale effect)."""
    rows = []
    for f in factors:
        f = f.dropna(subset=["q"]).copy()
        f["rank"] = f.groupby("y")["q"].rank(ascending=False, method="min")
        for r in f.itertuples():
            rows.append({"study": r.study, "y": r.y, "grid_km": int(r.grid_km), "x": r.x,
                         "measure": "q", "value": r.q, "ci_low": r.ci_low, "ci_high": r.ci_high,
                         "rank": int(r.rank), "discretisation": (
                             "classes" if r.type == "categorical" else f"{r.method}, k={int(r.k)}"),
                         "n_obs": int(r.n_obs), "estimand": "association", "status": r.status})
    for s in shares:
        for r in s.itertuples():
            rows.append({"study": r.study, "y": r.y, "grid_km": int(r.grid_km), "x": r.group,
                         "measure": "share_of_mean_abs_shap", "value": r.share,
                         "ci_low": r.ci_low, "ci_high": r.ci_high, "rank": np.nan,
                         "discretisation": "", "n_obs": int(r.n_obs),
                         "estimand": "share_of_mean_abs_shap", "status": r.status})
    for a in agreements:
        if a.empty:
            continue
        g = a.groupby(["study", "y", "grid_km"]).agg(rho=("spearman_rho", "first"),
                                                      top=("same_top_variable", "first"),
                                                      n=("n_variables", "first")).reset_index()
        for r in g.itertuples():
            rows.append({"study": r.study, "y": r.y, "grid_km": int(r.grid_km),
                         "x": "geodetector vs SHAP ranking", "measure": "spearman_rho",
                         "value": r.rho, "ci_low": np.nan, "ci_high": np.nan, "rank": np.nan,
                         "discretisation": "", "n_obs": np.nan, "estimand": "association",
                         "status": "ok" if r.top else "ok; different top variable"})
    out = pd.DataFrame(rows)
    return out.sort_values(["y", "measure", "x", "grid_km"]).reset_index(drop=True)


def grid_scale_job(study: dict, factor_paths: list, shares_paths: list, agreement_paths: list,
                   dictionary_path: str | Path, outdir: str | Path) -> list[Path]:
    """The scale-effect table (``scale.csv``), a wide q table (``scale_q_wide.csv``) and plot."""
    from .plots.grid import plot_scale

    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    scale = scale_table([pd.read_csv(p) for p in factor_paths],
                        [pd.read_csv(p) for p in shares_paths],
                        [pd.read_csv(p) for p in agreement_paths])
    scale.to_csv(out / "scale.csv", index=False)
    wide = (scale[scale["measure"] == "q"]
            .pivot_table(index=["y", "x"], columns="grid_km", values="value").reset_index())
    wide.columns = [f"q_{c}km" if isinstance(c, (int, np.integer)) else c for c in wide.columns]
    wide.to_csv(out / "scale_q_wide.csv", index=False)
    dictionary = pd.read_csv(dictionary_path, keep_default_na=False)
    figs = plot_scale(scale, dictionary, out)
    return [out / "scale.csv", out / "scale_q_wide.csv", *figs]
