"""Mineral licences per aimag and year from the EITI Mongolia snapshot (Feb 2020) — a LOWER BOUND.

Files ``eiti1`` ... ``eiti4`` (``mongolia_mining_licences/eitimongolia-{1..4}.json``): each a JSON
array of ``{"cordinate": {...}, "array": n}``. Fields used inside ``cordinate``:

* ``LICENSE_NUMBER``: ``MV-...`` mining licence, ``XV-...`` exploration licence; 27 records
  carry Cyrillic ``ГТ...`` numbers (``ГТБХГ-23``: petroleum production-sharing contract blocks,
  mineral "Crude oil", areas up to ~1.4 million ha, one record per soum piece of a block);
* ``CODE``: 4-digit soum code whose first two digits are the NSO aimag code (``by_code("nso")``;
  an unknown code raises :class:`~dlddrivers.errors.UnknownUnitError`); code ``11`` is
  Ulaanbaatar (``MN11``), emitted like any unit;
* ``GIVEN_DATE``, ``EXPIRED_DATE`` (``YYYY-MM-DD``); records whose dates do not parse are kept
  in :func:`licence_table` with ``NaT`` and counted in the log, but left out of the yearly counts;
* ``AREA_M2``: despite its name the value is in **hectares** (``SOURCE.md``: 49.28 for a polygon
  of ~1.23 km x 0.40 km).

The four files hold 3,447 records of 3,439 unique licence numbers: repeated numbers (identical
records) are dropped and counted; if repeated records differed, the first is kept and the
difference is counted under its own reason.

Yearly indicators, for each aimag of Mongolia in the registry and each year of option ``years``
(default 1992..2020); a licence is **active in year y** if it was granted on or before 31 Dec y
and expires after 1 Jan y (``GIVEN_DATE <= y-12-31`` and ``EXPIRED_DATE > y-01-01``):

* ``licences_active_n``, ``licences_active_area_ha``: mineral licences (MV + XV);
* ``licences_mining_n`` (MV), ``licences_exploration_n`` (XV).

Petroleum contract blocks (``ГТ``) are not mineral licences: they are left out of these counts
and counted in the log, unless option ``include_petroleum=True`` (then they enter
``licences_active_n`` and ``licences_active_area_ha`` only).

**No values after the snapshot's latest grant.** The newest ``GIVEN_DATE`` in the files is
2018-12-28: licences granted later are unknown, so counts for 2019 on would fall by construction
(2018: 3,119 active; 2024: 1,525, only because nothing new is granted). Years after the year of
the latest ``GIVEN_DATE`` are not emitted (missing in the panel) and counted in the log; option
``last_year`` (default ``"auto"`` = that year; an int; or None for no cut-off) overrides this.

**Lower bound.** The snapshot holds only the licences listed by the portal in February 2020;
licences that expired or were revoked earlier are absent. Counts and areas for past years are
therefore survivor-biased lower bounds of the licences active then, and the bias grows going
back in time. (Oddly, 832 records already had an ``EXPIRED_DATE`` before Feb 2020, mostly
exploration licences; they are counted for the years in which they were active.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..contracts import tidy
from ..errors import ConfigError, RawFileError
from ..units import UnitRegistry
from . import DropLog
from ._common import read_json

SOURCE = "mining_licences"
FILE_KEYS = ("eiti1", "eiti2", "eiti3", "eiti4")
FIELDS = ("LICENSE_NUMBER", "CODE", "GIVEN_DATE", "EXPIRED_DATE", "AREA_M2")
DEFAULT_YEARS = tuple(range(1992, 2021))
_LB = "lower bound: only licences listed in the Feb 2020 EITI snapshot"
MEASURE_COUNT = f"licences ({_LB})"
MEASURE_AREA = f"ha ({_LB})"
INDICATORS: dict[str, str] = {
    "licences_active_n": MEASURE_COUNT,
    "licences_active_area_ha": MEASURE_AREA,
    "licences_mining_n": MEASURE_COUNT,
    "licences_exploration_n": MEASURE_COUNT,
}
#: licence-number prefix -> licence type
TYPES = {"MV": "mining", "XV": "exploration", "ГТ": "petroleum"}


def _records(path: Path) -> list[dict]:
    """The ``cordinate`` dicts of one EITI file (checked layout)."""
    data = read_json(path)
    if not isinstance(data, list):
        raise RawFileError(path, None, "a JSON array of {'cordinate': {...}}", type(data).__name__)
    out = []
    for i, rec in enumerate(data):
        c = rec.get("cordinate") if isinstance(rec, dict) else None
        if not isinstance(c, dict):
            raise RawFileError(path, "cordinate", "an object in every array element", f"element {i}")
        out.append(c)
    return out


def licence_table(files: Mapping[str, Path], registry: UnitRegistry, log: DropLog) -> pd.DataFrame:
    """One row per unique licence: ``unit, licence, type, given, expired, area_ha``.

    ``type`` is ``mining`` (MV), ``exploration`` (XV), ``petroleum`` (ГТ) or ``other``;
    ``given`` / ``expired`` are timestamps (``NaT`` if unparsable, counted in ``log``).
    """
    rows: list[tuple] = []
    for key in FILE_KEYS:
        path = Path(files[key])
        for i, c in enumerate(_records(path)):
            for f in FIELDS:
                if f not in c:
                    raise RawFileError(path, f, f"a field '{f}' in every record", f"record {i}")
            rows.append((path, i, *(c[f] for f in FIELDS)))
    df = pd.DataFrame(rows, columns=["file", "record", *FIELDS])

    # --- deduplicate by licence number
    num = df["LICENSE_NUMBER"].astype("string").str.strip()
    if num.isna().any() or (num == "").any():
        bad = df.loc[num.isna() | (num == "")].iloc[0]
        raise RawFileError(bad["file"], "LICENSE_NUMBER", "a licence number", f"record {bad['record']}")
    df["LICENSE_NUMBER"] = num
    dup = df.duplicated("LICENSE_NUMBER", keep="first")
    if dup.any():
        key_cols = ["CODE", "GIVEN_DATE", "EXPIRED_DATE", "AREA_M2"]
        differs = df.groupby("LICENSE_NUMBER")[key_cols].nunique(dropna=False).gt(1).any(axis=1)
        conflict = dup & df["LICENSE_NUMBER"].map(differs)
        for f, n in df.loc[dup & ~conflict, "file"].value_counts().items():
            log.add(SOURCE, f, "duplicate licence record (identical, dropped)", int(n))
        for f, grp in df.loc[conflict].groupby("file"):
            log.add(SOURCE, f, "duplicate licence number with differing fields (first kept)",
                    len(grp), ", ".join(grp["LICENSE_NUMBER"]))
        df = df.loc[~dup]

    # --- aimag from the soum code
    code = df["CODE"].astype("string").str.strip()
    bad_code = ~code.fillna("").str.fullmatch(r"\d{4}")
    if bad_code.any():
        bad = df.loc[bad_code].iloc[0]
        raise RawFileError(bad["file"], "CODE", "a 4-digit soum code", bad["CODE"])
    unit_of: dict[str, str] = {}
    for c2, first in df.assign(c2=code.str[:2]).groupby("c2")["file"].first().items():
        unit_of[c2] = registry.by_code("nso", c2, file=str(first), field="CODE (first two digits)",
                                       strict=True)
    unit = code.str[:2].map(unit_of)

    # --- area (hectares despite the field name)
    area = pd.to_numeric(df["AREA_M2"], errors="coerce")
    bad_area = area.isna() | (area < 0)
    if bad_area.any():
        bad = df.loc[bad_area].iloc[0]
        raise RawFileError(bad["file"], "AREA_M2", "a non-negative number (hectares)", bad["AREA_M2"])

    # --- dates
    given = pd.to_datetime(df["GIVEN_DATE"], format="%Y-%m-%d", errors="coerce")
    expired = pd.to_datetime(df["EXPIRED_DATE"], format="%Y-%m-%d", errors="coerce")
    bad_date = given.isna() | expired.isna()
    for f, grp in df.loc[bad_date].groupby("file"):
        log.add(SOURCE, f, "unparsable GIVEN_DATE or EXPIRED_DATE (left out of yearly counts)",
                len(grp), ", ".join(grp["LICENSE_NUMBER"]))

    prefix = df["LICENSE_NUMBER"].str[:2].str.upper()
    return pd.DataFrame({
        "unit": unit.to_numpy(),
        "licence": df["LICENSE_NUMBER"].to_numpy(),
        "type": prefix.map(TYPES).fillna("other").to_numpy(),
        "given": given.to_numpy(),
        "expired": expired.to_numpy(),
        "area_ha": area.astype(float).to_numpy(),
    })


def active_matrix(table: pd.DataFrame, years: Iterable[int]) -> np.ndarray:
    """Boolean (licence x year): granted on or before 31 Dec y and expiring after 1 Jan y."""
    yrs = np.asarray(list(years), dtype=int)
    ends = pd.to_datetime([f"{y}-12-31" for y in yrs]).to_numpy()
    starts = pd.to_datetime([f"{y}-01-01" for y in yrs]).to_numpy()
    g = table["given"].to_numpy()[:, None]
    e = table["expired"].to_numpy()[:, None]
    return (g <= ends[None, :]) & (e > starts[None, :])  # NaT compares False


def read(files: Mapping[str, Path], registry: UnitRegistry, log: DropLog, *,
         years: Iterable[int] | None = None, include_petroleum: bool = False,
         last_year: int | str | None = "auto", **options: object) -> pd.DataFrame:
    """Active licence counts and areas per aimag and year (tidy; lower bounds, see module doc).

    Years after ``last_year`` (``"auto"``: the year of the latest ``GIVEN_DATE`` in the files)
    are not emitted: later grants are not in the snapshot. They are counted in ``log``.
    """
    yrs = list(DEFAULT_YEARS if years is None else years)
    if not yrs or any(isinstance(y, bool) or not isinstance(y, int | np.integer) for y in yrs):
        raise ConfigError("mining_licences.years", years, "a non-empty list of years (int)")
    if not (last_year is None or last_year == "auto"
            or (isinstance(last_year, int | np.integer) and not isinstance(last_year, bool))):
        raise ConfigError("mining_licences.last_year", last_year, "'auto', a year (int) or null")
    table = licence_table(files, registry, log)
    first_file = Path(files[FILE_KEYS[0]])
    latest = table["given"].max()
    if last_year == "auto":
        horizon = None if pd.isna(latest) else int(latest.year)
    else:
        horizon = None if last_year is None else int(last_year)
    if horizon is not None:
        late = [y for y in yrs if y > horizon]
        n_units = sum(1 for u in registry.of_level("aimag") if u.country == "MNG")
        log.add(SOURCE, first_file, "year after the snapshot's latest grant (later licences "
                "unknown); not emitted", len(late) * n_units * len(INDICATORS),
                f"years {late[0]}-{late[-1]} > {horizon}; latest GIVEN_DATE "
                f"{'n/a' if pd.isna(latest) else latest.date()}" if late else "")
        yrs = [y for y in yrs if y <= horizon]
    petroleum = table["type"] == "petroleum"
    other = table["type"] == "other"
    if not include_petroleum:
        log.add(SOURCE, first_file, "petroleum contract block (ГТ), not a mineral licence; "
                "left out of licence counts", int(petroleum.sum()),
                "all four files; option include_petroleum=True to count them")
    log.add(SOURCE, first_file, "licence number with unknown prefix (not MV/XV); left out",
            int(other.sum()), ", ".join(table.loc[other, "licence"]))
    counted = table.loc[table["type"].isin(["mining", "exploration"])
                        | (petroleum & include_petroleum)].reset_index(drop=True)

    act = active_matrix(counted, yrs)
    units = [u.id for u in registry.of_level("aimag") if u.country == "MNG"]
    pos = pd.Index(units).get_indexer(counted["unit"])
    if (pos < 0).any():  # pragma: no cover - by_code only returns registry aimags of Mongolia
        raise RawFileError(first_file, "CODE", "an aimag of Mongolia", counted["unit"][pos < 0].iloc[0])

    def per_unit(weights: np.ndarray) -> np.ndarray:
        m = np.zeros((len(units), len(yrs)))
        np.add.at(m, pos, act * weights[:, None])
        return m

    ones = np.ones(len(counted))
    values = {
        "licences_active_n": per_unit(ones),
        "licences_active_area_ha": per_unit(counted["area_ha"].to_numpy()),
        "licences_mining_n": per_unit((counted["type"] == "mining").to_numpy(float)),
        "licences_exploration_n": per_unit((counted["type"] == "exploration").to_numpy(float)),
    }
    parts = [
        pd.DataFrame({
            "unit": np.repeat(units, len(yrs)),
            "year": np.tile(yrs, len(units)),
            "indicator": code,
            "value": mat.ravel(),
            "measure": INDICATORS[code],
            "source": SOURCE,
        })
        for code, mat in values.items()
    ]
    out = pd.concat(parts, ignore_index=True)
    return tidy(out.sort_values(["unit", "year", "indicator"]), source=SOURCE)
