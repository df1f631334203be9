"""Data contracts (pandera) shared by every stage.

* ``TIDY``: what every source reader returns, one row per unit, year and indicator.
  ``year`` is null for time-invariant attributes (e.g. an aimag's area), which the panel
  broadcasts over the study years.
* ``MONTHLY``: monthly climate before aggregation to years.
* ``PANEL_KEYS``: the panel is wide, one row per ``unit`` and ``year``.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

TIDY_COLUMNS = ["unit", "year", "indicator", "value", "measure", "source"]
PANEL_KEYS = ["unit", "year"]

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


def tidy(df: pd.DataFrame, *, source: str) -> pd.DataFrame:
    """Order, coerce and validate a reader's output against ``TIDY``.

    Raises a :class:`~dlddrivers.errors.RawFileError` naming the source on a contract breach.
    """
    from .errors import RawFileError

    out = df.reindex(columns=TIDY_COLUMNS)
    try:
        return TIDY.validate(out.reset_index(drop=True))
    except (pa.errors.SchemaError, pa.errors.SchemaErrors) as exc:  # pragma: no cover - message path
        raise RawFileError(source, None, "rows that satisfy the tidy contract", str(exc)[:500]) from exc
