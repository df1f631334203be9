"""Retrieve the raw provider files listed in ``config/sources.yaml``.

Two modes, one API:

* **snapshot** (``snapshot_dir`` given): every file is taken as it is from a read-only folder
  that mirrors the raw directory layout. Nothing is downloaded or copied.
* **online**: every file is downloaded from its pinned ``url`` into the cache (``data/raw``),
  atomically (temporary file in the same folder, then :func:`os.replace`), with timeouts,
  retries with exponential backoff and a throttled progress line for large files. Files whose
  snapshot copy is a subset or a conversion of the provider file are rebuilt the same way:

  - ``extract: {column: [values, ...]}`` keeps the header and, in upstream order, the rows whose
    ``column`` is one of ``values`` (bytes of kept lines untouched);
  - ``convert: parquet_to_csv_gz`` writes the parquet table as CSV (pandas default float
    formatting, all columns and rows) compressed like ``gzip -n -9``;
  - a templated WDI entry (``{code}`` in ``path``/``url``) whose mirror lacks the code (HTTP
    404) falls back to ``api_url`` (World Bank API v2, JSON pages) and writes the mirror's CSV
    layout ``Country Name,Country Code,Year,Value``.

Checksums (``sha256``, or ``sha256_by_code`` for a templated entry) are those of the file as it
sits in the raw directory, i.e. of the *extracted/converted* result, never of the download. A
mismatch is reported as a :class:`ChecksumMismatchWarning` or raised as
:class:`ChecksumMismatchError` (``on_checksum_mismatch``).

Command line::

    python -m dlddrivers.retrieve --sources config/sources.yaml --cache data/raw \
        [--snapshot DIR] [--wdi CODE ...] [--manifest FILE] [--deadline S] [--record-checksums]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import http.client
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from .errors import ConfigError, DLDError, RawFileError

__all__ = [
    "ChecksumMismatchError",
    "ChecksumMismatchWarning",
    "DownloadError",
    "FileSpec",
    "NotFoundError",
    "RetrieveError",
    "SnapshotMissingError",
    "UnverifiedDownloadError",
    "check_code",
    "confined_path",
    "record_checksums",
    "record_key",
    "remove_stale_parts",
    "verify_file",
    "extract_rows",
    "fetch",
    "fetch_all",
    "local_path",
    "main",
    "manifest",
    "parquet_to_csv_gz",
    "resolve",
    "sha256_file",
    "spec_for_path",
    "specs_frame",
    "wdi_api_csv",
]

#: Bytes read per ``read()`` call.
CHUNK = 1 << 16
#: Downloads at least this large (or of unknown size once past it) get progress lines.
PROGRESS_MIN_BYTES = 1 << 20
#: Seconds between two progress lines for one file.
PROGRESS_INTERVAL = 2.0
#: HTTP statuses worth retrying besides 5xx.
RETRY_STATUSES = frozenset({408, 425, 429})
#: HTTP statuses meaning "this URL has no such file".
NOT_FOUND_STATUSES = frozenset({404, 410})
USER_AGENT = "dlddrivers-retrieve/0.1 (+https://github.com/; research data pipeline)"
CONVERTERS = ("parquet_to_csv_gz",)
LFS_POINTER = b"version https://git-lfs.github.com/spec/"
WDI_COLUMNS = ["Country Name", "Country Code", "Year", "Value"]
#: The templated source expanded over ``wdi_codes`` in :func:`resolve`.
WDI_SOURCE = "wdi"
#: A provider code that fills ``{code}`` in a path: dot-separated lower-case words (WDI style).
CODE_PATTERN = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
#: Default overall deadline (seconds) of one download, retries included.
DEADLINE = 900.0
#: How to refresh recorded checksums deliberately (named in every mismatch message).
RECORD_COMMAND = ("python -m dlddrivers.retrieve --sources config/sources.yaml "
                  "--snapshot <raw folder> --record-checksums")


# --------------------------------------------------------------------------------------------
# errors


class RetrieveError(DLDError):
    """A raw file could not be retrieved or does not match what was recorded."""


class DownloadError(RetrieveError):
    """A download failed for good (after retries, or on a status that is not retried)."""

    def __init__(self, url: str, path: str, reason: str):
        self.url, self.path, self.reason = url, path, reason
        super().__init__(f"raw file '{path}': download of {url} failed: {reason}")


class NotFoundError(DownloadError):
    """The server answered 404/410: the URL has no such file (never retried)."""


class SnapshotMissingError(RetrieveError, FileNotFoundError):
    """A file is absent from the snapshot folder."""

    def __init__(self, path: str, url: str, folder: Path):
        self.path, self.url, self.folder = path, url, Path(folder)
        super().__init__(
            f"raw file '{path}' is not in the snapshot folder {folder} "
            f"(expected {Path(folder) / path}); its upstream URL is {url}"
        )


class ChecksumMismatchError(RetrieveError):
    """The sha256 of a file differs from the one recorded in ``sources.yaml``."""

    def __init__(self, path: str, url: str, expected: str, found: str, where: Path, key: str = ""):
        self.path, self.url, self.expected, self.found, self.where = path, url, expected, found, where
        self.key = key
        super().__init__(_mismatch_message(path, url, expected, found, where, key))


class ChecksumMismatchWarning(UserWarning):
    """Warning category for a checksum mismatch under ``on_checksum_mismatch="warn"``."""


def _mismatch_message(path: str, url: str, expected: str, found: str, where: Path, key: str = "") -> str:
    at = f" at key '{key}'" if key else ""
    return (
        f"raw file '{path}' ({where}): field 'sha256': expected {expected} as recorded in "
        f"sources.yaml{at}; found {found} (upstream {url} changed, or the local copy is corrupt "
        f"or truncated). If the new file is right, record its checksum deliberately: "
        f"`{RECORD_COMMAND}` (or edit that key), or set on_checksum_mismatch: warn to read it anyway"
    )


def record_key(spec: FileSpec) -> str:
    """The ``sources.yaml`` key that records the checksum of ``spec``."""
    if spec.code is not None:
        return f"sources.{spec.source}.files.{spec.key}.sha256_by_code.{spec.code}"
    return f"sources.{spec.source}.files.{spec.key}.sha256"


def check_code(code: object, where: str) -> str:
    """``code`` lower-cased if it matches :data:`CODE_PATTERN` (no ``..``, no slashes), else a
    :class:`~dlddrivers.errors.ConfigError` naming ``where``."""
    c = str(code).strip().lower()
    if not CODE_PATTERN.match(c):
        raise ConfigError(where, code, "an indicator code of letters and digits separated by single "
                          "dots, dashes or underscores, like 'sp.pop.totl'")
    return c


def confined_path(path: str, where: str) -> str:
    """``path`` if it is relative and stays inside the raw folder (no ``..`` part, not absolute,
    no drive or backslash), else a :class:`~dlddrivers.errors.ConfigError` naming ``where``."""
    p = str(path)
    parts = p.replace("\\", "/").split("/")
    if (not p or p.startswith(("/", "~")) or "\\" in p or ":" in parts[0]
            or any(part in ("..", "") for part in parts) or Path(p).is_absolute()):
        raise ConfigError(where, path, "a relative path inside the raw folder (no '..', not absolute)")
    return p


class _Transient(Exception):
    """A failure worth retrying (5xx, connection error, timeout, truncated body)."""


class UnverifiedDownloadError(RetrieveError):
    """A download whose completeness nothing could check (no Content-Length, no chunked framing,
    no recorded checksum)."""


# --------------------------------------------------------------------------------------------
# file specifications


@dataclass(frozen=True)
class FileSpec:
    """One raw file: where it lives under the raw directory and how to obtain it.

    ``sha256`` is the checksum of the file in the raw directory (after ``extract``/``convert``),
    or None when none is recorded. ``code`` is the template value of a templated entry (a
    lower-case WDI code), ``api_url`` its fallback URL.
    """

    source: str
    key: str
    path: str
    url: str
    sha256: str | None = None
    extract: Mapping[str, tuple[str, ...]] | None = None
    convert: str | None = None
    api_url: str | None = None
    code: str | None = None
    note: str | None = None


def _sources_mapping(sources_cfg: Mapping[str, Any]) -> Mapping[str, Any]:
    """Accept the whole ``sources.yaml`` document or its ``sources`` mapping."""
    if not isinstance(sources_cfg, Mapping):
        raise ConfigError("sources", type(sources_cfg).__name__, "a mapping (parsed sources.yaml)")
    inner = sources_cfg.get("sources", sources_cfg)
    if not isinstance(inner, Mapping):
        raise ConfigError("sources", type(inner).__name__, "a mapping of source name -> entry")
    return inner


def _fill(template: str, code: str) -> str:
    return template.replace("{code}", code.lower()).replace("{CODE}", code.upper())


def _is_templated(text: str) -> bool:
    return "{code}" in text or "{CODE}" in text


def _norm_extract(value: Any, where: str) -> dict[str, tuple[str, ...]] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not value:
        raise ConfigError(where, value, "a mapping {column: [value, ...]}")
    out: dict[str, tuple[str, ...]] = {}
    for col, vals in value.items():
        if isinstance(vals, (str, int, float)):
            vals = [vals]
        if not isinstance(vals, Sequence) or not vals:
            raise ConfigError(f"{where}.{col}", vals, "a non-empty list of values")
        out[str(col)] = tuple(str(v) for v in vals)
    return out


def resolve(
    sources_cfg: Mapping[str, Any],
    wdi_codes: Iterable[str] = (),
    *,
    codes: Mapping[str, Iterable[str]] | None = None,
) -> list[FileSpec]:
    """One :class:`FileSpec` per raw file needed, in the order of ``sources.yaml``.

    A templated entry (``{code}``/``{CODE}`` in ``path``/``url``/``api_url``) is expanded once
    per code: ``wdi_codes`` for the ``wdi`` source, ``codes[source]`` for any other. ``{code}``
    becomes the lower-case code, ``{CODE}`` the upper-case one. Its checksum comes from
    ``sha256_by_code[code]`` when recorded. Duplicated codes are dropped (first kept).
    Raises :class:`~dlddrivers.errors.ConfigError` naming the entry on a malformed entry.
    """
    sources = _sources_mapping(sources_cfg)
    by_source: dict[str, list[str]] = {k: list(v) for k, v in (codes or {}).items()}
    by_source.setdefault(WDI_SOURCE, [])
    by_source[WDI_SOURCE] = list(by_source[WDI_SOURCE]) + list(wdi_codes)
    specs: list[FileSpec] = []
    seen: set[str] = set()
    for source, entry in sources.items():
        files = (entry or {}).get("files") if isinstance(entry, Mapping) else None
        if not isinstance(files, Mapping):
            raise ConfigError(f"sources.{source}.files", files, "a mapping of file key -> {path, url}")
        for key, f in files.items():
            where = f"sources.{source}.files.{key}"
            if not isinstance(f, Mapping):
                raise ConfigError(where, f, "a mapping with 'path' and 'url'")
            for req in ("path", "url"):
                if not isinstance(f.get(req), str) or not f.get(req):
                    raise ConfigError(f"{where}.{req}", f.get(req), "a non-empty string")
            convert = f.get("convert")
            if convert is not None and convert not in CONVERTERS:
                raise ConfigError(f"{where}.convert", convert, f"one of {list(CONVERTERS)}")
            extract = _norm_extract(f.get("extract"), f"{where}.extract")
            if extract and convert:
                raise ConfigError(where, "extract + convert", "at most one of 'extract' and 'convert'")
            sha = f.get("sha256")
            if sha is not None and not _is_sha256(sha):
                raise ConfigError(f"{where}.sha256", sha, "64 lower-case hex digits")
            common = {"source": str(source), "key": str(key), "extract": extract,
                      "convert": convert, "note": f.get("note")}
            if _is_templated(f["path"]):
                by_code = f.get("sha256_by_code") or {}
                if not isinstance(by_code, Mapping):
                    raise ConfigError(f"{where}.sha256_by_code", by_code, "a mapping code -> sha256")
                for code in by_source.get(str(source), []):
                    c = check_code(code, f"{source} codes")
                    path = confined_path(_fill(f["path"], c), where + ".path")
                    if path in seen:
                        continue
                    seen.add(path)
                    api = f.get("api_url")
                    specs.append(FileSpec(
                        path=path, url=_fill(f["url"], c), code=c,
                        sha256=by_code.get(c, by_code.get(c.upper())),
                        api_url=_fill(api, c) if isinstance(api, str) else None, **common))
            else:
                confined_path(f["path"], where + ".path")
                if f["path"] in seen:
                    raise ConfigError(where + ".path", f["path"], "a path used by one entry only")
                seen.add(f["path"])
                specs.append(FileSpec(path=f["path"], url=f["url"], sha256=sha,
                                      api_url=f.get("api_url"), **common))
    return specs


def specs_frame(specs: Iterable[FileSpec]) -> pd.DataFrame:
    """The specs as a table: source, key, path, url, sha256, extract, convert, api_url, code."""
    cols = ["source", "key", "path", "url", "sha256", "extract", "convert", "api_url", "code"]
    rows = []
    for s in specs:
        d = asdict(s)
        d["extract"] = dict(s.extract) if s.extract else None
        rows.append({c: d[c] for c in cols})
    return pd.DataFrame(rows, columns=cols)


def spec_for_path(specs: Iterable[FileSpec], path: str | os.PathLike[str]) -> FileSpec:
    """The spec whose ``path`` equals ``path`` (relative to the raw directory).

    Raises :class:`~dlddrivers.errors.ConfigError` when no spec has that path.
    """
    want = Path(path).as_posix()
    specs = list(specs)
    for s in specs:
        if s.path == want:
            return s
    raise ConfigError("path", want, f"one of the {len(specs)} resolved raw file paths of sources.yaml")


# --------------------------------------------------------------------------------------------
# checksums and manifest


def _is_sha256(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of the file at ``path`` (read in chunks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def manifest(specs: Iterable[FileSpec], raw_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """Provenance table of the files under ``raw_dir``: source, key, path, url, sha256, bytes,
    recorded_sha256 and ``matches`` (None when nothing is recorded).

    Raises :class:`SnapshotMissingError` naming the first file absent from ``raw_dir``.
    """
    raw = Path(raw_dir)
    rows = []
    for s in specs:
        p = raw / s.path
        if not p.is_file():
            raise SnapshotMissingError(s.path, s.url, raw)
        digest = sha256_file(p)
        rows.append({
            "source": s.source, "key": s.key, "path": s.path, "url": s.url, "sha256": digest,
            "bytes": p.stat().st_size, "recorded_sha256": s.sha256,
            "matches": None if s.sha256 is None else digest == s.sha256,
        })
    cols = ["source", "key", "path", "url", "sha256", "bytes", "recorded_sha256", "matches"]
    return pd.DataFrame(rows, columns=cols)


def _check(spec: FileSpec, file: Path, policy: str, target: Path | None = None) -> str:
    """sha256 of ``file``; compare with the recorded one and warn/raise per ``policy``.

    Messages name ``target`` (the final file) when ``file`` is a temporary one.
    """
    digest = sha256_file(file)
    if spec.sha256 is not None and digest != spec.sha256:
        where = target if target is not None else file
        if policy == "error":
            raise ChecksumMismatchError(spec.path, spec.url, spec.sha256, digest, where, record_key(spec))
        warnings.warn(_mismatch_message(spec.path, spec.url, spec.sha256, digest, where, record_key(spec)),
                      ChecksumMismatchWarning, stacklevel=3)
    return digest


def verify_file(path: str | os.PathLike[str], recorded: str | None, *, policy: str = "error",
                url: str = "", key: str = "") -> str:
    """sha256 of the file at ``path`` compared with ``recorded`` (skipped when None).

    A mismatch raises :class:`ChecksumMismatchError` (``policy="error"``) or warns
    (:class:`ChecksumMismatchWarning`, ``"warn"``); both name the file, both hashes, the
    ``sources.yaml`` ``key`` and the command that records a new checksum deliberately.
    """
    if policy not in ("warn", "error"):
        raise ConfigError("on_checksum_mismatch", policy, "'warn' or 'error'")
    digest = sha256_file(path)
    if recorded is not None and digest != recorded:
        if policy == "error":
            raise ChecksumMismatchError(str(path), url, recorded, digest, Path(path), key)
        warnings.warn(_mismatch_message(str(path), url, recorded, digest, Path(path), key),
                      ChecksumMismatchWarning, stacklevel=2)
    return digest


# --------------------------------------------------------------------------------------------
# transforms (same as those that produced the snapshot)


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


def _gzip_n9(data: bytes) -> bytes:
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
    column), compressed like ``gzip -n -9`` (see :func:`_gzip_n9`).
    """
    try:
        df = pd.read_parquet(src)
    except Exception as exc:  # pyarrow raises several types for a broken file
        raise RawFileError(src, None, "a readable parquet file", f"{type(exc).__name__}: {exc}") from exc
    keep_index = not (isinstance(df.index, pd.RangeIndex) and df.index.name is None)
    text = df.to_csv(index=keep_index, lineterminator="\n")
    Path(dst).write_bytes(_gzip_n9(text.encode("utf-8")))


