"""dlddrivers: drivers of desertification and land degradation in North-East Asia.

Data flows one way: ``sources`` (provider format -> tidy long table) -> ``panel`` (units,
catalogue, derived indicators, gaps, coverage, provenance) -> ``methods`` and ``causal``
(panel in, result tables out) -> ``plots`` and ``summary``.
"""

__version__ = "0.1.0"

# pandas runs on first use, not on import: the Snakefile's start-up never needs it
# (dlddrivers._lazy explains how; nothing changes once it is used)
from ._lazy import defer_import as _defer_import  # noqa: E402

_defer_import("pandas")
