"""Formatting numbers, intervals and tables, and reading labels, units and directions from a study's data dictionary and coverage table."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd


def _isnan(x: object) -> bool:
    try:
        return x is None or (isinstance(x, float | int) and math.isnan(float(x))) or pd.isna(x)
    except (TypeError, ValueError):
        return False


def fmt_num(x: object, digits: int = 3) -> str:
    """A number with ``digits`` significant digits, no scientific notation for usual sizes."""
    if _isnan(x):
        return "n/a"
    v = float(x)  # type: ignore[arg-type]
    if not math.isfinite(v):
        return "not defined"
    if v == 0:
        return "0"
    if abs(v) >= 10 ** digits:
        return f"{v:,.0f}"
    if abs(v) < 1e-4:
        return f"{v:.{digits - 1}e}"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(v)))))
    return f"{v:.{decimals}f}"


def fmt_pct(x: object, digits: int = 1) -> str:
    """A fraction as a percentage (``0.955 -> '95.5 %'``)."""
    if _isnan(x):
        return "n/a"
    if not math.isfinite(float(x)):  # type: ignore[arg-type]
        return "not defined"
    return f"{100 * float(x):.{digits}f} %"  # type: ignore[arg-type]


def fmt_interval(lo: object, hi: object, level: object = 0.95, *, pct: bool = False,
                 unit: str = "") -> str:
    """``'95 % interval a to b'`` (or ``'no interval'`` when either end is missing)."""
    if _isnan(lo) or _isnan(hi):
        return "no interval"
    lev = "" if _isnan(level) else f"{100 * float(level):.0f} % "  # type: ignore[arg-type]
    if pct:
        return f"{lev}interval {fmt_pct(lo)} to {fmt_pct(hi)}"
    u = f" {unit}" if unit else ""
    return f"{lev}interval {fmt_num(lo)} to {fmt_num(hi)}{u}"


def fmt_estimate(value: object, lo: object, hi: object, level: object = 0.95, *,
                 pct: bool = False, unit: str = "") -> str:
    """``'0.732 (95 % interval 0.229 to 1.24)'``; shares as percentages when ``pct``; the
    measurement ``unit`` once, after the value."""
    v = fmt_pct(value) if pct else fmt_num(value) + (f" {unit}" if unit and not _isnan(value) else "")
    return f"{v} ({fmt_interval(lo, hi, level, pct=pct)})"


def fmt_p(p: object, draws: object = None) -> str:
    """A p-value; a bootstrap p of 0 reads ``p < 1/draws``."""
    if _isnan(p):
        return "p n/a"
    if float(p) == 0 and not _isnan(draws) and float(draws) > 0:  # type: ignore[arg-type]
        return f"p < {fmt_num(1 / float(draws), 2)}"  # type: ignore[arg-type]
    return f"p = {fmt_num(p, 2)}"


def md_table(df: pd.DataFrame) -> str:
    """A pipe table (cells must already be strings; ``|`` is escaped)."""
    if df.empty:
        return ""
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in df.iterrows():
        cells = [str(v).replace("|", "\\|").replace("\n", " ") for v in row.tolist()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _ok(status: object) -> bool:
    return isinstance(status, str) and status.startswith("ok")


def _caution(status: object) -> str:
    """The caution part of an ``ok; caution: ...`` status (empty if none)."""
    if isinstance(status, str) and ";" in status:
        rest = status.split(";", 1)[1].strip()
        return rest.removeprefix("caution:").strip()
    return ""


def _labels(dictionary: pd.DataFrame | None) -> dict[str, str]:
    if dictionary is None or dictionary.empty:
        return {}
    return dict(zip(dictionary["indicator"].astype(str), dictionary["label"].astype(str), strict=False))


def _measures(dictionary: pd.DataFrame | None) -> dict[str, str]:
    if dictionary is None or dictionary.empty:
        return {}
    return dict(zip(dictionary["indicator"].astype(str), dictionary["measure"].astype(str), strict=False))


def direction_text(dictionary: pd.DataFrame | None, ind: str) -> str:
    """``" (lower is better)"`` / ``" (higher is better)"`` from the dictionary's ``better``
    column (the catalogue's ``better``), ``""`` when not stated."""
    if dictionary is None or dictionary.empty or "better" not in dictionary.columns:
        return ""
    hit = dictionary.loc[dictionary["indicator"].astype(str) == str(ind), "better"]
    v = str(hit.iloc[0]).strip().lower() if len(hit) else ""
    return f" ({v} is better)" if v in ("lower", "higher") else ""


def _name(ind: str, labels: Mapping[str, str]) -> str:
    lab = labels.get(ind)
    return f"{lab} (`{ind}`)" if lab and lab != ind else f"`{ind}`"


def _unit_names(coverage: pd.DataFrame | None) -> dict[str, str]:
    if coverage is None or coverage.empty or "unit_name" not in coverage:
        return {}
    return dict(zip(coverage["unit"].astype(str), coverage["unit_name"].astype(str), strict=False))
