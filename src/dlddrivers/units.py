"""The unit registry: every spatial unit and every name or code the sources use for it.

The registry is data (``config/units.yaml``). Countries are keyed by ISO3, Mongolian aimags by
``MN<NSO code>``. Lookups that fail raise :class:`UnknownUnitError` naming the value and the
file, except where a caller explicitly asks for a non-raising lookup (global files hold many
countries outside any study).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .errors import ConfigError, UnknownUnitError
from .yamlio import load_yaml

LEVELS = ("country", "aimag", "grid")


def _norm(name: str) -> str:
    """Normalise a name for matching: strip accents, case, spaces, apostrophes and hyphens."""
    s = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    return "".join(ch for ch in s.lower() if ch.isalnum())


def _tile(uid: str, value: object, path: str) -> tuple[float, float, float, float] | None:
    """A country's ``tile: [x, y, width, height]`` (tile units; width and height > 0)."""
    if value is None:
        return None
    ok = (isinstance(value, (list, tuple)) and len(value) == 4
          and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value))
    if not ok or value[0] < 0 or value[1] < 0 or value[2] <= 0 or value[3] <= 0:
        raise ConfigError(f"countries.{uid}.tile", value,
                          "[x, y, width, height]: four numbers, x and y >= 0, width and height > 0", path)
    return (float(value[0]), float(value[1]), float(value[2]), float(value[3]))


def _boundary(unit: str, decl: object, registry_file: str) -> dict | None:
    """A country's ``boundary`` declaration, checked (see :mod:`dlddrivers.sources.boundaries`)."""
    if decl is None:
        return None
    where = f"countries.{unit}.boundary"
    if not isinstance(decl, Mapping):
        raise ConfigError(where, decl, "a mapping with source, file and code_field", registry_file)
    for key in ("source", "file", "code_field"):
        if not isinstance(decl.get(key), str) or not decl.get(key):
            raise ConfigError(f"{where}.{key}", decl.get(key), "a non-empty string", registry_file)
    outside = decl.get("outside") or {}
    if not isinstance(outside, Mapping):
        raise ConfigError(f"{where}.outside", outside, "a mapping feature code -> name", registry_file)
    unknown = sorted(set(decl) - {"source", "file", "code_field", "outside"})
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}", decl[unknown[0]],
                          "one of the keys source, file, code_field, outside", registry_file)
    return {"source": decl["source"], "file": decl["file"], "code_field": decl["code_field"],
            "outside": {str(k): str(v) for k, v in outside.items()}}


@dataclass
class Unit:
    """One spatial unit."""

    id: str
    level: str
    name: str
    names: list[str] = field(default_factory=list)
    fao: int | None = None
    m49: int | None = None
    nso_code: str | None = None
    country: str | None = None
    #: Place on the national maps' tile grid: (x, y, width, height) in tile units (countries).
    tile: tuple[float, float, float, float] | None = None
    #: Declared boundary file (countries): ``{source, file, code_field, outside}``, see
    #: :mod:`dlddrivers.sources.boundaries`.
    boundary: dict | None = None


