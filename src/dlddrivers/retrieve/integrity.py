"""Integrity of raw files: sha256 checksums, their comparison with ``sources.yaml``, provenance.

:func:`sha256_file` hashes a file; :func:`check_spec` and :func:`verify_file` compare it with
the recorded checksum and raise :class:`~.errors.ChecksumMismatchError` or warn
(:class:`~.errors.ChecksumMismatchWarning`) per the ``on_checksum_mismatch`` policy;
:func:`manifest` tabulates the provenance of a raw folder; :func:`record_checksums` refreshes the
recorded checksums deliberately (the command named in every mismatch message).
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from ..errors import ConfigError
from .errors import (
    ChecksumMismatchError,
    ChecksumMismatchWarning,
    SnapshotMissingError,
    mismatch_message,
)
from .specs import FileSpec, record_key

__all__ = ["check_spec", "manifest", "record_checksums", "sha256_file", "verify_file"]

#: Bytes hashed per ``read()`` call.
HASH_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of the file at ``path`` (read in chunks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(HASH_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _judge(digest: str, recorded: str | None, policy: str, *, path: str, url: str, where: Path,
           key: str, stacklevel: int) -> str:
    """``digest`` if it equals ``recorded`` (or nothing is recorded); else raise under
    ``policy="error"`` or warn (``stacklevel`` counted from the caller of this function)."""
    if recorded is not None and digest != recorded:
        if policy == "error":
            raise ChecksumMismatchError(path, url, recorded, digest, where, key)
        warnings.warn(mismatch_message(path, url, recorded, digest, where, key),
                      ChecksumMismatchWarning, stacklevel=stacklevel + 1)
    return digest


def check_spec(spec: FileSpec, file: Path, policy: str, target: Path | None = None) -> str:
    """sha256 of ``file``; compare with ``spec.sha256`` and warn/raise per ``policy``.

    Messages name ``target`` (the final file) when ``file`` is a temporary one; a warning points
    at the caller of the function that called this one (:func:`~.cache.fetch`'s caller).
    """
    return _judge(sha256_file(file), spec.sha256, policy, path=spec.path, url=spec.url,
                  where=target if target is not None else file, key=record_key(spec), stacklevel=3)


def verify_file(path: str | os.PathLike[str], recorded: str | None, *, policy: str = "error",
                url: str = "", key: str = "") -> str:
    """sha256 of the file at ``path`` compared with ``recorded`` (skipped when None).

    A mismatch raises :class:`ChecksumMismatchError` (``policy="error"``) or warns
    (:class:`ChecksumMismatchWarning`, ``"warn"``); both name the file, both hashes, the
    ``sources.yaml`` ``key`` and the command that records a new checksum deliberately.
    """
    if policy not in ("warn", "error"):
        raise ConfigError("on_checksum_mismatch", policy, "'warn' or 'error'")
    return _judge(sha256_file(path), recorded, policy, path=str(path), url=url, where=Path(path),
                  key=key, stacklevel=2)


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
