"""Data contracts (pandera) shared by every stage.

* ``TIDY``: what every source reader returns, one row per unit, year and indicator.
  ``year`` is null for time-invariant attributes (e.g. an aimag's area), which the panel
  broadcasts over the study years.
* ``MONTHLY``: monthly climate before aggregation to years.
* ``PANEL_KEYS``: the panel is wide, one row per ``unit`` and ``year``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

TIDY_COLUMNS = ["unit", "year", "indicator", "value", "measure", "source"]
PANEL_KEYS = ["unit", "year"]

_SCHEMAS: dict[str, Any] = {}


def _build_schemas() -> dict[str, Any]:
    """The pandera schemas, built on first use: importing pandera costs about 0.5 s, which
    the workflow's start-up and every job that never validates a reader's output should not
    pay (``TIDY`` and ``MONTHLY`` stay module attributes through :func:`__getattr__`)."""
    import pandera.pandas as pa

    TIDY = pa.DataFrameSchema(
        {
            "unit": pa.Column(str, nullable=False),
            "year": pa.Column("Int64", nullable=True, checks=pa.Check.in_range(1800, 2100)),
            "indicator": pa.Column(str, nullable=False),
            "value": pa.Column(float, nullable=True),
            "measure": pa.Column(str, nullable=False),
            "source": pa.Column(str, nullable=False),
        },
        unique=["unit", "year", "indicator", "source"],
        strict=True,
        ordered=True,
        coerce=True,
    )

    MONTHLY = pa.DataFrameSchema(
        {
            "unit": pa.Column(str, nullable=False),
            "year": pa.Column(int, checks=pa.Check.in_range(1800, 2100)),
            "month": pa.Column(int, checks=pa.Check.in_range(1, 12)),
            "indicator": pa.Column(str, nullable=False),
            "value": pa.Column(float, nullable=True),
            "measure": pa.Column(str, nullable=False),
            "source": pa.Column(str, nullable=False),
        },
        unique=["unit", "year", "month", "indicator"],
        strict=True,
        coerce=True,
    )
    return {"TIDY": TIDY, "MONTHLY": MONTHLY}


def __getattr__(name: str) -> Any:
    if name in ("TIDY", "MONTHLY"):
        if not _SCHEMAS:
            _SCHEMAS.update(_build_schemas())
        return _SCHEMAS[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def tidy(df: pd.DataFrame, *, source: str) -> pd.DataFrame:
    """Order, coerce and validate a reader's output against ``TIDY``.

    Raises a :class:`~dlddrivers.errors.RawFileError` naming the source on a contract breach.
    """
    import pandera.pandas as pa

    from .errors import RawFileError

    out = df.reindex(columns=TIDY_COLUMNS)
    try:
        return __getattr__("TIDY").validate(out.reset_index(drop=True))
    except (pa.errors.SchemaError, pa.errors.SchemaErrors) as exc:  # pragma: no cover - message path
        raise RawFileError(source, None, "rows that satisfy the tidy contract", str(exc)[:500]) from exc
