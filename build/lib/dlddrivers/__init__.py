"""dlddrivers: drivers of desertification and land degradation in North-East Asia.

Data flows one way: ``sources`` (provider format -> tidy long table) -> ``panel`` (units,
catalogue, derived indicators, gaps, coverage, provenance) -> ``methods`` and ``causal``
(panel in, result tables out) -> ``plots`` and ``summary``.
"""

__version__ = "0.1.0"
