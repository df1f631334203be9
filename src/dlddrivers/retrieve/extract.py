"""Extraction and conversion: rebuild a snapshot file from the provider's file, byte for byte.

The snapshot keeps some provider files as a subset (``extract``: header plus the rows whose
column holds one of the listed values, kept lines untouched) or a conversion
(``convert: parquet_to_csv_gz``). These functions apply the same transforms to a download, so
that the recorded checksum of the snapshot file also checks the rebuilt one. No network here.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from ..errors import RawFileError

__all__ = ["extract_rows", "gzip_n9", "parquet_to_csv_gz"]


def extract_rows(data: bytes, keep: Mapping[str, Sequence[str]], *, name: str = "<data>") -> bytes:
    """Header plus the rows whose ``column`` value is in ``keep[column]`` (all columns must match).

    Works on the raw bytes: kept lines (and their line endings) are copied unchanged and in
    their upstream order; a quoted field spanning lines is handled. Raises
    :class:`~dlddrivers.errors.RawFileError` naming ``name`` when a column is missing or no
    row matches.
    """
    lines = data.split(b"\n")
    pieces = [ln + b"\n" for ln in lines[:-1]]
    if lines[-1]:
        pieces.append(lines[-1])
    records: list[bytes] = []
    buf = b""
    for piece in pieces:  # join physical lines into CSV records (balanced quotes)
        buf += piece
        if buf.count(b'"') % 2 == 0:
            records.append(buf)
            buf = b""
    if buf:
        records.append(buf)
    if not records:
        raise RawFileError(name, None, "a CSV file with a header line", "an empty file")

    def fields(rec: bytes) -> list[str]:
        text = rec.decode("utf-8-sig" if rec is records[0] else "utf-8")
        return next(csv.reader(io.StringIO(text)), [])

    header = fields(records[0])
    idx: dict[int, frozenset[str]] = {}
    for col, vals in keep.items():
        if col not in header:
            raise RawFileError(name, col, f"a column '{col}' in the header", header)
        idx[header.index(col)] = frozenset(str(v) for v in vals)
    out = [records[0]]
    for rec in records[1:]:
        if not rec.strip():
            continue
        row = fields(rec)
        if all(i < len(row) and row[i] in vals for i, vals in idx.items()):
            out.append(rec)
    if len(out) == 1:
        wanted = {header[i]: sorted(v) for i, v in idx.items()}
        raise RawFileError(name, ",".join(wanted), f"rows with values in {wanted}", "no such row")
    return b"".join(out)


def gzip_n9(data: bytes) -> bytes:
    """``gzip -n -9`` of ``data``: GNU gzip when available (the snapshot's bytes), else zlib.

    zlib output decompresses to the same bytes but is not byte-identical to GNU gzip, so a
    recorded sha256 of a ``.gz`` file only matches with GNU gzip on the PATH.
    """
    exe = shutil.which("gzip")
    if exe:
        try:
            ver = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10)
            if ver.returncode == 0 and ver.stdout.startswith("gzip 1."):
                res = subprocess.run([exe, "-n", "-9", "-c"], input=data, capture_output=True,
                                     check=True, timeout=600)
                return res.stdout
        except (OSError, subprocess.SubprocessError):
            pass
    return gzip.compress(data, compresslevel=9, mtime=0)


def parquet_to_csv_gz(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Write the parquet table ``src`` as gzip-compressed CSV ``dst``.

    All columns and rows, pandas default float formatting, ``\\n`` line endings, header line,
    no index unless the table stores a named/non-range pandas index (then it is the first
    column), compressed like ``gzip -n -9`` (see :func:`gzip_n9`).
    """
    try:
        df = pd.read_parquet(src)
    except Exception as exc:  # pyarrow raises several types for a broken file
        raise RawFileError(src, None, "a readable parquet file", f"{type(exc).__name__}: {exc}") from exc
    keep_index = not (isinstance(df.index, pd.RangeIndex) and df.index.name is None)
    text = df.to_csv(index=keep_index, lineterminator="\n")
    Path(dst).write_bytes(gzip_n9(text.encode("utf-8")))
