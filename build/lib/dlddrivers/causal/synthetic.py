"""Synthetic panels with a known causal effect, for tests and benchmarks (not for results)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd


def confounded_panel(n_units: int = 12, n_years: int = 20, effect: float = 0.5,
                     hidden: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """Panel where climate ``clim`` drives both the driver ``press`` and outcome ``y``.

    ``y = effect * press - 1.0 * clim + hidden * u + unit effect + year effect + noise`` and
    ``press = 0.8 * clim + hidden * u + unit effect + year trend + noise``; ``u`` is a hidden
    confounder (not a column) when ``hidden`` > 0. Unit and year effects are large and
    correlated with the driver, so pooled OLS is biased and two-way demeaning is needed.
    """
    rng = np.random.default_rng(seed)
    units = [f"U{i:02d}" for i in range(n_units)]
    years = np.arange(2000, 2000 + n_years)
    a = rng.normal(0, 3, n_units)
    lam = rng.normal(0, 2, n_years)
    rows = []
    for i, u in enumerate(units):
        for t, yr in enumerate(years):
            clim = rng.normal() + 0.5 * lam[t]
            hid = rng.normal()
            press = 0.8 * clim + hidden * hid + 2.0 * a[i] + 0.05 * t + rng.normal()
            y = (effect * press - 1.0 * clim + hidden * hid + 5.0 * a[i] + lam[t]
                 + 0.5 * rng.normal())
            rows.append({"unit": u, "year": int(yr), "clim": clim, "press": press, "y": y})
    return pd.DataFrame(rows)


def confounded_graph() -> nx.DiGraph:
    """``clim -> press -> y``, ``clim -> y`` with reasons."""
    g = nx.DiGraph()
    g.add_edge("clim", "press", reason="climate sets the pressure")
    g.add_edge("clim", "y", reason="climate sets the outcome")
    g.add_edge("press", "y", reason="the pressure changes the outcome")
    return g


def study_like_panel(graph: nx.DiGraph, dictionary: pd.DataFrame, n_units: int, n_years: int,
                     seed: int = 0, start_year: int = 1992) -> pd.DataFrame:
    """A panel shaped like a study: every graph node simulated in topological order as a
    linear function of its parents plus unit and year effects and noise (for benchmarks)."""
    rng = np.random.default_rng(seed)
    units = [f"U{i:02d}" for i in range(n_units)]
    years = np.arange(start_year, start_year + n_years)
    uu = np.repeat(np.arange(n_units), n_years)
    tt = np.tile(np.arange(n_years), n_units)
    cols: dict[str, np.ndarray] = {}
    for node in nx.topological_sort(graph):
        x = rng.normal(0, 1, n_units)[uu] + rng.normal(0, 0.5, n_years)[tt]
        x = x + rng.normal(0, 1, n_units * n_years)
        for p in graph.predecessors(node):
            x = x + rng.uniform(-0.6, 0.6) * cols[p]
        cols[node] = x
    df = pd.DataFrame({"unit": np.array(units)[uu], "year": years[tt].astype(int), **cols})
    return df