@dataclass
class UnitRegistry:
    """All units, with lookups by every code and spelling the sources use."""

    units: dict[str, Unit]
    aggregates: dict[str, set[str]]
    path: str = "config/units.yaml"
    #: Grid regions (level ``grid``): id -> spec with ``cell_sizes_km``. Their cells are not
    #: listed: readers generate cell ids ``<region>_<km>km_<row>`` from the data.
    grids: dict[str, dict] = field(default_factory=dict)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_yaml(cls, path: str | Path) -> UnitRegistry:
        """Load the registry from YAML; every entry is checked for required keys."""
        return cls.from_dict(load_yaml(path) or {}, path)

    @classmethod
    def from_dict(cls, raw: dict, path: str | Path = "config/units.yaml") -> UnitRegistry:
        """Build the registry from its parsed mapping (``countries``, ``aimags``, ``aggregates``);
        ``path`` names the file in errors."""
        units: dict[str, Unit] = {}
        for uid, spec in (raw.get("countries") or {}).items():
            for key in ("name", "fao", "m49"):
                if key not in spec:
                    raise ConfigError(f"countries.{uid}.{key}", None, "a value", str(path))
            units[uid] = Unit(
                id=uid,
                level="country",
                name=spec["name"],
                names=list(spec.get("names", [])) + [spec["name"], uid],
                fao=int(spec["fao"]),
                m49=int(spec["m49"]),
                tile=_tile(uid, spec.get("tile"), str(path)),
                boundary=_boundary(uid, spec.get("boundary"), str(path)),
            )
        for uid, spec in (raw.get("aimags") or {}).items():
            for key in ("name", "nso_code", "country"):
                if key not in spec:
                    raise ConfigError(f"aimags.{uid}.{key}", None, "a value", str(path))
            units[uid] = Unit(
                id=uid,
                level="aimag",
                name=spec["name"],
                names=list(spec.get("names", [])) + [spec["name"]],
                nso_code=str(spec["nso_code"]),
                country=spec["country"],
            )
        grids: dict[str, dict] = {}
        for uid, spec in (raw.get("grids") or {}).items():
            for key in ("name", "country", "cell_sizes_km"):
                if key not in spec:
                    raise ConfigError(f"grids.{uid}.{key}", None, "a value", str(path))
            sizes = spec["cell_sizes_km"]
            if not (isinstance(sizes, list) and sizes
                    and all(isinstance(k, int) and k > 0 for k in sizes)):
                raise ConfigError(f"grids.{uid}.cell_sizes_km", sizes,
                                  "a list of positive integer cell sizes in km", str(path))
            units[uid] = Unit(id=uid, level="grid", name=spec["name"],
                              names=[spec["name"], uid], country=spec["country"])
            grids[uid] = dict(spec)
        aggregates = {k: {str(v) for v in vals} for k, vals in (raw.get("aggregates") or {}).items()}
        reg = cls(units=units, aggregates=aggregates, path=str(path), grids=grids)
        reg._check_unique()
        return reg

    def _check_unique(self) -> None:
        for level in LEVELS:
            seen: dict[str, str] = {}
            for u in self.of_level(level):
                for n in u.names:
                    k = _norm(n)
                    if k in seen and seen[k] != u.id:
                        raise ConfigError(
                            f"{level}.{u.id}.names", n, f"a name not already used by {seen[k]}", self.path
                        )
                    seen[k] = u.id

    # ------------------------------------------------------------------ queries
    def of_level(self, level: str) -> list[Unit]:
        return [u for u in self.units.values() if u.level == level]

    def ids(self, level: str) -> list[str]:
        return [u.id for u in self.of_level(level)]

    def name(self, uid: str) -> str:
        return self.units[uid].name if uid in self.units else uid

    def is_aggregate(self, kind: str, value: object) -> bool:
        return str(value) in self.aggregates.get(kind, set())

    def by_name(
        self, name: str, level: str, *, file: str = "?", field: str = "name", strict: bool = True
    ) -> str | None:
        """Unit id for a spelling; unknown names raise (strict) or return None."""
        key = _norm(name)
        for u in self.of_level(level):
            if key in {_norm(n) for n in u.names}:
                return u.id
        if strict:
            raise UnknownUnitError(file, field, f"a {level} name listed in {self.path}", name)
        return None

    def by_code(self, kind: str, code: object, *, file: str = "?", field: str = "code",
                strict: bool = False) -> str | None:
        """Unit id for a provider code: kind is 'iso3', 'fao', 'm49' or 'nso'."""
        code_s = str(code).strip()
        for u in self.units.values():
            if kind == "iso3" and u.level == "country" and u.id == code_s.upper():
                return u.id
            if kind == "fao" and u.fao is not None and str(u.fao) == code_s:
                return u.id
            if kind == "m49" and u.m49 is not None and str(u.m49) == code_s:
                return u.id
            if kind == "nso" and u.nso_code is not None and u.nso_code == code_s:
                return u.id
        if strict:
            raise UnknownUnitError(file, field, f"a {kind} code listed in {self.path}", code)
        return None

    def map_names(self, names: Iterable[str], level: str, *, file: str, field: str) -> dict[str, str]:
        """Map every distinct name to a unit id; the first unknown name raises."""
        return {n: self.by_name(n, level, file=file, field=field) for n in sorted(set(names))}

    def frame(self) -> pd.DataFrame:
        """The registry as a table (one row per unit)."""
        return pd.DataFrame(
            [
                {"unit": u.id, "level": u.level, "name": u.name, "fao": u.fao, "m49": u.m49,
                 "nso_code": u.nso_code, "country": u.country}
                for u in self.units.values()
            ]
        )
