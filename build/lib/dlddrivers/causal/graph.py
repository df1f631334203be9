"""Load and validate a study's causal graph (YAML edges with a one-line reason each).

The graph file looks like::

    description: "..."          # optional
    edges:
      - {from: precip_annual, to: sheep_units_per_km2_pasture, reason: "herds follow forage"}
      - ...
    nodes: [optional, isolated, nodes]

:func:`load_graph` returns a :class:`networkx.DiGraph` whose edges carry ``reason`` and whose
``graph`` attribute holds ``source`` (the file path) and ``description``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import networkx as nx

from dlddrivers.errors import DLDError


class GraphError(DLDError):
    """A causal graph file is invalid. The message names the file, the edge or node, and
    what was expected."""

    def __init__(self, file: str | Path | None, where: str, expected: str, found: object = None):
        self.file, self.where, self.expected, self.found = str(file), where, expected, found
        msg = f"causal graph '{file}': {where}: expected {expected}"
        if found is not None:
            msg += f"; found {found!r}"
        super().__init__(msg)


def _edge_label(i: int, edge: object) -> str:
    if isinstance(edge, dict):
        return f"edge {i} ({edge.get('from')!s} -> {edge.get('to')!s})"
    return f"edge {i}"


def graph_from_mapping(spec: object, source: str | Path = "<mapping>") -> nx.DiGraph:
    """Build and validate a DiGraph from an already parsed graph mapping.

    Parameters
    ----------
    spec
        Parsed YAML: a mapping with ``edges`` (list of ``{from, to, reason}``) and optional
        ``nodes`` and ``description``.
    source
        Name used in error messages (the file path).

    Raises
    ------
    GraphError
        Structure problems, a missing/blank/multi-line ``reason``, self loops, duplicate
        edges, or a cycle.
    """
    if not isinstance(spec, dict) or "edges" not in spec:
        raise GraphError(source, "top level", "a mapping with key 'edges'", type(spec).__name__)
    edges = spec["edges"]
    if not isinstance(edges, list) or not edges:
        raise GraphError(source, "key 'edges'", "a non-empty list of {from, to, reason}", edges)
    g = nx.DiGraph()
    g.graph["source"] = str(source)
    g.graph["description"] = str(spec.get("description", "") or "")
    for node in spec.get("nodes", []) or []:
        if not isinstance(node, str) or not node.strip():
            raise GraphError(source, f"node {node!r} in 'nodes'", "a non-empty indicator id")
        g.add_node(node)
    for i, edge in enumerate(edges):
        where = _edge_label(i, edge)
        if not isinstance(edge, dict):
            raise GraphError(source, where, "a mapping {from, to, reason}", edge)
        for key in ("from", "to"):
            val = edge.get(key)
            if not isinstance(val, str) or not val.strip():
                raise GraphError(source, where, f"key '{key}' naming an indicator id", val)
        reason = edge.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise GraphError(source, where, "key 'reason' with a one-line explanation", reason)
        if "\n" in reason.strip():
            raise GraphError(source, where, "a ONE-line 'reason'", reason)
        unknown = set(edge) - {"from", "to", "reason"}
        if unknown:
            raise GraphError(source, where, "only keys from, to, reason", sorted(unknown))
        a, b = edge["from"].strip(), edge["to"].strip()
        if a == b:
            raise GraphError(source, where, "an edge between two different nodes (no self loop)")
        if g.has_edge(a, b):
            raise GraphError(source, where, "each edge listed once (duplicate edge)")
        g.add_edge(a, b, reason=reason.strip())
    if not nx.is_directed_acyclic_graph(g):
        cycle = nx.find_cycle(g)
        path = " -> ".join([u for u, _ in cycle] + [cycle[0][0]])
        raise GraphError(source, f"cycle {path} (edge {cycle[-1][0]} -> {cycle[-1][1]})",
                         "an acyclic graph (DAG)")
    return g


def check_nodes_in_panel(graph: nx.DiGraph, panel_columns: Iterable[str],
                         source: str | Path | None = None) -> None:
    """Raise :class:`GraphError` naming every graph node that is not a panel column."""
    cols = set(panel_columns)
    missing = sorted(n for n in graph.nodes if n not in cols)
    if missing:
        src = source or graph.graph.get("source", "<graph>")
        first = missing[0]
        edges = [f"{u} -> {v}" for u, v in graph.edges if first in (u, v)]
        where = f"node(s) {missing} (e.g. in edge {edges[0]})" if edges else f"node(s) {missing}"
        raise GraphError(src, where, "every node to be an indicator column of the panel",
                         f"panel columns {sorted(c for c in cols if c not in ('unit', 'year'))}")


def load_graph(path: str | Path, panel_columns: Iterable[str] | None = None) -> nx.DiGraph:
    """Read a causal graph YAML file and validate it.

    Parameters
    ----------
    path
        YAML file with ``edges: [{from, to, reason}, ...]``.
    panel_columns
        If given, every node must be one of these columns (a graph may use a subset of the
        panel's indicators; extra panel columns are fine).

    Returns
    -------
    networkx.DiGraph
        Edges carry ``reason``; ``graph.graph["source"]`` is the path.

    Raises
    ------
    GraphError
        With the file, the offending edge or node, and what was expected: unreadable YAML,
        missing ``reason``, cycle, or nodes that are not panel columns.
    """
    from dlddrivers.errors import ConfigError
    from dlddrivers.yamlio import loads_yaml

    path = Path(path)
    try:
        spec = loads_yaml(path.read_text(encoding="utf-8"), str(path))
    except FileNotFoundError as exc:
        raise GraphError(path, "file", "an existing YAML file") from exc
    except ConfigError as exc:  # syntax error or a key written twice
        raise GraphError(path, f"key '{exc.key}'", exc.expected, exc.value) from exc
    g = graph_from_mapping(spec, source=path)
    if panel_columns is not None:
        check_nodes_in_panel(g, panel_columns, source=path)
    return g


def graph_to_gml(graph: nx.DiGraph) -> str:
    """The graph as a GML string (for DoWhy; never DOT)."""
    h = nx.DiGraph()
    h.add_nodes_from(graph.nodes)
    h.add_edges_from(graph.edges)
    return "".join(nx.generate_gml(h))
