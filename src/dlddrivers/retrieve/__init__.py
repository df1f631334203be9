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

One module per job: :mod:`.specs` (which files, where), :mod:`.errors`, :mod:`.integrity`
(checksums, manifest), :mod:`.transfer` (HTTP), :mod:`.extract` (subsets and conversions),
:mod:`.wdi_api` (World Bank API client), :mod:`.cache` (:func:`fetch`: one file, end to end) and
:mod:`.cli` (``python -m dlddrivers.retrieve --help``).

Why not pooch (1.9): it could replace at most the request, stream, retry loop and progress bar
of :mod:`.transfer` (about 70 of its 136 code lines), but it retries every ``requests`` error
alike (404 too) with linear sleeps, has no overall deadline, no HTML-page or LFS-pointer check,
no refusal of a body nothing can verify, no stale ``.part`` cleanup, and hashes the download,
not the extracted result: keeping those needs a custom downloader holding the same code. The
Snakemake http storage plugin serves rules only (not this API) with a plain GET and no checksum.
"""

from __future__ import annotations

from .cache import fetch, fetch_all, local_path
from .cli import main
from .errors import (
    RECORD_COMMAND,
    ChecksumMismatchError,
    ChecksumMismatchWarning,
    DownloadError,
    NotFoundError,
    RetrieveError,
    SnapshotMissingError,
    UnverifiedDownloadError,
)
from .extract import extract_rows, parquet_to_csv_gz
from .integrity import manifest, record_checksums, sha256_file, verify_file
from .specs import (
    FileSpec,
    check_code,
    confined_path,
    record_key,
    resolve,
    spec_for_path,
    specs_frame,
)
from .transfer import DEADLINE, remove_stale_parts
from .wdi_api import wdi_api_csv

__all__ = [
    "DEADLINE",
    "RECORD_COMMAND",
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
