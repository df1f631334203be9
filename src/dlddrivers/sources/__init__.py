"""Source readers: one module per provider format, each returning the tidy long contract.

Every reader has the signature::

    read(files: Mapping[str, Path], registry: UnitRegistry, log: DropLog, **options) -> pd.DataFrame

* ``files`` maps the file keys of ``config/sources.yaml`` to paths on disk.
* the result satisfies :data:`dlddrivers.contracts.TIDY` (unit, year, indicator, value,
  measure, source); ``indicator`` is the reader's provider code (listed in each module's
  ``INDICATORS``), which catalogue entries refer to as ``code``.
* a malformed file (missing column, unparsable value) raises
  :class:`~dlddrivers.errors.RawFileError` naming the file and the field; an unknown
  sub-national name raises :class:`~dlddrivers.errors.UnknownUnitError`.
* every row that is not passed on (aggregate, unit outside the registry, anomaly, outlier) is
  counted in ``log`` with a reason. Nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path

import pandas as pd


@dataclass
class DropLog:
    """Counts of rows that a reader or the panel did not pass on, and why."""

    records: list[dict] = field(default_factory=list)

    def add(self, source: str, file: str | Path, reason: str, rows: int, detail: str = "") -> None:
        """Record ``rows`` rows of ``file`` not passed on for ``reason`` (0 rows is not recorded)."""
        if rows:
            self.records.append(
                {"source": source, "file": Path(str(file)).name, "reason": reason,
                 "rows": int(rows), "detail": detail}
            )

    def frame(self) -> pd.DataFrame:
        cols = ["source", "file", "reason", "rows", "detail"]
        return pd.DataFrame(self.records, columns=cols)

    def extend(self, other: DropLog) -> None:
        self.records.extend(other.records)


Reader = Callable[..., "pd.DataFrame"]


def get_reader(name: str) -> Reader:
    """The ``read`` function of ``dlddrivers.sources.<name>``."""
    from ..errors import ConfigError

    try:
        mod = import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        raise ConfigError("sources.*.reader", name, "the name of a module in dlddrivers.sources") from exc
    return mod.read
