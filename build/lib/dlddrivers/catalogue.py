"""The indicator catalogue (``config/catalogue.yaml``): what each indicator is and where it comes from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError
from .yamlio import load_yaml

#: The one definition of the indicator domains and the driver group each belongs to. Every
#: other module (methods, causal, summary, plots, config checks) derives its groups from here.
#: ``other`` marks domains that are not drivers (outcomes and impacts).
DOMAIN_GROUPS: dict[str, str] = {
    "climate": "biophysical",
    "grazing": "anthropogenic",
    "agriculture": "anthropogenic",
    "mining": "anthropogenic",
    "land_use": "anthropogenic",
    "population": "anthropogenic",
    "economy": "anthropogenic",
    "impact": "other",
    "outcome": "other",
}
#: The indicator domains, in the order figures and tables list them.
DOMAINS: tuple[str, ...] = tuple(DOMAIN_GROUPS)
#: The two driver groups an attribution splits into.
GROUPS: tuple[str, ...] = ("biophysical", "anthropogenic")
#: Domains of the biophysical (climate) drivers.
BIOPHYSICAL: tuple[str, ...] = tuple(d for d, g in DOMAIN_GROUPS.items() if g == "biophysical")
#: Domains of the anthropogenic drivers.
ANTHROPOGENIC: tuple[str, ...] = tuple(d for d, g in DOMAIN_GROUPS.items() if g == "anthropogenic")
LEVELS = ("country", "aimag", "grid")
#: What every study at a level must be read with (wording only, no numbers); the summary's
#: caveats section prints the entry of the study's level.
LEVEL_CAVEATS: dict[str, str] = {
    "country": (
        "Country values are means or totals over the whole national territory (climate averaged "
        "over all of Russia or Japan, land-cover shares of the whole land area), not over the "
        "drylands where degradation happens; a national share can hide opposite local changes."
    ),
}


def group_of_domain(domain: str | None) -> str:
    """``"biophysical"``, ``"anthropogenic"`` or ``"other"`` for an indicator domain
    (:data:`DOMAIN_GROUPS`; unknown domains are ``"other"``, never silently a driver group)."""
    return DOMAIN_GROUPS.get(str(domain), "other") if domain is not None else "other"
#: The keys a catalogue entry may have. ``categories`` declares a categorical indicator: the
#: class labels in the order of their codes 1..K; ``ordered: true`` says the classes are ordered
#: in that order (e.g. very low < ... < very high), otherwise they are unordered labels.
ENTRY_KEYS = frozenset({"label", "domain", "level", "measure", "source", "code", "formula", "months",
                        "how", "path", "note", "valid_min", "valid_max", "sentinels",
                        "categories", "ordered", "better", "caveat"})
#: Values that providers use for "missing"; never a measurement (per entry: ``sentinels``).
DEFAULT_SENTINELS = (-999.0, -9999.0, -99999.0)
#: Plausible range by measurement unit (first pattern found in the ``measure`` wins; an entry's
#: ``valid_min``/``valid_max`` override it, ``null`` meaning no bound). Measures that match no
#: pattern get no range (only the sentinel check).
MEASURE_RANGES: tuple[tuple[str, float | None, float | None], ...] = (
    (r"^%|\bpercent\b|% of", 0.0, 100.0),
    (r"^fraction", 0.0, 1.0),
    (r"degC|°C", -90.0, 60.0),
    (r"^SPEI", -10.0, 10.0),
    (r"^mm\b", 0.0, None),
    (r"km2|\bha\b|\bhead\b|people|sheep units|licences|plots|\bMt\b|\bEJ\b|\bkg\b|kg/ha|c/ha|"
     r"\bt per\b|\bTJ\b", 0.0, None),
)
#: ``caveat``: a sentence that holds whenever a study uses the indicator (printed in the
#: summary's caveats; carried to results in the data dictionary).
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
    valid_min: float | None = None
    valid_max: float | None = None
    sentinels: tuple[float, ...] = DEFAULT_SENTINELS
    categories: list[str] | None = None
    ordered: bool = False
    better: str = ""
    #: A sentence every study that uses the indicator must be read with ("" if none).
    caveat: str = ""
    extra: dict = field(default_factory=dict)
    #: The entry as written in the catalogue (for config slices and provenance).
    spec: dict = field(default_factory=dict)

    @property
    def categorical(self) -> bool:
        """True for a class variable (values are codes 1..K of ``categories``)."""
        return bool(self.categories)

    @property
    def derived(self) -> bool:
        return self.formula is not None

    def provider_code(self, climate_product: str = "cru") -> str | None:
        """The reader's code, with ``{climate_product}`` filled in."""
        return None if self.code is None else self.code.replace("{climate_product}", climate_product)

    def valid_range_text(self) -> str:
        lo = "-inf" if self.valid_min is None else f"{self.valid_min:g}"
        hi = "inf" if self.valid_max is None else f"{self.valid_max:g}"
        return f"[{lo}, {hi}] {self.measure}"

    def implausible(self, values):  # noqa: ANN001, ANN201 - a pandas Series in and out
        """Boolean mask of ``values`` outside ``[valid_min, valid_max]`` or equal to a sentinel
        (missing values are not implausible)."""
        import numpy as np

        v = values.astype(float)
        bad = v.isin(list(self.sentinels)) if self.sentinels else v.isna() & False
        bad |= ~np.isfinite(v) & v.notna()
        if self.valid_min is not None:
            bad |= v < self.valid_min
        if self.valid_max is not None:
            bad |= v > self.valid_max
        return bad & v.notna()


