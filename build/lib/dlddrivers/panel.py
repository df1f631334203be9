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
from .retrieve import check_code, confined_path
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
    #: the sources.yaml key that records ``sha256`` (to refresh it deliberately)
    record_key: str = ""


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
            check_code(code, f"indicators.{e.id}.code")
            rel = confined_path(f["path"].format(code=code), f"sources.{source}.files.{fkey}.path")
            out[code] = RawFile(source, code, raw_dir / rel,
                                f["url"].format(code=code), (f.get("sha256_by_code") or {}).get(code),
                                f"sources.{source}.files.{fkey}.sha256_by_code.{code}")
        return out
    wanted = {e.provider_code(climate_product) for e in entries}
    for key, f in files.items():
        if source == "climate_gadm0" and key not in wanted:
            continue
        rel = confined_path(f["path"], f"sources.{source}.files.{key}.path")
        out[key] = RawFile(source, key, raw_dir / rel, f["url"], f.get("sha256"),
                           f"sources.{source}.files.{key}.sha256")
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
    return [f for f in files if _wanted_cell_size(f, study, sources_cfg)]


def _wanted_cell_size(f: RawFile, study: dict, sources_cfg: dict) -> bool:
    """Grid sources hold one file per cell size (``cell_km``): keep a grid study's sizes only."""
    if not study.get("grid_sizes_km"):
        return True
    km = (sources_cfg.get(f.source, {}).get("files", {}).get(f.key) or {}).get("cell_km")
    return km is None or km in set(study["grid_sizes_km"])


def _raw_entries_by_source(study: dict, catalogue: Catalogue) -> dict[str, list[Entry]]:
    ids = list(study_indicators(study))
    by_source: dict[str, list[Entry]] = {}
    for e in catalogue.raw_needed(ids):
        by_source.setdefault(e.source, []).append(e)
    return by_source


def lead_years(catalogue: Catalogue, order: list[str]) -> int:
    """Years read before a study's first year: at least :data:`LEAD_YEARS`, and the longest
    chain of lags in the study's formulas, so that lagged values exist at the first year."""
    from .derived import lag_orders

    total: dict[str, int] = {}
    for iid in order:  # dependency order: dependencies first
        e = catalogue.entries[iid]
        if not e.derived:
            total[iid] = 0
            continue
        lags = lag_orders(parse_formula(e.formula))
        total[iid] = max((total.get(d, 0) + lags.get(d, 0) for d in catalogue.dependencies(iid)), default=0)
    return max([LEAD_YEARS, *total.values()])


# --------------------------------------------------------------------------- reading
def read_raw(
    study: dict,
    catalogue: Catalogue,
    sources_cfg: dict,
    registry: UnitRegistry,
    raw_dir: str | Path,
    log: DropLog,
    lead: int = LEAD_YEARS,
) -> tuple[pd.DataFrame, list[RawFile]]:
    """Read all raw indicators of a study as one tidy table with catalogue ids as indicators.

    Every value is checked against its catalogue entry's plausible range and sentinels
    (:func:`check_plausible`, the study's ``on_implausible`` policy).
    """
    y0, y1 = study["years"]
    policy = study.get("on_implausible", "error")
    scope = (list(study["units"]), (y0 - LEAD_YEARS, y1))
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
                frames.append(check_plausible(df.assign(indicator=e.id), e, str(rf.path), policy, log, *scope))
                used.append(rf)
            continue
        files = _source_files(source, entries, sources_cfg, Path(raw_dir), product)
        files = {k: f for k, f in files.items() if _wanted_cell_size(f, study, sources_cfg)}
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
            options["on_implausible"] = policy
        if source == "mining_licences":
            options["years"] = list(range(y0 - lead, y1 + 1))
        reader = get_reader(sources_cfg[source]["reader"])
        df = reader({k: rf.path for k, rf in files.items()}, registry, log, **options)
        used += list(files.values())
        if source == "climate_gadm0":
            for e in entries:
                part = df[df["indicator"] == e.id]
                rf = files[e.provider_code(product)]
                frames.append(check_plausible(part, e, str(rf.path), policy, log, *scope))
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
            where = _file_of(code, files)
            for iid in ids:
                frames.append(check_plausible(part.assign(indicator=iid), catalogue.entries[iid], where,
                                              policy, log, *scope))
    tidy = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["unit", "year", "indicator", "value", "measure", "source"])
    return tidy, used


