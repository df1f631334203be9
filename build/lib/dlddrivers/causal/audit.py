"""Graph audit: PC causal discovery (causal-learn) on the demeaned panel versus the config
graph. It informs; it never overrides the config graph."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd

from dlddrivers.causal.effects import quiet_and_seeded
from dlddrivers.causal.panel import TWO_WAY, complete_rows, demean, panel_shape

_COLS = ["from", "to", "in_config", "reason", "adjacency_found", "orientation_found",
         "verdict", "method", "alpha", "panel_handling", "n_units", "n_years", "n_obs",
         "n_dropped", "status", "note"]
NOTE = "PC output is a hypothesis to compare with the config graph; it never overrides it"


def audit_graph(panel: pd.DataFrame, graph: nx.DiGraph, alpha: float = 0.05,
                min_obs_per_node: int = 5) -> pd.DataFrame:
    """Compare each config edge with the PC skeleton found in the data.

    PC (Spirtes, Glymour and Scheines 2000) with the Fisher-z test at ``alpha`` runs on the
    graph's nodes, complete rows, two-way demeaned (so unit levels and common year shocks do
    not create adjacencies). Verdicts: ``supported`` (config edge, adjacency found),
    ``not supported`` (config edge, no adjacency), ``suggested by data`` (adjacency found,
    no config edge in either direction). ``orientation_found`` is what PC oriented:
    ``from->to``, ``to->from``, ``undirected`` or ``none``.
    """
    from causallearn.search.ConstraintBased.PC import pc

    nodes = list(graph.nodes)
    sub, dropped = complete_rows(panel, nodes)
    shape = panel_shape(sub)
    base = {"method": "PC (causal-learn, Fisher-z)", "alpha": alpha, "panel_handling": TWO_WAY,
            **shape, "n_dropped": dropped, "note": NOTE}
    status = "ok"
    data = demean(sub, nodes, year=True) if len(sub) else sub
    const = [n for n in nodes if len(data) and float(data[n].std()) < 1e-12]
    if shape["n_obs"] < min_obs_per_node * len(nodes):
        status = (f"insufficient_data: {shape['n_obs']} complete rows < {min_obs_per_node} "
                  f"per node x {len(nodes)} nodes")
    elif const:
        status = f"insufficient_data: no within variation in {const}"
    adj: dict[tuple[str, str], str] = {}
    if status == "ok":
        x = data[nodes].to_numpy(dtype=float)
        try:
            with quiet_and_seeded(0):
                cg = pc(x, alpha=alpha, indep_test="fisherz", stable=True,
                        show_progress=False, node_names=nodes)
            m = cg.G.graph  # m[j,i]=1 & m[i,j]=-1 : i -> j ; both -1 : undirected
            for i in range(len(nodes)):
                for j in range(i + 1, len(nodes)):
                    a, b = m[i, j], m[j, i]
                    if a == 0 and b == 0:
                        continue
                    if b == 1 and a == -1:
                        o = "i->j"
                    elif a == 1 and b == -1:
                        o = "j->i"
                    else:
                        o = "undirected"
                    adj[(nodes[i], nodes[j])] = o
        except (ValueError, np.linalg.LinAlgError) as exc:
            status = f"failed: {exc}"

    def found(u: str, v: str) -> str:
        if (u, v) in adj:
            o = adj[(u, v)]
            return {"i->j": "from->to", "j->i": "to->from"}.get(o, o)
        if (v, u) in adj:
            o = adj[(v, u)]
            return {"i->j": "to->from", "j->i": "from->to"}.get(o, o)
        return "none"

    rows = []
    for u, v, d in graph.edges(data=True):
        o = found(u, v) if status == "ok" else "none"
        ok = status == "ok"
        rows.append({**base, "from": u, "to": v, "in_config": True, "reason": d.get("reason", ""),
                     "adjacency_found": (o != "none") if ok else pd.NA,
                     "orientation_found": o if ok else "",
                     "verdict": ("supported" if o != "none" else "not supported") if ok
                     else "not tested", "status": status})
    for (a, b), o in adj.items():
        if graph.has_edge(a, b) or graph.has_edge(b, a):
            continue
        orient = {"i->j": "from->to", "j->i": "to->from"}.get(o, o)
        rows.append({**base, "from": a, "to": b, "in_config": False, "reason": "",
                     "adjacency_found": True, "orientation_found": orient,
                     "verdict": "suggested by data (not in config)", "status": status})
    return pd.DataFrame(rows, columns=_COLS)
