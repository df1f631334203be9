"""Shared helpers of the source readers (national and sub-national).

Private to ``dlddrivers.sources``: reading a provider CSV with errors that name the file,
checking columns and numbers, mapping provider codes or names to registry units while counting
what is not passed on in the :class:`~dlddrivers.sources.DropLog`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, RawFileError
from ..units import UnitRegistry
from . import DropLog

NOT_IN_REGISTRY = "not in unit registry"
AGGREGATE = "aggregate excluded"


def file_path(files: Mapping[str, Path], key: str, source: str) -> Path:
    """The path for file key ``key`` of ``source``; a missing key is a configuration error."""
    if key not in files:
        raise ConfigError(f"sources.{source}.files", sorted(files), f"a mapping with the key '{key}'")
    return Path(files[key])


def read_csv(path: Path, **kwargs: Any) -> pd.DataFrame:
    """``pandas.read_csv`` whose I/O and parser failures raise :class:`RawFileError` naming the file."""
    try:
        return pd.read_csv(path, **kwargs)
    except FileNotFoundError as exc:
        raise RawFileError(path, None, "an existing file", "no such file") from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise RawFileError(path, None, "a readable CSV file", str(exc)[:200]) from exc


def require_columns(df: pd.DataFrame, columns: Iterable[str], path: Path) -> None:
    """Raise :class:`RawFileError` naming the first expected column that ``df`` lacks."""
    for col in columns:
        if col not in df.columns:
            raise RawFileError(path, col, f"a column '{col}'", f"columns {list(df.columns)[:12]}")


def numeric(values: pd.Series, path: Path, field: str) -> pd.Series:
    """``values`` as float; a non-empty cell that is not a number raises :class:`RawFileError`."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype(float)
    out = pd.to_numeric(values, errors="coerce")
    bad = out.isna() & values.notna() & (values.astype(str).str.strip() != "")
    if bad.any():
        raise RawFileError(path, field, "a number", values[bad].iloc[0])
    return out.astype(float)


def read_text_table(path: Path, columns: Iterable[str]) -> pd.DataFrame:
    """A provider CSV read as text (no NA guessing), header names stripped, ``columns`` required.

    Errors name the file (missing or unreadable) and the first missing column.
    """
    path = Path(path)
    if not path.exists():
        raise RawFileError(path, None, "an existing file")
    df = read_csv(path, dtype=str, keep_default_na=False)
    df.columns = [c.strip() for c in df.columns]
    columns = list(columns)
    for col in columns:
        if col not in df.columns:
            raise RawFileError(path, col, f"a column '{col}' (columns {columns})", list(df.columns))
    return df


def number_cells(values: pd.Series, path: Path, field: str, *, allow_empty: bool,
                 expected: str = "a number") -> pd.Series:
    """Text cells as numbers; an unparsable cell (or an empty one unless ``allow_empty``) raises
    :class:`RawFileError` naming the file, the field, the value and its data row."""
    s = values.astype(str).str.strip()
    num = pd.to_numeric(s, errors="coerce")
    bad = num.isna() & ((s != "") | (not allow_empty))
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise RawFileError(path, field, expected, f"{s.iloc[i]!r} on data row {i + 1}")
    return num


def years(values: pd.Series, path: Path, field: str) -> pd.Series:
    """``values`` as nullable integer years; a missing or non-integer year raises."""
    out = numeric(values, path, field)
    bad = out.isna() | (out != out.round())
    if bad.any():
        raise RawFileError(path, field, "an integer year", values[bad].iloc[0])
    return out.astype("Int64")


def lookup(values: pd.Series, func: Callable[[Any], Any]) -> pd.Series:
    """``func`` applied once per distinct value of ``values`` (vectorised via factorize)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = np.array([func(u) for u in uniques] + [None], dtype=object)
    return pd.Series(mapped[codes], index=values.index, dtype=object)


def map_codes(codes: pd.Series, registry: UnitRegistry, kind: str) -> pd.Series:
    """Registry unit id for every provider code (kind ``iso3``/``fao``/``m49``); None if unknown."""
    return lookup(codes, lambda c: registry.by_code(kind, c))


def map_names(names: pd.Series, registry: UnitRegistry) -> pd.Series:
    """Registry country id for every English name; None if the name is not in the registry."""
    return lookup(names, lambda n: registry.by_name(str(n), "country", strict=False))


def log_rows(log: DropLog, source: str, path: Path, reason: str, keys: pd.Series,
             prefix: str = "") -> None:
    """Count the rows ``keys`` (one entry per row) in ``log``; the detail lists the distinct keys."""
    if len(keys) == 0:
        return
    distinct = sorted(str(k) for k in pd.unique(keys))
    detail = ", ".join(distinct[:15]) + (f", ... ({len(distinct)} distinct)" if len(distinct) > 15 else "")
    log.add(source, path, reason, len(keys), prefix + detail)


def log_counts(log: DropLog, source: str, path: Path, reason: str, counts: pd.Series,
               prefix: str = "") -> None:
    """Count ``counts.sum()`` rows in ``log``; ``counts`` is indexed by key (e.g. a wide column)."""
    counts = counts[counts > 0]
    if counts.empty:
        return
    distinct = sorted(str(k) for k in counts.index)
    detail = ", ".join(distinct[:15]) + (f", ... ({len(distinct)} distinct)" if len(distinct) > 15 else "")
    log.add(source, path, reason, int(counts.sum()), prefix + detail)


def split_registry(
    df: pd.DataFrame,
    code_col: str,
    units: pd.Series,
    *,
    registry: UnitRegistry,
    log: DropLog,
    source: str,
    path: Path,
    aggregate_kind: str | None,
    aggregate_key: pd.Series | None = None,
) -> pd.DataFrame:
    """Keep the rows of ``df`` whose ``units`` is a registry id; count the others in ``log``.

    Rows whose code (``aggregate_key`` if given, else ``df[code_col]``) is a registry aggregate
    of ``aggregate_kind`` are counted as "aggregate excluded", the remaining unknown codes as
    "not in unit registry". Returns ``df`` restricted to known units with a ``unit`` column.
    """
    known = units.notna()
    codes = df[code_col]
    if aggregate_kind is not None:
        agg_key = codes if aggregate_key is None else aggregate_key
        flags = lookup(agg_key, lambda c: c is not None and registry.is_aggregate(aggregate_kind, c))
        is_agg = flags.fillna(False).astype(bool) & ~known
    else:
        is_agg = pd.Series(False, index=df.index)
    log_rows(log, source, path, AGGREGATE, codes[is_agg])
    log_rows(log, source, path, NOT_IN_REGISTRY, codes[~known & ~is_agg])
    out = df.loc[known].copy()
    out["unit"] = units[known].astype(str)
    return out


def finish(df: pd.DataFrame, *, measures: Mapping[str, str], source: str) -> pd.DataFrame:
    """Add ``measure`` and ``source``, sort, and validate against the TIDY contract."""
    from ..contracts import tidy

    out = df.copy()
    out["measure"] = out["indicator"].map(measures)
    out["source"] = source
    out = out.sort_values(["indicator", "unit", "year"], kind="stable")
    return tidy(out, source=source)