def _wdi_value(v: Any) -> str:
    return format(float(v), ".15G")


def wdi_api_csv(records: Iterable[Mapping[str, Any]], *, name: str = "<api>") -> bytes:
    """World Bank API v2 records -> the mirror's CSV (``Country Name,Country Code,Year,Value``).

    Rows only where ``value`` is not null, sorted by country code then year, values formatted
    with 15 significant digits (``%.15G``, as in the mirror), CRLF line endings.
    """
    rows = []
    for r in records:
        v = r.get("value")
        if v is None or v == "":
            continue
        country = r.get("country") or {}
        iso3 = r.get("countryiso3code") or country.get("id")
        date = r.get("date")
        if not iso3 or date is None:
            raise RawFileError(name, "countryiso3code/date", "a country code and a date in every record", r)
        try:
            value = _wdi_value(v)
        except (TypeError, ValueError) as exc:
            raise RawFileError(name, "value", "a number", v) from exc
        rows.append((str(country.get("value", "")), str(iso3), str(date), value))
    rows.sort(key=lambda t: (t[1], int(t[2]) if t[2].isdigit() else 0, t[2]))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(WDI_COLUMNS)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


# --------------------------------------------------------------------------------------------
# HTTP


class _Progress:
    """Throttled ``label: done/total MB`` lines on a text stream."""

    def __init__(self, stream: TextIO | None, label: str, total: int | None):
        self.stream, self.label, self.total = stream, label, total
        self.last = time.monotonic()
        self.shown = False

    def _line(self, n: int) -> str:
        if self.total:
            return (f"retrieve: {self.label}: {n:,}/{self.total:,} bytes "
                    f"({100 * n / self.total:.0f}%)")
        return f"retrieve: {self.label}: {n:,} bytes"

    def update(self, n: int) -> None:
        if self.stream is None:
            return
        big = (self.total or n) >= PROGRESS_MIN_BYTES
        now = time.monotonic()
        if big and now - self.last >= PROGRESS_INTERVAL:
            print(self._line(n), file=self.stream, flush=True)
            self.last, self.shown = now, True

    def done(self, n: int) -> None:
        if self.stream is not None and (self.shown or n >= PROGRESS_MIN_BYTES):
            print(self._line(n) + " done", file=self.stream, flush=True)


