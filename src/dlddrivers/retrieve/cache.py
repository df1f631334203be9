"""Obtain one raw file: read it in place from the snapshot, or download it into the cache.

:func:`fetch` joins the other jobs for one :class:`~.specs.FileSpec`: the snapshot or cache
lookup, the HTTP transfer (:mod:`.transfer`), the Git LFS pointer check, the World Bank API
fallback (:mod:`.wdi_api`), the extraction or conversion (:mod:`.extract`), the checksum of the
result (:mod:`.integrity`) and the atomic move into place. :func:`local_path` is the same path
arithmetic without I/O, for workflow input functions.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from ..errors import ConfigError
from .errors import (
    RECORD_COMMAND,
    ChecksumMismatchWarning,
    DownloadError,
    NotFoundError,
    SnapshotMissingError,
    UnverifiedDownloadError,
)
from .extract import extract_rows, parquet_to_csv_gz
from .integrity import check_spec
from .specs import FileSpec, confined_path, record_key
from .transfer import DEADLINE, download, remove_stale_parts, say, tempfile_in
from .wdi_api import wdi_api_file

__all__ = ["LFS_POINTER", "fetch", "fetch_all", "local_path"]

#: First bytes of a Git LFS pointer file (served instead of the file by a wrong URL).
LFS_POINTER = b"version https://git-lfs.github.com/spec/"


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
        check_spec(spec, src, on_checksum_mismatch)
        return src

    cache = Path(cache_dir)
    target = cache / spec.path
    if not target.resolve().is_relative_to(cache.resolve()):
        raise ConfigError(f"sources.{spec.source}.files.{spec.key}.path", spec.path,
                          f"a path that stays inside the cache folder {cache}")
    if target.is_file():
        check_spec(spec, target, on_checksum_mismatch)
        return target

    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in remove_stale_parts(target.parent, target.name):
        say(stream, f"removed stale temporary file {stale} (left by an interrupted download)")
    kw = {"timeout": timeout, "retries": retries, "backoff": backoff, "progress": stream,
          "label": spec.path, "deadline": deadline, "deadline_at": time.monotonic() + deadline}
    temps: list[Path] = []

    def temp(suffix: str) -> Path:
        temps.append(tempfile_in(target.parent, target.name + suffix))
        return temps[-1]

    def get_page(url: str, page: int) -> bytes:
        tmp = temp(f".api{page}")
        download(url, tmp, path=spec.path, **kw)
        return tmp.read_bytes()

    try:
        raw = result = temp(".download")
        try:
            verified = download(spec.url, raw, path=spec.path, **kw)
            with open(raw, "rb") as fh:
                if fh.read(len(LFS_POINTER)) == LFS_POINTER:
                    raise DownloadError(spec.url, spec.path, "the URL serves a Git LFS pointer, not "
                                        "the file; use the repository's media/LFS download URL")
        except NotFoundError:
            if not (spec.code and spec.api_url):
                raise
            say(stream, f"{spec.path}: {spec.url} not found (404); using the World Bank API "
                        f"{spec.api_url}")
            raw.write_bytes(wdi_api_file(spec.api_url, spec.code, get_page))
            verified = True  # every page parsed as complete JSON
        if spec.extract:
            result = temp(".extract")
            result.write_bytes(extract_rows(raw.read_bytes(), spec.extract, name=spec.url))
        elif spec.convert == "parquet_to_csv_gz":
            result = temp(".convert")
            parquet_to_csv_gz(raw, result)
        check_spec(spec, result, on_checksum_mismatch, target)
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


def local_path(spec: FileSpec, cache_dir: str | os.PathLike[str],
               snapshot_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where :func:`fetch` puts (or finds) ``spec``: ``snapshot_dir/path`` or ``cache_dir/path``.

    Pure path arithmetic (no I/O): for workflow input functions.
    """
    return Path(snapshot_dir if snapshot_dir is not None else cache_dir) / spec.path


def fetch_all(specs: Iterable[FileSpec], cache_dir: str | os.PathLike[str], **kw: Any) -> dict[str, Path]:
    """:func:`fetch` every spec (same keyword arguments); maps each ``spec.path`` to its file."""
    return {s.path: fetch(s, cache_dir, **kw) for s in specs}
