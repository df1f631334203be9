"""File specifications: which raw files ``config/sources.yaml`` asks for, and where they live.

:func:`resolve` turns the parsed ``sources.yaml`` into one :class:`FileSpec` per raw file
(templated entries expanded once per indicator code), checking every entry and naming its key
on error. The path helpers (:func:`confined_path`, :func:`check_code`) keep every file inside
the raw folder; :func:`record_key` names the key that records a file's checksum. No I/O here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import ConfigError

__all__ = [
    "CODE_PATTERN",
    "CONVERTERS",
    "WDI_SOURCE",
    "FileSpec",
    "check_code",
    "confined_path",
    "default_wdi_codes",
    "is_sha256",
    "record_key",
    "resolve",
    "sources_mapping",
    "spec_for_path",
    "specs_frame",
]

CONVERTERS = ("parquet_to_csv_gz",)
#: The templated source expanded over ``wdi_codes`` in :func:`resolve`.
WDI_SOURCE = "wdi"
#: A provider code that fills ``{code}`` in a path: dot-separated lower-case words (WDI style).
CODE_PATTERN = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")


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


def is_sha256(value: object) -> bool:
    """True for a string of 64 lower-case hex digits."""
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def sources_mapping(sources_cfg: Mapping[str, Any]) -> Mapping[str, Any]:
    """Accept the whole ``sources.yaml`` document or its ``sources`` mapping."""
    if not isinstance(sources_cfg, Mapping):
        raise ConfigError("sources", type(sources_cfg).__name__, "a mapping (parsed sources.yaml)")
    inner = sources_cfg.get("sources", sources_cfg)
    if not isinstance(inner, Mapping):
        raise ConfigError("sources", type(inner).__name__, "a mapping of source name -> entry")
    return inner


def default_wdi_codes(cfg: Mapping[str, Any]) -> list[str]:
    """The codes with a recorded ``sha256_by_code`` in the templated WDI entry (snapshot codes)."""
    src = sources_mapping(cfg).get(WDI_SOURCE) or {}
    codes: list[str] = []
    for f in (src.get("files") or {}).values():
        if isinstance(f, Mapping) and isinstance(f.get("sha256_by_code"), Mapping):
            codes.extend(str(c) for c in f["sha256_by_code"])
    return codes


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
    sources = sources_mapping(sources_cfg)
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
            if sha is not None and not is_sha256(sha):
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
