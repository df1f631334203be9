"""Study panels: from raw provider files to one validated row per unit and year.

``build_panel`` reads every raw indicator a study needs (and what its derived indicators need)
through the source readers, keeps the study's units, computes derived indicators in
dependency order, fills gaps only where the study asks (linear, within a maximum gap), and
returns the panel with its data dictionary, coverage table and drop log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .catalogue import Catalogue, Entry
from .config import study_indicators
from .contracts import PANEL_KEYS
from .derived import evaluate, parse_formula
from .errors import ConfigError, RawFileError
from .sources import DropLog, get_reader
from .units import UnitRegistry

#: Years read before a study's first year, so that lags (t-k) exist at the first year.
LEAD_YEARS = 3


@dataclass
class RawFile:
    """A raw file the study reads: where it is and where it comes from."""

    source: str
    key: str
    path: Path
    url: str
    sha256: str | None = None


@dataclass
class PanelResult:
    panel: pd.DataFrame
    dictionary: pd.DataFrame
    coverage: pd.DataFrame
    drops: pd.DataFrame
    files: list[RawFile] = field(default_factory=list)


# --------------------------------------------------------------------------- raw files
def _source_files(
    source: str, entries: list[Entry], sources_cfg: dict, raw_dir: Path, climate_product: str
) -> dict[str, RawFile]:
    spec = sources_cfg[source]
    files = spec["files"]
    out: dict[str, RawFile] = {}
    if source == "wdi" or any("{code}" in f["path"] for f in files.values()):
        (fkey, f), = files.items()
        for e in entries:
            code = e.provider_code(climate_product)
            out[code] = RawFile(source, code, raw_dir / f["path"].format(code=code),
                                f["url"].format(code=code), (f.get("sha256_by_code") or {}).get(code))
        return out
    wanted = {e.provider_code(climate_product) for e in entries}
    for key, f in files.items():
        if source == "climate_gadm0" and key not in wanted:
            continue
        out[key] = RawFile(source, key, raw_dir / f["path"], f["url"], f.get("sha256"))
    return out


def required_files(study: dict, catalogue: Catalogue, sources_cfg: dict, raw_dir: str | Path) -> list[RawFile]:
    """Every raw file a study reads (for the workflow's inputs and the provenance)."""
    by_source = _raw_entries_by_source(study, catalogue)
    files: list[RawFile] = []
    for source, entries in by_source.items():
        if source == "csv":
            files += [RawFile("csv", e.id, Path(e.path), "user file") for e in entries]
        else:
            files += list(_source_files(source, entries, sources_cfg, Path(raw_dir),
                                        study.get("climate_product", "cru")).values())
    return files


def _raw_entries_by_source(study: dict, catalogue: Catalogue) -> dict[str, list[Entry]]:
    ids = list(study_indicators(study))
    by_source: dict[str, list[Entry]] = {}
    for e in catalogue.raw_needed(ids):
        by_source.setdefault(e.source, []).append(e)
    return by_source


# --------------------------------------------------------------------------- reading
def read_raw(
    study: dict,
    catalogue: Catalogue,
    sources_cfg: dict,
    registry: UnitRegistry,
    raw_dir: str | Path,
    log: DropLog,
) -> tuple[pd.DataFrame, list[RawFile]]:
    """Read all raw indicators of a study as one tidy table with catalogue ids as indicators."""
    y0, y1 = study["years"]
    product = study.get("climate_product", "cru")
    frames: list[pd.DataFrame] = []
    used: list[RawFile] = []
    for source, entries in _raw_entries_by_source(study, catalogue).items():
        if source == "csv":
            reader = get_reader("csv_user")
            for e in entries:
                rf = RawFile("csv", e.id, Path(e.path), "user file")
                if not rf.path.exists():
                    raise RawFileError(rf.path, None, f"the CSV named by catalogue entry '{e.id}'")
                df = reader({"data": rf.path}, registry, log, indicator=e.id, measure=e.measure, level=e.level)
                frames.append(df.assign(indicator=e.id))
                used.append(rf)
            continue
        files = _source_files(source, entries, sources_cfg, Path(raw_dir), product)
        for rf in files.values():
            if not rf.path.exists():
                raise RawFileError(
                    rf.path, None,
                    f"the raw file of source '{source}' (provider URL {rf.url}); set snapshot_dir to a "
                    "folder that holds it, or run online so that it is downloaded",
                )
        options: dict = {}
        if source == "climate_gadm0":
            options["indicators"] = [
                {"name": e.id, "code": e.provider_code(product), "months": e.months, "how": e.how}
                for e in entries
            ]
        if source == "mining_licences":
            options["years"] = list(range(y0 - LEAD_YEARS, y1 + 1))
        reader = get_reader(sources_cfg[source]["reader"])
        df = reader({k: rf.path for k, rf in files.items()}, registry, log, **options)
        used += list(files.values())
        if source == "climate_gadm0":
            frames.append(df)
            continue
        code_to_ids: dict[str, list[str]] = {}
        for e in entries:
            code_to_ids.setdefault(e.provider_code(product), []).append(e.id)
        missing_codes = sorted(set(code_to_ids) - set(df["indicator"].unique()))
        if missing_codes:
            raise RawFileError(
                ", ".join(str(rf.path) for rf in files.values()), "indicator",
                f"the provider codes the catalogue names for source '{source}'", missing_codes,
            )
        for code, ids in code_to_ids.items():
            part = df[df["indicator"] == code]
            for iid in ids:
                frames.append(part.assign(indicator=iid))
    tidy = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["unit", "year", "indicator", "value", "measure", "source"])
    return tidy, used


