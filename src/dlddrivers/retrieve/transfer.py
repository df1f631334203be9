"""HTTP transfer: one URL into one local file, with retries, backoff, timeouts and a deadline.

:func:`download` retries HTTP 5xx/408/425/429, connection errors, timeouts and truncated bodies
with exponential backoff, fails at once on 404/410 (:class:`~.errors.NotFoundError`) and on a web
page served instead of a data file, bounds all attempts by an overall deadline and prints
throttled progress lines for large files. Temporary files are ``.<name>.*.part`` in the target's
folder (:func:`tempfile_in`); :func:`remove_stale_parts` removes those a killed run left behind.
Nothing here knows about ``sources.yaml``.
"""

from __future__ import annotations

import http.client
import os
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TextIO

from .errors import DownloadError, NotFoundError

__all__ = ["DEADLINE", "download", "remove_stale_parts", "say", "tempfile_in"]

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
#: Default overall deadline (seconds) of one download, retries included.
DEADLINE = 900.0


class _Transient(Exception):
    """A failure worth retrying (5xx, connection error, timeout, truncated body)."""


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


def say(stream: TextIO | None, msg: str) -> None:
    """Print ``retrieve: msg`` on ``stream`` (nothing when None)."""
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


def download(url: str, dest: Path, *, path: str, timeout: float, retries: int, backoff: float,
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
            say(progress, f"{label}: {exc}; retry {attempt}/{retries} in {delay:.2f} s")
            time.sleep(delay)


def tempfile_in(folder: Path, name: str) -> Path:
    """A new empty ``.<name>.*.part`` file in ``folder`` (the caller removes it)."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    os.close(fd)
    return Path(tmp)


def remove_stale_parts(folder: str | os.PathLike[str], name: str | None = None) -> list[Path]:
    """Remove the temporary ``.part`` files that :func:`~.cache.fetch` leaves when it is killed.

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
