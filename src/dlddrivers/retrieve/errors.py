"""Errors of retrieval: what failed, for which raw file, and how to put it right.

Every message names the raw file (its path under the raw folder), the URL or folder involved and
what was expected; a checksum mismatch also names the ``sources.yaml`` key and
:data:`RECORD_COMMAND`, the command that records a new checksum deliberately.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DLDError

__all__ = [
    "RECORD_COMMAND",
    "ChecksumMismatchError",
    "ChecksumMismatchWarning",
    "DownloadError",
    "NotFoundError",
    "RetrieveError",
    "SnapshotMissingError",
    "UnverifiedDownloadError",
    "mismatch_message",
]

#: How to refresh recorded checksums deliberately (named in every mismatch message).
RECORD_COMMAND = ("python -m dlddrivers.retrieve --sources config/sources.yaml "
                  "--snapshot <raw folder> --record-checksums")


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
        super().__init__(mismatch_message(path, url, expected, found, where, key))


class ChecksumMismatchWarning(UserWarning):
    """Warning category for a checksum mismatch under ``on_checksum_mismatch="warn"``."""


class UnverifiedDownloadError(RetrieveError):
    """A download whose completeness nothing could check (no Content-Length, no chunked framing,
    no recorded checksum)."""


def mismatch_message(path: str, url: str, expected: str, found: str, where: Path, key: str = "") -> str:
    """The text of a checksum mismatch (error or warning): file, both hashes, key, remedy."""
    at = f" at key '{key}'" if key else ""
    return (
        f"raw file '{path}' ({where}): field 'sha256': expected {expected} as recorded in "
        f"sources.yaml{at}; found {found} (upstream {url} changed, or the local copy is corrupt "
        f"or truncated). If the new file is right, record its checksum deliberately: "
        f"`{RECORD_COMMAND}` (or edit that key), or set on_checksum_mismatch: warn to read it anyway"
    )
