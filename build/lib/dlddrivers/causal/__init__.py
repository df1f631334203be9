"""Causal stage: DoWhy effects with a config graph, refutations, change attribution, graph audit.

The stage follows the interface in docs/stage_interface.md (compute(...) -> tables; plots in
dlddrivers.plots.causal).
"""
