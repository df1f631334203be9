"""NSO Mongolia livestock by aimag and species (year-end census), thousand head.

File ``aimag_species`` (``mongolia_nso/livestock_population_aimag_species.csv``), long format with
columns ``Aimag, Year, Species, Thousand_head``.

* 21 aimags plus Ulaanbaatar (``MN11``; emitted like any unit, studies leave it out by config).
* The six ``... region`` rows (``nso_regions`` aggregates in ``config/units.yaml``) are sums of
  their member aimags (:data:`REGION_MEMBERS`): excluded from :func:`read` and counted in the
  drop log; :func:`regional_totals` returns them for checks.
* Known source anomalies (:data:`KNOWN_ANOMALIES`, from ``SOURCE.md``) are kept as published and
  counted in the log as ``"known source anomaly kept"``.
* Darkhan-Uul and Orkhon have no Camel rows in many early years: absent, not zero (nothing to
  emit, nothing to count).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ..contracts import tidy
from ..errors import RawFileError
from ..units import UnitRegistry
from . import DropLog
from ._common import check_unique, read_csv

SOURCE = "nso_livestock"
FILE_KEY = "aimag_species"
MEASURE = "thousand head"
COLUMNS = ["Aimag", "Year", "Species", "Thousand_head"]

#: provider species -> indicator code
SPECIES = {"Camel": "camel", "Cattle": "cattle", "Goat": "goat", "Horse": "horse", "Sheep": "sheep"}
INDICATORS: dict[str, str] = {code: MEASURE for code in SPECIES.values()}

#: NSO regional rows of the livestock file and their member aimags (``SOURCE.md``, checked:
#: each regional row equals the sum of its members within 0.2 thousand head). These are the
#: pre-2000 groupings of this file, not the ``REGION`` field of the OCHA boundaries.
REGION_MEMBERS: dict[str, tuple[str, ...]] = {
    "Western region": ("Bayan-Ulgii", "Govi-Altai", "Zavkhan", "Uvs", "Khovd"),
    "Khangai region": ("Arkhangai", "Bayankhongor", "Uvurkhangai"),
    "Northern region": ("Bulgan", "Khuvsgul", "Orkhon"),
    "Central region": ("Darkhan-Uul", "Selenge", "Tuv"),
    "Govi region": ("Dornogovi", "Dundgovi", "Govisumber", "Umnugovi"),
    "Eastern region": ("Dornod", "Sukhbaatar", "Khentii"),
}

#: (aimag name as in the file, year, species or None for all species of that aimag-year):
#: values that look wrong upstream but are kept as published (``SOURCE.md``).
KNOWN_ANOMALIES: tuple[tuple[str, int, str | None, str], ...] = (
    ("Darkhan-Uul", 1979, None, "1979 values look shifted between species"),
    ("Orkhon", 1979, None, "1979 values look shifted between species"),
    ("Ulaanbaatar", 1979, None, "1979 values look shifted between species"),
    ("Khuvsgul", 1980, "Cattle", "Cattle 339.2 vs ~237-241 in neighbouring years"),
)


def _load(path: Path) -> pd.DataFrame:
    """The raw file with checked columns and numeric ``Year`` / ``Thousand_head``."""
    raw = read_csv(path, dtype=str, keep_default_na=False)
    raw.columns = [c.strip() for c in raw.columns]
    for col in COLUMNS:
        if col not in raw.columns:
            raise RawFileError(path, col, f"a column '{col}' (columns {COLUMNS})", list(raw.columns))
    df = raw[COLUMNS].apply(lambda s: s.str.strip())
    for col in ("Year", "Thousand_head"):
        num = pd.to_numeric(df[col], errors="coerce")
        bad = num.isna()
        if bad.any():
            i = int(bad.to_numpy().nonzero()[0][0])
            raise RawFileError(path, col, "a number", f"{df[col].iloc[i]!r} on data row {i + 1}")
        df[col] = num
    if (df["Year"] % 1 != 0).any():
        raise RawFileError(path, "Year", "whole years", df.loc[df["Year"] % 1 != 0, "Year"].iloc[0])
    df["Year"] = df["Year"].astype(int)
    unknown_species = sorted(set(df["Species"]) - set(SPECIES))
    if unknown_species:
        raise RawFileError(path, "Species", f"one of {sorted(SPECIES)}", unknown_species)
    return df


def read(files: Mapping[str, Path], registry: UnitRegistry, log: DropLog, **options: object) -> pd.DataFrame:
    """Livestock stock per aimag, year and species (tidy; indicators ``camel`` ... ``sheep``).

    Regional rows are excluded and counted; known anomalies are kept and counted.
    """
    path = Path(files[FILE_KEY])
    df = _load(path)
    is_region = df["Aimag"].map(lambda n: registry.is_aggregate("nso_regions", n))
    log.add(SOURCE, path, "regional aggregate row (NSO region)", int(is_region.sum()),
            ", ".join(sorted(set(df.loc[is_region, "Aimag"]))))
    df = df.loc[~is_region].copy()
    names = registry.map_names(df["Aimag"], "aimag", file=str(path), field="Aimag")
    df["unit"] = df["Aimag"].map(names)

    for aimag, year, species, why in KNOWN_ANOMALIES:
        hit = (df["Aimag"] == aimag) & (df["Year"] == year)
        if species is not None:
            hit &= df["Species"] == species
        log.add(SOURCE, path, "known source anomaly kept", int(hit.sum()),
                f"{aimag} {year}{' ' + species if species else ''}: {why}")

    out = pd.DataFrame(
        {
            "unit": df["unit"],
            "year": df["Year"],
            "indicator": df["Species"].map(SPECIES),
            "value": df["Thousand_head"].astype(float),
            "measure": MEASURE,
            "source": SOURCE,
        }
    )
    check_unique(out, ["unit", "year", "indicator"], path, field="Aimag, Year, Species")
    return tidy(out.sort_values(["unit", "year", "indicator"]), source=SOURCE)


def regional_totals(files: Mapping[str, Path], registry: UnitRegistry) -> pd.DataFrame:
    """The six NSO regional rows: columns ``region, year, species, value`` (thousand head).

    ``species`` uses the indicator codes (``camel`` ... ``sheep``) so that the table can be
    compared with :func:`read` output aggregated over :data:`REGION_MEMBERS`.
    """
    path = Path(files[FILE_KEY])
    df = _load(path)
    df = df.loc[df["Aimag"].map(lambda n: registry.is_aggregate("nso_regions", n))]
    return pd.DataFrame(
        {
            "region": df["Aimag"].to_numpy(),
            "year": df["Year"].to_numpy(),
            "species": df["Species"].map(SPECIES).to_numpy(),
            "value": df["Thousand_head"].astype(float).to_numpy(),
        }
    ).sort_values(["region", "year", "species"], ignore_index=True)