def _say(stream: TextIO | None, msg: str) -> None:
    if stream is not None:
        print(f"retrieve: {msg}", file=stream, flush=True)


def _remaining(deadline_at: float, url: str, path: str, n: int, deadline: float) -> float:
    left = deadline_at - time.monotonic()
    if left <= 0:
        raise DownloadError(url, path, f"overall deadline of {deadline:g} s for this download "
                                       f"exceeded after {n:,} bytes (download_deadline)")
    return left


def _download_once(url: str, dest: Path, *, path: str, timeout: float,
                   progress: TextIO | None, label: str, deadline_at: float = float("inf"),
                   deadline: float = DEADLINE) -> bool:
    """One attempt; True when the body's completeness was checked (Content-Length or chunked
    framing), False when the server gave no way to tell (then a checksum must decide)."""
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT,
                                               "Accept-Encoding": "identity"})
    try:
        left = _remaining(deadline_at, url, path, 0, deadline)
        resp = urllib.request.urlopen(req, timeout=min(timeout, left))
    except urllib.error.HTTPError as exc:
        code = exc.code
        exc.close()
        if code in NOT_FOUND_STATUSES:
            raise NotFoundError(url, path, f"HTTP {code} (no such file at this URL)") from None
        if code >= 500 or code in RETRY_STATUSES:
            raise _Transient(f"HTTP {code}") from None
        raise DownloadError(url, path, f"HTTP {code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, OSError):
            raise _Transient(f"connection error: {exc.reason}") from None
        raise DownloadError(url, path, f"{exc.reason}") from None
    except (TimeoutError, ConnectionError, http.client.HTTPException, OSError) as exc:
        raise _Transient(f"{type(exc).__name__}: {exc}") from None
    with resp:
        ctype = (resp.headers.get("Content-Type") or "").lower()
        if ctype.startswith("text/html") and not path.lower().endswith((".html", ".htm")):
            raise DownloadError(url, path, f"the URL serves a web page (Content-Type {ctype!r}), "
                                           "not the data file; the entry needs a direct file URL")
        length = resp.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        chunked = bool(getattr(resp, "chunked", False))
        bar = _Progress(progress, label, total)
        n = 0
        sock = getattr(getattr(getattr(resp, "fp", None), "raw", None), "_sock", None)
        with open(dest, "wb") as out:
            while True:
                left = _remaining(deadline_at, url, path, n, deadline)
                if sock is not None:
                    sock.settimeout(min(timeout, left))
                try:
                    # read1: return what has arrived, so that a trickling server meets the deadline
                    chunk = resp.read1(CHUNK)
                except (TimeoutError, ConnectionError, http.client.HTTPException, OSError) as exc:
                    raise _Transient(f"read failed after {n} bytes: {type(exc).__name__}: {exc}") from None
                if not chunk:
                    break
                out.write(chunk)
                n += len(chunk)
                bar.update(n)
        _remaining(deadline_at, url, path, n, deadline)
        if total is not None and n != total:
            raise _Transient(f"truncated body: {n} of {total} bytes (Content-Length)")
        bar.done(n)
        return total is not None or chunked


def _download(url: str, dest: Path, *, path: str, timeout: float, retries: int, backoff: float,
              progress: TextIO | None, label: str, deadline: float = DEADLINE,
              deadline_at: float | None = None) -> bool:
    """Download ``url`` to ``dest`` with up to ``retries`` retries (``retries + 1`` attempts).

    Retries HTTP 5xx/408/425/429, connection errors, timeouts (connect and read: a stalled
    response) and truncated bodies, sleeping ``backoff * 2**(attempt-1)`` seconds in between.
    Raises :class:`NotFoundError` at once on 404/410, :class:`DownloadError` on other client
    errors or once the retries are spent, and once ``deadline`` seconds (all attempts and
    sleeps together, from ``deadline_at`` if given) have passed. ``dest`` may hold partial data
    on failure: the caller owns and removes it. Returns whether the body's completeness was
    checked (Content-Length or chunked framing).
    """
    if deadline_at is None:
        deadline_at = time.monotonic() + deadline
    attempt = 0
    while True:
        attempt += 1
        try:
            return _download_once(url, dest, path=path, timeout=timeout, progress=progress, label=label,
                                  deadline_at=deadline_at, deadline=deadline)
        except _Transient as exc:
            if attempt > retries:
                raise DownloadError(url, path, f"{exc} (gave up after {attempt} attempts)") from None
            delay = backoff * 2 ** (attempt - 1)
            if time.monotonic() + delay >= deadline_at:
                raise DownloadError(url, path, f"{exc}; no time left for a retry within the overall "
                                               f"deadline of {deadline:g} s (download_deadline)") from None
            _say(progress, f"{label}: {exc}; retry {attempt}/{retries} in {delay:.2f} s")
            time.sleep(delay)


def _with_page(url: str, page: int) -> str:
    parts = urllib.parse.urlsplit(url)
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
             if k != "page"]
    query.append(("page", str(page)))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def _wdi_api_records(spec: FileSpec, tmp_dir: Path, temps: list[Path], **kw: Any) -> list[dict]:
    """All records of the World Bank API v2 JSON pages for ``spec.api_url``."""
    assert spec.api_url is not None
    records: list[dict] = []
    page, pages = 1, 1
    while page <= pages:
        url = _with_page(spec.api_url, page)
        tmp = _tempfile(tmp_dir, Path(spec.path).name + f".api{page}")
        temps.append(tmp)
        _download(url, tmp, path=spec.path, **kw)
        try:
            doc = json.loads(tmp.read_bytes())
        except (ValueError, UnicodeDecodeError) as exc:
            raise RawFileError(url, None, "a World Bank API v2 JSON answer", str(exc)[:200]) from exc
        if (isinstance(doc, list) and doc and isinstance(doc[0], Mapping)
                and "message" in doc[0]):
            raise RawFileError(url, "message", "data for this indicator code", doc[0]["message"])
        if not (isinstance(doc, list) and len(doc) == 2 and isinstance(doc[0], Mapping)):
            raise RawFileError(url, None, "a JSON list [metadata, records]", str(doc)[:200])
        try:
            pages = int(doc[0].get("pages") or 1)
        except (TypeError, ValueError) as exc:
            raise RawFileError(url, "pages", "an integer page count", doc[0].get("pages")) from exc
        records.extend(doc[1] or [])
        page += 1
    return records


