"""World Bank WDI indicators, one ``indicators/<code>/data.csv`` per code (datasets/world-development-indicators).

Each file is long (``Country Name, Country Code, Year, Value``) and holds every economy and the
World Bank aggregates; aggregates (registry kind ``wdi``) and economies outside the registry
are counted in the drop log. The indicator is the lower-case WDI code; the measure is the unit
in parentheses in the title of the sibling ``datapackage.json`` (first parenthesis), else
"see WDI definition".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ..errors import RawFileError
from ..units import UnitRegistry
from . import DropLog
from ._common import (
    AGGREGATE,
    NOT_IN_REGISTRY,
    finish,
    log_rows,
    lookup,
    map_codes,
    numeric,
    read_csv,
    read_json,
    require_columns,
    years,
)

SOURCE = "wdi"
COLUMNS = ["Country Name", "Country Code", "Year", "Value"]
NO_UNIT = "see WDI definition"

#: The WDI codes of the snapshot and their units (from the titles of their datapackage.json).
INDICATORS: dict[str, str] = {
    "sp.pop.totl": NO_UNIT,
    "sp.pop.grow": "annual %",
    "sp.rur.totl": NO_UNIT,
    "sp.rur.totl.zs": "% of total population",
    "sp.urb.totl": NO_UNIT,
    "sp.urb.totl.in.zs": "% of total population",
    "en.pop.dnst": "people per sq. km of land area",
    "ag.lnd.totl.k2": "sq. km",
    "ag.srf.totl.k2": "sq. km",
    "ag.lnd.agri.zs": "% of land area",
    "ag.lnd.arbl.zs": "% of land area",
    "ag.lnd.arbl.ha.pc": "hectares per person",
    "ag.lnd.crop.zs": "% of land area",
    "ag.lnd.frst.k2": "sq. km",
    "ag.lnd.frst.zs": "% of land area",
    "ag.lnd.irig.ag.zs": "% of total agricultural land",
    "ag.lnd.crel.ha": "hectares",
    "er.ptd.totl.zs": "% of total territorial area",
    "ag.prd.lvsk.xd": "2014-2016 = 100",
    "ag.prd.crop.xd": "2014-2016 = 100",
    "ag.prd.food.xd": "2014-2016 = 100",
    "ag.con.fert.zs": "kilograms per hectare of arable land",
    "nv.agr.totl.zs": "% of GDP",
    "en.atm.meth.kt.ce": "kt of CO2 equivalent",
    "ny.gdp.totl.rt.zs": "% of GDP",
    "tx.val.mmtl.zs.un": "% of merchandise exports",
    "tx.val.fuel.zs.un": "% of merchandise exports",
    "ag.yld.crel.kg": "kg per hectare",
    "en.atm.pm25.mc.m3": "micrograms per cubic meter",
    "en.atm.pm25.mc.zs": "% of total",
    "er.h2o.fwtl.zs": "% of internal resources",
    "er.h2o.intr.pc": "cubic meters",
    "sm.pop.netm": NO_UNIT,
    "sm.pop.totl": NO_UNIT,
    "en.urb.lcty.ur.zs": "% of urban population",
    "sl.agr.empl.fe.zs": "% of female employment",
    "sl.agr.empl.ma.zs": "% of male employment",
    "ny.gdp.mktp.cd": "current US$",
    "ny.gdp.pcap.cd": "current US$",
    "ny.gdp.pcap.kd.zg": "annual %",
    "nv.ind.totl.zs": "% of GDP",
}

_PAREN = re.compile(r"\(([^()]*)\)")
_QUALIFIER = re.compile(r"estimate|^including|^excluding", re.IGNORECASE)


def unit_from_title(title: str) -> str:
    """The unit of a WDI title: its last parenthesis that is not a qualifier, else "see WDI definition".

    Qualifiers are parentheses about the estimate or the coverage, not the unit ("modeled ILO
    estimate", "including construction"). ``"Land area (sq. km)"`` -> ``"sq. km"``;
    ``"Employment in agriculture, female (% of female employment) (modeled ILO estimate)"`` ->
    ``"% of female employment"``; ``"Industry (including construction), value added (% of GDP)"``
    -> ``"% of GDP"``; ``"Population, total"`` -> ``"see WDI definition"``.
    """
    groups = [g.strip() for g in _PAREN.findall(title or "")]
    units = [g for g in groups if g and not _QUALIFIER.search(g)]
    return units[-1] if units else NO_UNIT


def measure_of(code: str, data_path: Path) -> str:
    """The measure of ``code``: from the sibling ``datapackage.json`` title, else ``INDICATORS``."""
    meta = Path(data_path).with_name("datapackage.json")
    if meta.is_file():
        doc = read_json(meta)
        title = doc.get("title", "") if isinstance(doc, dict) else None
        if not isinstance(title, str):
            raise RawFileError(meta, "title", "a string", title)
        return unit_from_title(title)
    return INDICATORS.get(code, NO_UNIT)


def read_raw(code: str, path: Path) -> pd.DataFrame:
    """One WDI ``data.csv``, columns checked, rows without a value removed, ``code`` attached."""
    path = Path(path)
    raw = read_csv(path, keep_default_na=False, na_values=[""], dtype={"Country Code": object})
    require_columns(raw, COLUMNS, path)
    value = numeric(raw["Value"], path, "Value")
    has = value.notna().to_numpy()
    return pd.DataFrame(
        {
            "code": raw["Country Code"].to_numpy()[has],
            "year": years(raw["Year"], path, "Year").to_numpy()[has],
            "value": value.to_numpy()[has],
            "indicator": code,
        }
    )


def read(files: Mapping[str, Path], registry: UnitRegistry, log: DropLog, **options: object) -> pd.DataFrame:
    """Read WDI indicator files into the TIDY contract.

    ``files`` maps a WDI code (any case, e.g. ``ag.lnd.totl.k2``) to the path of its
    ``indicators/<code>/data.csv``. Keeps registry countries only; aggregates (``kind='wdi'``,
    e.g. WLD, EAS) and other economies are counted in ``log`` per file (the detail names the
    code, since every file is called ``data.csv``). Rows without a value are not in the
    provider file and hence not produced.
    """
    parts, measures, paths = [], {}, {}
    for key, path in files.items():
        code = str(key).strip().lower()
        paths[code] = Path(path)
        measures[code] = measure_of(code, Path(path))
        parts.append(read_raw(code, Path(path)))
    if not parts:
        empty = pd.DataFrame(columns=["unit", "year", "indicator", "value"])
        return finish(empty, measures=measures, source=SOURCE)
    raw = pd.concat(parts, ignore_index=True)
    units = map_codes(raw["code"], registry, "iso3")
    known = units.notna()
    is_agg = lookup(raw["code"], lambda c: registry.is_aggregate("wdi", c)).astype(bool) & ~known
    for reason, mask in ((AGGREGATE, is_agg), (NOT_IN_REGISTRY, ~known & ~is_agg)):
        dropped = raw.loc[mask, ["indicator", "code"]]
        for code, grp in dropped.groupby("indicator", sort=True):
            log_rows(log, SOURCE, paths[code], reason, grp["code"], prefix=f"{code}: ")
    out = raw.loc[known, ["year", "indicator", "value"]].assign(unit=units[known].astype(str))
    return finish(out, measures=measures, source=SOURCE, path=paths)