def default_range(measure: str) -> tuple[float | None, float | None]:
    """The plausible range of a measurement unit (:data:`MEASURE_RANGES`), or (None, None)."""
    import re

    for pattern, lo, hi in MEASURE_RANGES:
        if re.search(pattern, measure):
            return lo, hi
    return None, None


def _bound(spec: dict, name: str, default: float | None, key: str, path: Path) -> float | None:
    if name not in spec:
        return default
    v = spec[name]
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError(f"{key}.{name}", v, "a number or null (no bound)", str(path))
    return float(v)


@dataclass
class Catalogue:
    entries: dict[str, Entry]
    path: str = "config/catalogue.yaml"

    @classmethod
    def from_yaml(cls, path: str | Path, sources: dict | None = None) -> Catalogue:
        """Load and check the catalogue: required keys, known domain/level/source, valid formulas."""
        return cls.from_dict(load_yaml(path) or {}, sources, path)

    @classmethod
    def from_dict(cls, raw: dict, sources: dict | None = None,
                  path: str | Path = "config/catalogue.yaml") -> Catalogue:
        """Build and check a catalogue from its parsed mapping (``{"indicators": {...}}``);
        ``path`` names the file in errors."""
        from .derived import parse_formula

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
            if "categories" in spec:
                cats = spec["categories"]
                if not (isinstance(cats, list) and len(cats) >= 2
                        and all(isinstance(c, str) for c in cats) and len(set(cats)) == len(cats)):
                    raise ConfigError(f"{key}.categories", cats,
                                      "a list of at least 2 distinct class labels, in code order",
                                      str(path))
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
            lo, hi = default_range(str(spec["measure"]))
            lo = _bound(spec, "valid_min", lo, key, path)
            hi = _bound(spec, "valid_max", hi, key, path)
            if lo is not None and hi is not None and lo > hi:
                raise ConfigError(f"{key}.valid_min", lo, f"at most valid_max ({hi})", str(path))
            sentinels = spec.get("sentinels", list(DEFAULT_SENTINELS))
            if not isinstance(sentinels, list) or not all(
                    isinstance(x, (int, float)) and not isinstance(x, bool) for x in sentinels):
                raise ConfigError(f"{key}.sentinels", sentinels, "a list of numbers (may be empty)", str(path))
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
                valid_min=lo,
                valid_max=hi,
                sentinels=tuple(float(x) for x in sentinels),
                categories=spec.get("categories"),
                ordered=bool(spec.get("ordered", False)),
                better=str(spec.get("better", "")),
                caveat=str(spec.get("caveat", "")),
                extra={k: v for k, v in spec.items() if k not in ENTRY_KEYS},
                spec=dict(spec),
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