def _tempfile(folder: Path, name: str) -> Path:
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    os.close(fd)
    return Path(tmp)


# --------------------------------------------------------------------------------------------
# fetch


def fetch(
    spec: FileSpec,
    cache_dir: str | os.PathLike[str],
    *,
    snapshot_dir: str | os.PathLike[str] | None = None,
    timeout: float = 30,
    retries: int = 4,
    backoff: float = 1.0,
    on_checksum_mismatch: str = "error",
    progress: TextIO | bool = True,
    deadline: float = DEADLINE,
) -> Path:
    """The local path of raw file ``spec``, downloading it into ``cache_dir`` when needed.

    * ``snapshot_dir`` set: returns ``snapshot_dir / spec.path`` (no download, no copy);
      raises :class:`SnapshotMissingError` (naming the file, its URL and the folder) if absent.
    * otherwise, if ``cache_dir / spec.path`` exists it is returned without contacting the
      server; else the URL is downloaded (``timeout`` seconds per connect/read, ``retries``
      retries with ``backoff * 2**k`` s sleeps), ``extract``/``convert`` applied, and the result
      moved into place with :func:`os.replace`. Nothing partial is ever left at the target and
      temporary ``.part`` files are removed on failure. A templated entry whose URL answers
      404 is rebuilt from ``spec.api_url``.

    In every mode the sha256 of the returned file is compared with ``spec.sha256`` (when
    recorded): ``on_checksum_mismatch="error"`` (default) raises :class:`ChecksumMismatchError`
    (and an online download is then not kept), ``"warn"`` emits a
    :class:`ChecksumMismatchWarning`; both name the final file, never the temporary one.
    ``progress``: True for ``sys.stderr``, False for silence, or a text stream.

    Completion of a download is decided by a check, never by the absence of an error: the
    byte count against ``Content-Length``, the chunked transfer framing, or the recorded
    checksum. A body that none of these can check (a server that sends no length for a file
    with no recorded sha256) is refused under ``"error"`` (:class:`UnverifiedDownloadError`)
    and kept with a warning under ``"warn"``. ``deadline`` bounds one whole download (all
    attempts, sleeps and API pages) in seconds. Stale ``.part`` files of this target (left by
    a killed run) are removed first. ``spec.path`` must stay inside ``cache_dir``.
    """
    if on_checksum_mismatch not in ("warn", "error"):
        raise ConfigError("on_checksum_mismatch", on_checksum_mismatch, "'warn' or 'error'")
    if retries < 0 or timeout <= 0 or backoff < 0 or not deadline > 0:
        raise ConfigError("retries/timeout/backoff/deadline", (retries, timeout, backoff, deadline),
                          "retries >= 0, timeout > 0, backoff >= 0, deadline > 0")
    confined_path(spec.path, f"sources.{spec.source}.files.{spec.key}.path")
    stream: TextIO | None = sys.stderr if progress is True else (progress or None)  # type: ignore[assignment]

    if snapshot_dir is not None:
        src = Path(snapshot_dir) / spec.path
        if not src.is_file():
            raise SnapshotMissingError(spec.path, spec.url, Path(snapshot_dir))
        _check(spec, src, on_checksum_mismatch)
        return src

    cache = Path(cache_dir)
    target = cache / spec.path
    if not target.resolve().is_relative_to(cache.resolve()):
        raise ConfigError(f"sources.{spec.source}.files.{spec.key}.path", spec.path,
                          f"a path that stays inside the cache folder {cache}")
    if target.is_file():
        _check(spec, target, on_checksum_mismatch)
        return target

    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in remove_stale_parts(target.parent, target.name):
        _say(stream, f"removed stale temporary file {stale} (left by an interrupted download)")
    kw = {"timeout": timeout, "retries": retries, "backoff": backoff, "progress": stream,
          "label": spec.path, "deadline": deadline, "deadline_at": time.monotonic() + deadline}
    verified = True
    temps: list[Path] = []
    try:
        raw = _tempfile(target.parent, target.name + ".download")
        temps.append(raw)
        try:
            verified = _download(spec.url, raw, path=spec.path, **kw)
            with open(raw, "rb") as fh:
                if fh.read(len(LFS_POINTER)) == LFS_POINTER:
                    raise DownloadError(spec.url, spec.path, "the URL serves a Git LFS pointer, not "
                                        "the file; use the repository's media/LFS download URL")
            result = raw
        except NotFoundError:
            if not (spec.code and spec.api_url):
                raise
            _say(stream, f"{spec.path}: {spec.url} not found (404); using the World Bank API "
                         f"{spec.api_url}")
            records = _wdi_api_records(spec, target.parent, temps, **kw)
            verified = True  # every page parsed as complete JSON
            result = raw
            result.write_bytes(wdi_api_csv(records, name=spec.api_url))
            if result.stat().st_size <= len(",".join(WDI_COLUMNS)) + 2:
                raise RawFileError(spec.api_url, "value", f"at least one value for {spec.code}",
                                   "no values") from None
        if spec.extract:
            out = _tempfile(target.parent, target.name + ".extract")
            temps.append(out)
            out.write_bytes(extract_rows(raw.read_bytes(), spec.extract, name=spec.url))
            result = out
        elif spec.convert == "parquet_to_csv_gz":
            out = _tempfile(target.parent, target.name + ".convert")
            temps.append(out)
            parquet_to_csv_gz(raw, out)
            result = out
        _check(spec, result, on_checksum_mismatch, target)
        if not verified and spec.sha256 is None:
            msg = (f"raw file '{spec.path}' ({target}): the download of {spec.url} cannot be checked "
                   "for completeness: the server sent no Content-Length and no chunked framing, and "
                   f"sources.yaml records no sha256 (key '{record_key(spec)}'); a body cut short "
                   f"would pass unnoticed. Record the checksum of a verified copy (`{RECORD_COMMAND}`) "
                   "or set on_checksum_mismatch: warn to keep it")
            if on_checksum_mismatch == "error":
                raise UnverifiedDownloadError(msg)
            warnings.warn(msg, ChecksumMismatchWarning, stacklevel=2)
        os.chmod(result, 0o644)
        os.replace(result, target)
        temps.remove(result)
    finally:
        for t in temps:
            t.unlink(missing_ok=True)
    return target


