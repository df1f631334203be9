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


def read_bytes(path: Path) -> bytes:
    """The bytes of a raw file, decompressed when it ends in ``.gz``.

    Every failure raises :class:`RawFileError` naming the file: missing, unreadable, empty,
    or a truncated or corrupt gzip stream (``EOFError``, ``BadGzipFile``, ``zlib.error``).
    """
    import gzip
    import zlib

    path = Path(path)
    if not path.is_file():
        raise RawFileError(path, None, "an existing file", "no such file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RawFileError(path, None, "a readable file", str(exc)[:200]) from exc
    if not data:
        raise RawFileError(path, None, "a non-empty file", "0 bytes")
    if path.name.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except EOFError as exc:
            raise RawFileError(path, None, "a complete gzip stream",
                               f"the compressed data ends early (truncated file): {exc}") from exc
        except (gzip.BadGzipFile, zlib.error, OSError) as exc:
            raise RawFileError(path, None, "a valid gzip file", str(exc)[:200]) from exc
        if not data:
            raise RawFileError(path, None, "a non-empty file", "0 bytes after decompression")
    return data


def read_text(path: Path, *, final_newline: bool = False) -> str:
    """The text of a raw file (UTF-8, a leading BOM removed), decompressed when ``.gz``.

    Raises :class:`RawFileError` naming the file for everything :func:`read_bytes` refuses,
    for a byte that is not UTF-8 (with its line, column and value), for a file of blanks only
    and, when ``final_newline``, for a last line without its line end (a file cut mid-line;
    provider CSVs end every line).
    """
    return _decoded(path, final_newline)[1]


def _decoded(path: Path, final_newline: bool) -> tuple[bytes, str]:
    """The (decompressed) bytes of a raw file and their checked text (see :func:`read_text`)."""
    data = read_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise RawFileError(path, None, "UTF-8 text",
                           f"byte 0x{data[exc.start]:02x} on line {line}, column {col} "
                           f"({data[max(0, exc.start - 20):exc.start + 10]!r})") from exc
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise RawFileError(path, None, "a non-empty file", f"{len(data)} bytes of blanks only")
    if final_newline and not text.endswith(("\n", "\r")):
        last = text.rsplit("\n", 1)[-1]
        line = text.count("\n") + 1
        raise RawFileError(path, None, "a last line that ends with a line break (file complete)",
                           f"line {line} ends mid-line: {last[-60:]!r} (truncated file?)")
    return data, text


def _line_of(exc: Exception) -> str:
    """'line N' from a pandas parser message, or the message itself."""
    import re

    m = re.search(r"line (\d+)", str(exc))
    return f"line {m.group(1)}: {str(exc)[:200]}" if m else str(exc)[:200]


def read_csv(path: Path, *, final_newline: bool = True, **kwargs: Any) -> pd.DataFrame:
    """A CSV raw file as a data frame through the one shared reading path.

    The file goes through :func:`read_text` (empty file, truncated gzip, bad encoding, and a
    file cut mid-line when ``final_newline`` are errors naming the file), then
    ``pandas.read_csv(**kwargs)``; a row with more fields than the header, or a last row with
    fewer, raises :class:`RawFileError` naming the file and the line. Every error names the
    file.
    """
    import csv
    import io

    data, text = _decoded(path, final_newline)
    try:
        # parse the checked bytes (pandas' C reader decodes them faster than it reads a str)
        df = pd.read_csv(io.BytesIO(data), **{"encoding": "utf-8-sig", **kwargs})
    except pd.errors.EmptyDataError as exc:
        raise RawFileError(path, None, "a CSV file with a header row", str(exc)[:200]) from exc
    except pd.errors.ParserError as exc:
        raise RawFileError(path, None, "a CSV file whose rows have the header's fields",
                           _line_of(exc)) from exc
    except (ValueError, TypeError) as exc:
        raise RawFileError(path, None, "a readable CSV file", str(exc)[:200]) from exc
    if "index_col" not in kwargs and not isinstance(df.index, pd.RangeIndex):
        # pandas silently turns the extra leading fields of longer rows into an index
        skip = kwargs.get("skiprows") if isinstance(kwargs.get("skiprows"), int) else 0
        sep = kwargs.get("sep", ",")
        rows = csv.reader(io.StringIO(text), delimiter=sep)
        width, line = None, 0
        for line, row in enumerate(rows, start=1):
            if line <= skip or not row:
                continue
            if width is None:
                width = len(row)
            elif len(row) > width:
                break
        raise RawFileError(path, None, f"at most {width} fields per row (the header's)",
                           f"more on line {line}") from None    # a last row cut short parses silently (missing cells become NA): compare its field count
    lines = text.rstrip("\r\n").rsplit("\n", 1)
    if len(lines) == 2 and "\"" not in lines[1] and len(df) > 0:
        nfields = len(next(csv.reader([lines[1]]), []))
        if 0 < nfields < len(df.columns):
            line = text.rstrip("\r\n").count("\n") + 1
            raise RawFileError(path, None, f"{len(df.columns)} fields on every row (the header's)",
                               f"{nfields} on the last line {line}: {lines[1][-60:]!r} (truncated file?)")
    return df


def read_json(path: Path) -> Any:
    """A JSON raw file parsed through the shared reading path.

    Errors name the file: those of :func:`read_text`, malformed or truncated JSON (with line
    and column), and an object with the same key twice (with both values).
    """
    import json

    text = read_text(path)

    def pairs(items: list[tuple[str, Any]]) -> dict:
        out: dict = {}
        for k, v in items:
            if k in out and out[k] != v:
                raise RawFileError(path, k, "each key once per JSON object",
                                   f"key {k!r} twice with values {out[k]!r} and {v!r}")
            out[k] = v
        return out

    try:
        return json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        early = exc.pos >= len(text.rstrip()) - 1 or exc.msg.startswith("Unterminated string")
        what = f"the JSON text ends early (truncated file?): {exc.msg}" if early else exc.msg
        raise RawFileError(path, None, "valid JSON", f"{what} at line {exc.lineno}, column {exc.colno}") from exc


def check_unique(df: pd.DataFrame, keys: list[str], path: object, *, value: str = "value",
                 field: str | None = None) -> None:
    """Raise :class:`RawFileError` naming the file, the key and both values when a key repeats.

    ``path`` is the file (or a mapping indicator -> file when ``df`` spans several files).
    """
    dup = df.duplicated(keys, keep=False)
    if not dup.any():
        return
    rows = df.loc[dup]
    first = rows.iloc[0]
    same = rows[(rows[keys] == first[keys]).all(axis=1)]
    vals = [v for v in same[value].tolist()]
    where = path
    if isinstance(path, Mapping) and "indicator" in df.columns:
        where = path.get(first["indicator"], ", ".join(str(p) for p in path.values()))
    key = ", ".join(f"{k}={first[k]}" for k in keys)
    kind = "identical" if len(set(map(str, vals))) == 1 else "conflicting"
    raise RawFileError(where, field or ", ".join(keys), f"one row per {', '.join(keys)}",
                       f"{key} repeated with {kind} values {vals}")


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
        i = int(bad.to_numpy().nonzero()[0][0])
        raise RawFileError(path, field, f"a number{_row(values, i)}", values[bad].iloc[0])
    return out.astype(float)


def _row(values: pd.Series, i: int) -> str:
    """' (data row N)' for position ``i`` of ``values`` (its index is the row order of the file)."""
    idx = values.index[i]
    return f" (data row {int(idx) + 1})" if isinstance(idx, (int, np.integer)) else ""


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
        i = int(bad.to_numpy().nonzero()[0][0])
        raise RawFileError(path, field, f"an integer year{_row(values, i)}", values[bad].iloc[0])
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


def finish(df: pd.DataFrame, *, measures: Mapping[str, str], source: str,
           path: object = None) -> pd.DataFrame:
    """Add ``measure`` and ``source``, sort, and validate against the TIDY contract.

    A unit-year-indicator that repeats raises :class:`RawFileError` naming the file (``path``:
    one file, or a mapping indicator -> file) and both values.
    """
    from ..contracts import tidy

    check_unique(df, ["unit", "year", "indicator"], path if path is not None else source)
    out = df.copy()
    out["measure"] = out["indicator"].map(measures)
    out["source"] = source
    out = out.sort_values(["indicator", "unit", "year"], kind="stable")
    return tidy(out, source=source)