# --------------------------------------------------------------------------- gaps
def interpolate_gaps(wide: pd.DataFrame, columns: list[str], max_gap: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Linear interpolation of interior gaps of at most ``max_gap`` years, per unit.

    Returns the filled panel and a boolean frame (same shape as ``columns``) marking filled cells.
    Leading and trailing gaps, and longer interior gaps, stay missing.
    """
    flags = pd.DataFrame(False, index=wide.index, columns=columns)
    if max_gap <= 0:
        return wide, flags
    out = wide.copy()
    for _unit, idx in wide.groupby("unit").groups.items():
        sub = wide.loc[idx].sort_values("year")
        for c in columns:
            s = sub[c].astype(float)
            isna = s.isna().to_numpy()
            if not isna.any() or isna.all():
                continue
            run_id = np.cumsum(~isna)
            filled = s.interpolate(method="linear", limit_area="inside")
            for r in np.unique(run_id[isna]):
                mask = isna & (run_id == r)
                if mask.sum() > max_gap:
                    filled.iloc[np.where(mask)[0]] = np.nan
            newly = isna & filled.notna().to_numpy()
            out.loc[sub.index, c] = filled.to_numpy()
            flags.loc[sub.index[newly], c] = True
    return out, flags


# --------------------------------------------------------------------------- building
def build_panel(
    study: dict,
    catalogue: Catalogue,
    sources_cfg: dict,
    registry: UnitRegistry,
    raw_dir: str | Path,
) -> PanelResult:
    """Build one study's panel. See the module docstring."""
    log = DropLog()
    units = list(study["units"])
    y0, y1 = study["years"]
    roles = study_indicators(study)
    order = catalogue.closure(list(roles))
    tidy, used = read_raw(study, catalogue, sources_cfg, registry, raw_dir, log)

    # keep study units; count the rest per source
    outside = ~tidy["unit"].isin(units)
    for src, n in tidy[outside].groupby("source").size().items():
        log.add(str(src), "-", "unit not in study", int(n))
    tidy = tidy[~outside]

    # time-invariant attributes are broadcast over the years
    static = tidy[tidy["year"].isna()]
    timed = tidy[tidy["year"].notna()].copy()
    timed["year"] = timed["year"].astype(int)
    lo = y0 - LEAD_YEARS
    out_of_range = (timed["year"] < lo) | (timed["year"] > y1)
    for src, n in timed[out_of_range].groupby("source").size().items():
        log.add(str(src), "-", f"year outside {lo}-{y1}", int(n))
    timed = timed[~out_of_range]

    grid = pd.MultiIndex.from_product([units, range(lo, y1 + 1)], names=PANEL_KEYS).to_frame(index=False)
    wide = timed.pivot_table(index=["unit", "year"], columns="indicator", values="value", aggfunc="first")
    wide = grid.merge(wide.reset_index(), on=PANEL_KEYS, how="left")
    for iid, g in static.groupby("indicator"):
        vals = g.set_index("unit")["value"]
        wide[iid] = wide["unit"].map(vals).astype(float)
    raw_ids = [i for i in order if not catalogue.entries[i].derived]
    for iid in raw_ids:
        if iid not in wide.columns:
            wide[iid] = np.nan
    wide = wide.sort_values(PANEL_KEYS).reset_index(drop=True)
    observed = wide[raw_ids].notna()

    max_gap = int((study.get("interpolate") or {}).get("max_gap", 0))
    wide, interp = interpolate_gaps(wide, raw_ids, max_gap)

    zero_filled: dict[str, int] = {}
    for iid in order:
        e = catalogue.entries[iid]
        if not e.derived:
            continue
        vals, nfill = evaluate(parse_formula(e.formula), wide)
        wide[iid] = vals
        deps = [d for d in catalogue.dependencies(iid) if d in interp.columns]
        interp[iid] = interp[deps].any(axis=1) if deps else False
        observed[iid] = wide[iid].notna() & ~interp[iid]
        if nfill:
            zero_filled[iid] = nfill

    keep = (wide["year"] >= y0) & (wide["year"] <= y1)
    cols = list(roles)
    panel = wide.loc[keep, PANEL_KEYS + cols].reset_index(drop=True)
    panel["year"] = panel["year"].astype(int)
    flags_interp = interp.loc[keep, cols].reset_index(drop=True)

    coverage = coverage_table(panel, flags_interp, roles, registry, zero_filled)
    dictionary = data_dictionary(roles, catalogue, sources_cfg, study)
    return PanelResult(panel=panel, dictionary=dictionary, coverage=coverage, drops=log.frame(), files=used)


def coverage_table(
    panel: pd.DataFrame,
    interpolated: pd.DataFrame,
    roles: dict[str, str],
    registry: UnitRegistry,
    zero_filled: dict[str, int] | None = None,
) -> pd.DataFrame:
    """One row per unit, indicator and year: observed, interpolated or missing."""
    long = panel.melt(id_vars=PANEL_KEYS, var_name="indicator", value_name="value")
    flags = pd.concat([panel[PANEL_KEYS], interpolated], axis=1).melt(
        id_vars=PANEL_KEYS, var_name="indicator", value_name="interpolated")
    long = long.merge(flags, on=PANEL_KEYS + ["indicator"])
    long["status"] = np.where(long["value"].isna(), "missing",
                              np.where(long["interpolated"].astype(bool), "interpolated", "observed"))
    long["role"] = long["indicator"].map(roles)
    long["unit_name"] = long["unit"].map(registry.name)
    long["note"] = ""
    for iid, n in (zero_filled or {}).items():
        long.loc[long["indicator"] == iid, "note"] = (
            f"formula filled {n} missing species value(s) with 0 across the read years (zero_if_missing)")
    return long[["unit", "unit_name", "indicator", "role", "year", "status", "note"]]


def coverage_summary(coverage: pd.DataFrame) -> pd.DataFrame:
    """Per unit and indicator: years observed, interpolated, missing, first and last observed year."""
    g = coverage.groupby(["unit", "unit_name", "indicator", "role"], sort=False)
    out = g["status"].value_counts().unstack(fill_value=0)
    for c in ("observed", "interpolated", "missing"):
        if c not in out:
            out[c] = 0
    present = coverage[coverage["status"] != "missing"].groupby(["unit", "indicator"])["year"]
    out = out.reset_index()
    first = present.min().rename("first_year").reset_index()
    last = present.max().rename("last_year").reset_index()
    out = out.merge(first, on=["unit", "indicator"], how="left").merge(last, on=["unit", "indicator"], how="left")
    return out[["unit", "unit_name", "indicator", "role", "observed", "interpolated", "missing", "first_year", "last_year"]]


def data_dictionary(roles: dict[str, str], catalogue: Catalogue, sources_cfg: dict, study: dict) -> pd.DataFrame:
    """One row per panel indicator: role, domain, measure, source, provider URL, licence, formula."""
    rows = []
    product = study.get("climate_product", "cru")
    for iid, role in roles.items():
        e = catalogue.entries[iid]
        if e.derived:
            raw = [catalogue.entries[d] for d in catalogue.closure([iid]) if not catalogue.entries[d].derived]
            srcs = sorted({r.source for r in raw})
        else:
            raw, srcs = [e], [e.source]
        provider = "; ".join(sources_cfg.get(s, {}).get("provider", s) for s in srcs)
        urls = "; ".join(sources_cfg.get(s, {}).get("homepage", "") for s in srcs)
        lic = "; ".join(sorted({str(sources_cfg.get(s, {}).get("licence", "")) for s in srcs}))
        code = "" if e.derived else (e.provider_code(product) or "")
        agg = f"{e.how} of months {e.months}" if e.months else ""
        rows.append({
            "indicator": iid, "role": role, "domain": e.domain, "label": e.label, "measure": e.measure,
            "source": "; ".join(srcs), "provider": provider, "provider_code": code, "provider_url": urls,
            "licence": lic, "aggregation": agg, "formula": e.formula or "", "note": e.note,
            "better": e.better,
        })
    return pd.DataFrame(rows)


def check_study_sources(study: dict, catalogue: Catalogue, sources_cfg: dict) -> None:
    """Every source a study needs is declared in sources.yaml (a config error otherwise)."""
    for source in _raw_entries_by_source(study, catalogue):
        if source != "csv" and source not in sources_cfg:
            raise ConfigError("sources", source, "a source declared in config/sources.yaml")