def remove_stale_parts(folder: str | os.PathLike[str], name: str | None = None) -> list[Path]:
    """Remove the temporary ``.part`` files that :func:`fetch` leaves when it is killed.

    ``name``: only those of that target file (``.<name>.*.part``); None: every such file under
    ``folder`` (recursively). Returns the removed paths.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = folder.glob(f".{name}.*.part") if name else folder.rglob(".*.part")
    removed = []
    for p in found:
        if p.is_file():
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def local_path(spec: FileSpec, cache_dir: str | os.PathLike[str],
               snapshot_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where :func:`fetch` puts (or finds) ``spec``: ``snapshot_dir/path`` or ``cache_dir/path``.

    Pure path arithmetic (no I/O): for workflow input functions.
    """
    return Path(snapshot_dir if snapshot_dir is not None else cache_dir) / spec.path


def fetch_all(specs: Iterable[FileSpec], cache_dir: str | os.PathLike[str], **kw: Any) -> dict[str, Path]:
    """:func:`fetch` every spec (same keyword arguments); maps each ``spec.path`` to its file."""
    return {s.path: fetch(s, cache_dir, **kw) for s in specs}


# --------------------------------------------------------------------------------------------
# command line


def _default_wdi_codes(cfg: Mapping[str, Any]) -> list[str]:
    """The codes with a recorded ``sha256_by_code`` in the templated WDI entry (snapshot codes)."""
    src = _sources_mapping(cfg).get(WDI_SOURCE) or {}
    codes: list[str] = []
    for f in (src.get("files") or {}).values():
        if isinstance(f, Mapping) and isinstance(f.get("sha256_by_code"), Mapping):
            codes.extend(str(c) for c in f["sha256_by_code"])
    return codes