def _file_of(code: str, files: dict[str, RawFile]) -> str:
    """The file a provider code is read from (all files of the source when it is not one)."""
    if code in files:
        return str(files[code].path)
    hits = [rf for k, rf in files.items() if code.endswith(k)]
    if len(hits) == 1 or len(files) == 1:
        return str((hits or list(files.values()))[0].path)
    return ", ".join(str(rf.path) for rf in files.values())


IMPLAUSIBLE = "implausible value (outside the catalogue's valid range, or a sentinel)"


def check_plausible(df: pd.DataFrame, entry: Entry, file: str, policy: str, log: DropLog,
                    units: list[str] | None = None, years: tuple[int, int] | None = None) -> pd.DataFrame:
    """``df`` (tidy rows of one indicator) without implausible values, or an error.

    A value outside ``[valid_min, valid_max]`` of ``entry`` or equal to one of its sentinels
    raises :class:`~dlddrivers.errors.RawFileError` naming the file, the indicator, its unit,
    the unit and year, the value and the expected range (``policy="error"``), or is removed
    and counted in ``log`` with the file and each unit, year and value (``policy="drop"``).
    Only rows of ``units`` and of years in ``years`` (inclusive; time-invariant rows always)
    are checked: the others never reach the panel (and are counted as such).
    """
    bad = entry.implausible(df["value"])
    if units is not None:
        bad &= df["unit"].isin(units)
    if years is not None:
        y = pd.to_numeric(df["year"], errors="coerce")
        bad &= y.isna() | ((y >= years[0]) & (y <= years[1]))
    if not bad.any():
        return df
    rows = df.loc[bad]
    cells = [f"{u} {'' if pd.isna(y) else int(y)}: {float(v)!r}".replace(" :", ":")
             for u, y, v in zip(rows["unit"], rows["year"], rows["value"], strict=True)]
    if policy != "drop":
        first = rows.iloc[0]
        year = "" if pd.isna(first["year"]) else f", year {int(first['year'])}"
        raise RawFileError(
            file, entry.id,
            f"a plausible {entry.label} in {entry.valid_range_text()} and not a sentinel "
            f"{list(entry.sentinels)} (catalogue indicators.{entry.id}.valid_min/valid_max/sentinels; "
            "a study may set on_implausible: drop to count such values in drops.csv instead)",
            f"{float(first['value'])!r} for unit {first['unit']}{year}"
            + (f" ({len(rows)} implausible values: {'; '.join(cells[:5])})" if len(rows) > 1 else ""),
        )
    log.add(str(rows["source"].iloc[0]) if "source" in rows else entry.id, file,
            f"{IMPLAUSIBLE}: {entry.id} {entry.valid_range_text()}", len(rows), "; ".join(cells[:30]) + (f"; ... ({len(cells) - 30} more)" if len(cells) > 30 else ""))
    return df.loc[~bad]


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
    if study.get("level") == "grid":
        raise ConfigError(f"studies.{study.get('name')}.level", "grid",
                          "a panel study (country or aimag): a grid study has no unit-year panel; "
                          "its cells are built by dlddrivers.grid.build_cells (rule grid_data)")
    log = DropLog()
    units = list(study["units"])
    y0, y1 = study["years"]
    roles = study_indicators(study)
    order = catalogue.closure(list(roles))
    lead = lead_years(catalogue, order)
    tidy, used = read_raw(study, catalogue, sources_cfg, registry, raw_dir, log, lead=lead)

    # keep study units; count the rest per source
    outside = ~tidy["unit"].isin(units)
    for src, n in tidy[outside].groupby("source").size().items():
        log.add(str(src), "-", "unit not in study", int(n))
    tidy = tidy[~outside]

    # time-invariant attributes are broadcast over the years
    static = tidy[tidy["year"].isna()]
    timed = tidy[tidy["year"].notna()].copy()
    timed["year"] = timed["year"].astype(int)
    lo = y0 - lead
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
        wide[iid] = _check_derived(vals, wide, e, catalogue, used, study.get("on_implausible", "error"), log,
                                  study.get("climate_product", "cru"))
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


