"""Monthly country-mean climate (CRU TS, ERA5, SPEIbase; Gortan et al. 2024) and its annual aggregates.

Files are wide gzip CSVs: ``Date`` (``XYYYYMM``, e.g. ``X190101``) then one column per GADM
level-0 ISO3 code (plus GADM pseudo-codes). This module is the one place where monthly climate
becomes annual or seasonal values:

* :func:`read_monthly` -> the ``MONTHLY`` contract (one row per unit, year, month, product);
* :func:`aggregate_months` -> one TIDY value per unit and year from given calendar months
  (sum or mean); a year with a requested month missing is NaN unless ``min_months`` allows
  fewer months for a mean: a partial sum is never passed off as complete;
* :func:`read` -> the TIDY table of all aggregates requested in the catalogue.

Country means are unweighted over the whole territory (Russia is mostly Siberia).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from ..contracts import MONTHLY, tidy
from ..errors import ConfigError, RawFileError
from ..units import UnitRegistry
from . import DropLog
from ._common import NOT_IN_REGISTRY, file_path, log_counts, numeric, read_csv, require_columns

SOURCE = "climate_gadm0"
EMPTY_REASON = "all-empty column"

#: product (file key) -> unit of the monthly values
INDICATORS: dict[str, str] = {
    "cru_pre": "mm/month",
    "cru_tmp": "°C",
    "era_pre": "mm/month",
    "era_tmp": "°C",
    "spei_spei": "dimensionless (SPEI-1)",
}

#: product -> plausible range of one monthly value (checked before aggregation, so that a
#: sentinel or a wild month cannot hide inside an annual sum or mean)
MONTHLY_VALID: dict[str, tuple[float, float]] = {
    "cru_pre": (0.0, 3000.0),
    "cru_tmp": (-90.0, 60.0),
    "era_pre": (0.0, 3000.0),
    "era_tmp": (-90.0, 60.0),
    "spei_spei": (-10.0, 10.0),
}
#: values providers use for "missing"
SENTINELS = (-999.0, -9999.0, -99999.0)
IMPLAUSIBLE_REASON = "implausible monthly value (outside the product's range, or a sentinel)"

MONTHLY_COLUMNS = ["unit", "year", "month", "indicator", "value", "measure", "source"]
HOW = ("sum", "mean")


# --------------------------------------------------------------------------- monthly
def parse_dates(dates: pd.Series, path: Path) -> tuple[pd.Series, pd.Series]:
    """Year and month of ``XYYYYMM`` strings; anything else raises naming the ``Date`` field."""
    parts = dates.astype(str).str.strip().str.extract(r"^X(\d{4})(\d{2})$")
    year = pd.to_numeric(parts[0], errors="coerce")
    month = pd.to_numeric(parts[1], errors="coerce")
    bad = year.isna() | month.isna() | ~month.between(1, 12)
    if bad.any():
        raise RawFileError(path, "Date", "a month as 'XYYYYMM' (e.g. 'X190101')", dates[bad].iloc[0])
    dup = pd.Series(list(zip(year, month, strict=True))).duplicated()
    if dup.any():
        raise RawFileError(path, "Date", "each month once", dates[dup.to_numpy()].iloc[0])
    return year.astype(int), month.astype(int)


def check_monthly(out: pd.DataFrame, code: str, path: Path, log: DropLog, policy: str = "error") -> pd.DataFrame:
    """Monthly values of product ``code`` checked against :data:`MONTHLY_VALID` and
    :data:`SENTINELS`: an implausible value raises :class:`RawFileError` naming the file, the
    country column, the month and the value (``policy="error"``), or becomes missing and is
    counted in ``log`` (``"drop"``; the year's aggregate is then missing too)."""
    lo, hi = MONTHLY_VALID[code]
    v = out["value"]
    bad = v.notna() & ((v < lo) | (v > hi) | v.isin(SENTINELS))
    if not bad.any():
        return out
    rows = out.loc[bad]
    cells = [f"{u} {y}-{m:02d}: {float(x)!r}" for u, y, m, x in
             zip(rows["unit"], rows["year"], rows["month"], rows["value"], strict=True)]
    if policy != "drop":
        raise RawFileError(path, code, f"monthly values in [{lo:g}, {hi:g}] {INDICATORS[code]} and no "
                           f"sentinel {list(SENTINELS)} (or on_implausible: drop)",
                           f"{len(rows)} implausible: " + "; ".join(cells[:5]))
    log.add(SOURCE, path, f"{IMPLAUSIBLE_REASON}: {code} [{lo:g}, {hi:g}]", len(rows), "; ".join(cells[:30]) + (f"; ... ({len(cells) - 30} more)" if len(cells) > 30 else ""))
    out = out.copy()
    out.loc[bad, "value"] = float("nan")
    return out


def read_product(code: str, path: Path, registry: UnitRegistry, log: DropLog,
                 on_implausible: str = "error") -> pd.DataFrame:
    """One wide monthly file as long MONTHLY rows for the registry countries.

    Columns that are entirely empty are skipped and counted (reason "all-empty column", one
    row per month of the column); other columns whose code is not a registry country are
    counted by their non-empty cells (reason "not in unit registry"). Missing months of a kept
    country stay as rows with a NaN value, so that aggregation sees them.
    """
    path = Path(path)
    raw = read_csv(path, keep_default_na=False, na_values=[""], dtype={"Date": str})
    require_columns(raw, ["Date"], path)
    year, month = parse_dates(raw["Date"], path)
    columns = [c for c in raw.columns if c != "Date"]
    nonempty = raw[columns].notna().sum()
    empty = [c for c in columns if nonempty[c] == 0]
    log_counts(log, SOURCE, path, EMPTY_REASON, pd.Series(len(raw), index=empty, dtype=int))
    ids = {c: registry.by_code("iso3", c) for c in columns if c not in set(empty)}
    outside = [c for c, uid in ids.items() if uid is None]
    log_counts(log, SOURCE, path, NOT_IN_REGISTRY, nonempty[outside])
    kept = {c: uid for c, uid in ids.items() if uid is not None}
    if len(set(kept.values())) != len(kept):
        raise RawFileError(path, "columns", "one column per country", sorted(kept))
    frames = []
    for col, uid in kept.items():
        frames.append(pd.DataFrame({"unit": uid, "year": year.to_numpy(), "month": month.to_numpy(),
                                    "value": numeric(raw[col], path, col).to_numpy()}))
    if not frames:
        return pd.DataFrame(columns=MONTHLY_COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    out["indicator"] = code
    out["measure"] = INDICATORS[code]
    out["source"] = SOURCE
    return check_monthly(out[MONTHLY_COLUMNS], code, path, log, on_implausible)


def read_monthly(files: Mapping[str, Path], registry: UnitRegistry, log: DropLog,
                 products: Iterable[str] | None = None, on_implausible: str = "error") -> pd.DataFrame:
    """Monthly climate of the registry countries in the ``MONTHLY`` contract.

    ``files`` maps product keys (``cru_pre``, ``cru_tmp``, ``era_pre``, ``era_tmp``,
    ``spei_spei``) to their gzip CSVs; ``products`` restricts the products read (default: every
    key of ``files``). ``indicator`` is the product key; ``measure`` its monthly unit.
    """
    wanted = list(files) if products is None else list(dict.fromkeys(products))
    parts = []
    for code in wanted:
        if code not in INDICATORS:
            raise ConfigError("products", code, f"one of {sorted(INDICATORS)}")
        parts.append(read_product(code, file_path(files, code, SOURCE), registry, log, on_implausible))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=MONTHLY_COLUMNS)
    try:
        return MONTHLY.validate(out)
    except (pa.errors.SchemaError, pa.errors.SchemaErrors) as exc:  # pragma: no cover - message path
        raise RawFileError(SOURCE, None, "rows that satisfy the monthly contract", str(exc)[:500]) from exc


# --------------------------------------------------------------------------- aggregation
def months_label(months: Sequence[int]) -> str:
    """``[4, 5, 6, 7, 8, 9]`` -> ``"Apr-Sep"``; non-contiguous months are listed (``"Jan, Jul"``)."""
    ms = sorted(months)
    names = [calendar.month_abbr[m] for m in ms]
    if len(ms) > 2 and ms == list(range(ms[0], ms[-1] + 1)):
        return f"{names[0]}-{names[-1]}"
    return ", ".join(names)


def aggregate_measure(measure: str, months: Sequence[int], how: str, min_months: int | None) -> str:
    """The measure of an aggregate: ``"mm/month"`` summed over 12 months -> ``"mm/yr"``, etc."""
    full = len(set(months)) == 12
    if how == "sum":
        base = measure[: -len("/month")]
        out = f"{base}/yr" if full else f"{base} (sum {months_label(months)})"
    else:
        what = "annual mean" if full else f"mean {months_label(months)}"
        out = f"{measure[:-1]}, {what})" if measure.endswith(")") else f"{measure} ({what})"
    if min_months is not None and min_months < len(set(months)):
        out += f" [>= {min_months} of {len(set(months))} months]"
    return out


def aggregate_months(monthly: pd.DataFrame, months: list[int], how: str, *,
                     min_months: int | None = None, name: str) -> pd.DataFrame:
    """One value per unit and year from the calendar ``months`` of one monthly product (TIDY).

    ``how`` is ``"sum"`` (fluxes per month, e.g. mm/month -> mm/yr) or ``"mean"``. A year
    needs every requested month with a value, else its value is NaN; ``min_months`` lowers
    that requirement for means only (a sum over fewer months would be a partial sum passed off
    as complete). Every unit-year present in ``monthly`` gets a row. Months are calendar
    months of the same year (no December-of-previous-year seasons). ``name`` is the indicator.
    """
    ms = sorted(set(int(m) for m in months))
    if not ms or any(m < 1 or m > 12 for m in ms) or len(ms) != len(months):
        raise ConfigError("months", months, "distinct calendar months 1..12, at least one")
    if how not in HOW:
        raise ConfigError("how", how, "'sum' or 'mean'")
    required = len(ms) if min_months is None else int(min_months)
    if not 1 <= required <= len(ms):
        raise ConfigError("min_months", min_months, f"an integer between 1 and {len(ms)}")
    if how == "sum" and required < len(ms):
        raise ConfigError("min_months", min_months,
                          f"None (a sum needs all {len(ms)} months; use how='mean' for fewer)")
    require_columns(monthly, ["unit", "year", "month", "indicator", "value", "measure", "source"],
                    Path("<monthly frame>"))
    indicators = monthly["indicator"].unique()
    measures = monthly["measure"].unique()
    if len(indicators) > 1 or len(measures) > 1:
        raise ConfigError("monthly", sorted(map(str, indicators)), "the rows of one monthly product")
    if monthly.duplicated(["unit", "year", "month"]).any():
        raise ConfigError("monthly", "duplicate unit-year-month rows", "one row per unit, year, month")
    measure = str(measures[0]) if len(measures) else "?"
    if how == "sum" and not measure.endswith("/month"):
        raise ConfigError("how", how, f"'mean' for a non-flux measure ({measure!r})")
    source = str(monthly["source"].iloc[0]) if len(monthly) else SOURCE

    keys = monthly[["unit", "year"]].drop_duplicates()
    sub = monthly.loc[monthly["month"].isin(ms) & monthly["value"].notna(), ["unit", "year", "value"]]
    stats = sub.groupby(["unit", "year"])["value"].agg(["sum", "mean", "count"]).reset_index()
    out = keys.merge(stats, on=["unit", "year"], how="left")
    complete = out["count"].fillna(0) >= required
    out["value"] = out[how].where(complete)
    out["indicator"] = name
    out["measure"] = aggregate_measure(measure, ms, how, min_months)
    out["source"] = source
    out["year"] = out["year"].astype("Int64")
    out = out.sort_values(["unit", "year"], kind="stable")
    return tidy(out, source=source)


# --------------------------------------------------------------------------- reader
def read(files: Mapping[str, Path], registry: UnitRegistry, log: DropLog, *,
         indicators: list[dict], on_implausible: str = "error", **options: object) -> pd.DataFrame:
    """All requested annual/seasonal climate aggregates in the TIDY contract.

    ``indicators`` lists dicts ``{"name": "pre_annual", "code": "cru_pre", "months": [1, ...,
    12], "how": "sum"}`` (optional ``"min_months"``); each becomes the TIDY indicator ``name``.
    Only the products named by a ``code`` are read. Monthly values are checked before
    aggregation (:func:`check_monthly`, policy ``on_implausible``).
    """
    specs = []
    for i, spec in enumerate(indicators):
        if not isinstance(spec, Mapping):
            raise ConfigError(f"indicators[{i}]", spec, "a mapping with name, code, months, how")
        for key in ("name", "code", "months", "how"):
            if key not in spec:
                raise ConfigError(f"indicators[{i}].{key}", None, "a value")
        if spec["code"] not in INDICATORS:
            raise ConfigError(f"indicators[{i}].code", spec["code"], f"one of {sorted(INDICATORS)}")
        specs.append(spec)
    names = [s["name"] for s in specs]
    if len(set(names)) != len(names):
        raise ConfigError("indicators[].name", names, "distinct names")
    monthly = read_monthly(files, registry, log, products=[s["code"] for s in specs],
                           on_implausible=on_implausible)
    parts = [
        aggregate_months(monthly.loc[monthly["indicator"] == s["code"]], list(s["months"]), s["how"],
                         min_months=s.get("min_months"), name=str(s["name"]))
        for s in specs
    ]
    if not parts:
        return tidy(pd.DataFrame(columns=["unit", "year", "indicator", "value", "measure", "source"]),
                    source=SOURCE)
    return tidy(pd.concat(parts, ignore_index=True), source=SOURCE)