def record_checksums(sources_file: str | os.PathLike[str], specs: Iterable[FileSpec],
                     raw_dir: str | os.PathLike[str]) -> list[tuple[str, str, str]]:
    """Replace, in ``sources_file`` itself, each recorded sha256 that differs from the file's copy
    under ``raw_dir`` (a deliberate refresh after checking the new files). Comments and layout
    are kept: only the 64-digit value changes. Returns ``(key, old, new)`` per change; a file
    without a recorded checksum is left alone (add its key by hand).
    Raises :class:`SnapshotMissingError` for a file absent from ``raw_dir``.
    """
    path = Path(sources_file)
    text = path.read_text(encoding="utf-8")
    changed = []
    for s in specs:
        f = Path(raw_dir) / s.path
        if not f.is_file():
            raise SnapshotMissingError(s.path, s.url, Path(raw_dir))
        if s.sha256 is None:
            continue
        digest = sha256_file(f)
        if digest != s.sha256 and text.count(s.sha256) == 1:
            text = text.replace(s.sha256, digest)
            changed.append((record_key(s), s.sha256, digest))
    if changed:
        path.write_text(text, encoding="utf-8")
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    """Fetch every raw file of ``--sources`` into ``--cache`` (or check them in ``--snapshot``)."""
    import yaml

    ap = argparse.ArgumentParser(prog="python -m dlddrivers.retrieve", description=__doc__.split("\n")[0])
    ap.add_argument("--sources", default="config/sources.yaml", type=Path)
    ap.add_argument("--cache", default="data/raw", type=Path)
    ap.add_argument("--snapshot", type=Path, default=None, help="read-only raw folder (no download)")
    ap.add_argument("--wdi", nargs="*", default=None, metavar="CODE",
                    help="WDI codes (default: the codes with sha256_by_code in sources.yaml)")
    ap.add_argument("--only", nargs="*", default=None, metavar="SOURCE", help="only these sources")
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--retries", type=int, default=4)
    ap.add_argument("--backoff", type=float, default=1.0)
    ap.add_argument("--deadline", type=float, default=DEADLINE,
                    help="overall seconds per download, retries included")
    ap.add_argument("--on-checksum-mismatch", choices=["warn", "error"], default="error")
    ap.add_argument("--manifest", type=Path, default=None, help="write the provenance CSV here")
    ap.add_argument("--record-checksums", action="store_true",
                    help="deliberately replace the recorded sha256 of every file whose copy in "
                         "--snapshot (or --cache) differs, in the --sources file itself")
    args = ap.parse_args(argv)

    cfg = yaml.safe_load(args.sources.read_text(encoding="utf-8"))
    codes = args.wdi if args.wdi is not None else _default_wdi_codes(cfg)
    specs = resolve(cfg, codes)
    if args.only:
        specs = [s for s in specs if s.source in set(args.only)]
    if args.record_checksums:
        raw = args.snapshot if args.snapshot is not None else args.cache
        changed = record_checksums(args.sources, specs, raw)
        for key, old, new in changed:
            _say(sys.stderr, f"recorded {key}: {old} -> {new}")
        _say(sys.stderr, f"{len(changed)} checksum(s) changed in {args.sources}")
        return 0
    if args.snapshot is None:
        for stale in remove_stale_parts(args.cache):
            _say(sys.stderr, f"removed stale temporary file {stale} (left by an interrupted download)")
    failures: list[str] = []
    for s in specs:
        try:
            p = fetch(s, args.cache, snapshot_dir=args.snapshot, timeout=args.timeout,
                      retries=args.retries, backoff=args.backoff, deadline=args.deadline,
                      on_checksum_mismatch=args.on_checksum_mismatch)
            _say(sys.stderr, f"ok {p}")
        except (DLDError, OSError) as exc:
            failures.append(f"{s.path}: {exc}")
            _say(sys.stderr, f"FAILED {exc}")
    if args.manifest is not None and not failures:
        raw = args.snapshot if args.snapshot is not None else args.cache
        args.manifest.parent.mkdir(parents=True, exist_ok=True)
        manifest(specs, raw).to_csv(args.manifest, index=False)
    if failures:
        print(f"retrieve: {len(failures)} of {len(specs)} files failed:", file=sys.stderr)
        for f in failures:
            print(f"  {f}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