def _check_derived(vals: pd.Series, wide: pd.DataFrame, e: Entry, catalogue: Catalogue,
                   used: list[RawFile], policy: str, log: DropLog, product: str = "cru") -> pd.Series:
    """A derived indicator's values checked against its plausible range after derivation.

    An implausible value raises (naming the indicator, formula, inputs and the raw files they
    come from) or, under ``policy="drop"``, becomes missing and is counted in ``log``.
    """
    bad = e.implausible(pd.Series(vals, index=wide.index))
    if not bad.any():
        return vals
    raw = [catalogue.entries[d] for d in catalogue.closure([e.id]) if not catalogue.entries[d].derived]
    files = sorted({_file_of(r.provider_code(product) or r.id,
                             {rf.key: rf for rf in used if rf.source == r.source})
                    for r in raw if any(rf.source == r.source for rf in used)})
    rows = wide.loc[bad]
    cells = [f"{u} {int(y)}: {float(v)!r}" for u, y, v in zip(rows["unit"], rows["year"], vals[bad], strict=True)]
    if policy != "drop":
        first = rows.index[0]
        inputs = ", ".join(f"{d}={float(wide.loc[first, d])!r}" for d in sorted(catalogue.dependencies(e.id))
                           if d in wide.columns)
        raise RawFileError(
            "; ".join(files) or "derived", e.id,
            f"a plausible {e.label} in {e.valid_range_text()} after derivation by "
            f"'{e.formula}' (catalogue indicators.{e.id}.valid_min/valid_max; or on_implausible: drop)",
            f"{float(vals[bad].iloc[0])!r} for unit {wide.loc[first, 'unit']}, year "
            f"{int(wide.loc[first, 'year'])} from {inputs}"
            + (f" ({len(rows)} implausible values: {'; '.join(cells[:5])})" if len(rows) > 1 else ""),
        )
    log.add("derived", "; ".join(Path(f).name for f in files) or "-",
            f"{IMPLAUSIBLE}: {e.id} {e.valid_range_text()}", len(rows), "; ".join(cells[:30]) + (f"; ... ({len(cells) - 30} more)" if len(cells) > 30 else ""))
    out = pd.Series(vals, index=wide.index).copy()
    out[bad] = np.nan
    return out


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
            "better": e.better, "caveat": e.caveat,
        })
    return pd.DataFrame(rows)


def check_study_sources(study: dict, catalogue: Catalogue, sources_cfg: dict) -> None:
    """Every source a study needs is declared in sources.yaml (a config error otherwise)."""
    for source in _raw_entries_by_source(study, catalogue):
        if source != "csv" and source not in sources_cfg:
            raise ConfigError("sources", source, "a source declared in config/sources.yaml")


def check_support(study: dict, panel: pd.DataFrame) -> list[str]:
    """Does the study's period and unit list hold data for what it analyses?

    Errors (:class:`~dlddrivers.errors.ConfigError`, naming the study key and value):

    * an outcome, impact or driver with no observation in the study's years;
    * a unit with no observation of any outcome or impact, or of some driver, in those years
      (every model would drop it by listwise deletion, without a word).

    Returns warnings (text) for an outcome, impact or driver observed only in part of the
    period, naming the years it covers.
    """
    name = study.get("name", "?")
    y0, y1 = study["years"]
    warnings: list[str] = []
    targets = list(study.get("outcomes") or []) + list(study.get("impacts") or [])
    analysed = [("outcome", i) for i in study.get("outcomes") or []] + [
        ("impact", i) for i in study.get("impacts") or []] + [("driver", i) for i in study.get("drivers") or []]
    for role, ind in analysed:
        if ind not in panel.columns:
            continue
        obs = panel.loc[panel[ind].notna(), "year"]
        if obs.empty:
            raise ConfigError(
                f"studies.{name}.years", [y0, y1],
                f"a period in which {role} '{ind}' has observations (it has none in {y0}-{y1} "
                "for the study's units); change the years or remove the indicator")
        first, last = int(obs.min()), int(obs.max())
        if first > y0 or last < y1:
            warnings.append(f"study {name}: {role} '{ind}' is observed only in {first}-{last} "
                            f"of the study period {y0}-{y1}")
    for i, unit in enumerate(study["units"]):
        rows = panel[panel["unit"] == unit]
        if targets and not rows[[t for t in targets if t in rows]].notna().any().any():
            raise ConfigError(
                f"studies.{name}.units[{i}]", unit,
                f"a unit with observations of an outcome or impact ({', '.join(targets)}) in "
                f"{y0}-{y1}; it has none in the raw files")
        for d in study.get("drivers") or []:
            if d in rows and not rows[d].notna().any():
                raise ConfigError(
                    f"studies.{name}.units[{i}]", unit,
                    f"a unit with observations of driver '{d}' in {y0}-{y1} (it has none, so "
                    "every model would drop the unit); remove the unit or the driver")
    return warnings
