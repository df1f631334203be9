"""The indicator catalogue (``config/catalogue.yaml``): what each indicator is and where it comes from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import ConfigError

DOMAINS = ("climate", "grazing", "agriculture", "mining", "land_use", "population", "impact", "outcome")
BIOPHYSICAL = ("climate",)
ANTHROPOGENIC = ("grazing", "agriculture", "mining", "land_use", "population")
LEVELS = ("country", "aimag")
#: The keys a catalogue entry may have.
ENTRY_KEYS = frozenset({"label", "domain", "level", "measure", "source", "code", "formula", "months",
                        "how", "path", "note", "better"})
#: Values of ``better`` (which direction of an outcome or impact is an improvement).
BETTER = ("lower", "higher")
#: Domains whose entries must say which direction is better.
DIRECTED_DOMAINS = ("outcome", "impact")


@dataclass
class Entry:
    """One catalogue indicator."""

    id: str
    label: str
    domain: str
    level: str
    measure: str
    source: str | None = None
    code: str | None = None
    formula: str | None = None
    months: list[int] | None = None
    how: str | None = None
    path: str | None = None
    note: str = ""
    better: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def derived(self) -> bool:
        return self.formula is not None

    def provider_code(self, climate_product: str = "cru") -> str | None:
        """The reader's code, with ``{climate_product}`` filled in."""
        return None if self.code is None else self.code.replace("{climate_product}", climate_product)


@dataclass
class Catalogue:
    entries: dict[str, Entry]
    path: str = "config/catalogue.yaml"

    @classmethod
    def from_yaml(cls, path: str | Path, sources: dict | None = None) -> Catalogue:
        """Load and check the catalogue: required keys, known domain/level/source, valid formulas."""
        from .derived import parse_formula

        path = Path(path)
        with open(path, encoding="utf-8") as fh:
            raw = yaml.safe_load(fh) or {}
        entries: dict[str, Entry] = {}
        known = set((raw.get("indicators") or {}).keys())
        for iid, spec in (raw.get("indicators") or {}).items():
            key = f"indicators.{iid}"
            if not isinstance(spec, dict):
                raise ConfigError(key, spec, "a mapping", str(path))
            unknown_keys = sorted(set(spec) - ENTRY_KEYS)
            if unknown_keys:
                raise ConfigError(f"{key}.{unknown_keys[0]}", spec[unknown_keys[0]],
                                  f"only the keys {sorted(ENTRY_KEYS)} (an unquoted comma in a "
                                  "flow-style entry splits a value into a new key)", str(path))
            for req in ("domain", "level", "measure"):
                if req not in spec:
                    raise ConfigError(f"{key}.{req}", None, "a value", str(path))
            if spec["domain"] not in DOMAINS:
                raise ConfigError(f"{key}.domain", spec["domain"], f"one of {DOMAINS}", str(path))
            if "better" in spec and spec["better"] not in BETTER:
                raise ConfigError(f"{key}.better", spec["better"], f"one of {BETTER}", str(path))
            if spec["level"] not in LEVELS:
                raise ConfigError(f"{key}.level", spec["level"], f"one of {LEVELS}", str(path))
            has_formula = "formula" in spec
            has_source = "source" in spec
            if has_formula == has_source:
                raise ConfigError(key, sorted(spec), "exactly one of 'formula' or 'source'", str(path))
            if has_source:
                src = spec["source"]
                if src == "csv":
                    if "path" not in spec:
                        raise ConfigError(f"{key}.path", None, "the path of a unit,year,value CSV", str(path))
                elif sources is not None and src not in sources:
                    raise ConfigError(f"{key}.source", src, f"a source of config/sources.yaml {sorted(sources)}", str(path))
                elif "code" not in spec:
                    raise ConfigError(f"{key}.code", None, "the provider code the source's reader emits", str(path))
                if "months" in spec:
                    months = spec["months"]
                    if not (isinstance(months, list) and months and all(isinstance(m, int) and 1 <= m <= 12 for m in months)):
                        raise ConfigError(f"{key}.months", months, "a list of months 1-12", str(path))
                    if spec.get("how") not in ("sum", "mean"):
                        raise ConfigError(f"{key}.how", spec.get("how"), "'sum' or 'mean'", str(path))
            else:
                try:
                    names = parse_formula(str(spec["formula"])).names
                except ValueError as exc:
                    raise ConfigError(f"{key}.formula", spec["formula"], str(exc), str(path)) from exc
                unknown = sorted(names - known)
                if unknown:
                    raise ConfigError(f"{key}.formula", spec["formula"],
                                      f"only catalogue indicator names (unknown: {unknown})", str(path))
            if spec["domain"] in DIRECTED_DOMAINS and "better" not in spec:
                raise ConfigError(f"{key}.better", None,
                                  f"'lower' or 'higher' (which direction of an {spec['domain']} is an "
                                  "improvement; every outcome and impact says it once, here)", str(path))
            entries[iid] = Entry(
                id=iid,
                label=str(spec.get("label", iid)),
                domain=spec["domain"],
                level=spec["level"],
                measure=str(spec["measure"]),
                source=spec.get("source"),
                code=None if spec.get("code") is None else str(spec["code"]),
                formula=None if not has_formula else str(spec["formula"]),
                months=spec.get("months"),
                how=spec.get("how"),
                path=spec.get("path"),
                note=str(spec.get("note", "")),
                better=str(spec.get("better", "")),
                extra={k: v for k, v in spec.items() if k not in {
                    "label", "domain", "level", "measure", "source", "code", "formula", "months",
                    "how", "path", "note", "better"}},
            )
        cat = cls(entries=entries, path=str(path))
        cat.dependency_order(list(entries))  # raises on cycles
        return cat

    def dependencies(self, iid: str) -> set[str]:
        from .derived import parse_formula

        e = self.entries[iid]
        return parse_formula(e.formula).names if e.derived else set()

    def closure(self, ids: list[str]) -> list[str]:
        """All indicators needed to compute ``ids`` (raw and derived), in evaluation order."""
        return self.dependency_order(ids)

    def dependency_order(self, ids: list[str]) -> list[str]:
        order: list[str] = []
        state: dict[str, int] = {}

        def visit(i: str, chain: list[str]) -> None:
            if state.get(i) == 2:
                return
            if state.get(i) == 1:
                raise ConfigError(f"indicators.{i}.formula", " -> ".join(chain + [i]), "no circular formulas", self.path)
            if i not in self.entries:
                raise ConfigError("indicators", i, "an indicator id of the catalogue", self.path)
            state[i] = 1
            for d in sorted(self.dependencies(i)):
                visit(d, chain + [i])
            state[i] = 2
            order.append(i)

        for i in ids:
            visit(i, [])
        return order

    def raw_needed(self, ids: list[str]) -> list[Entry]:
        return [self.entries[i] for i in self.closure(ids) if not self.entries[i].derived]
