"""Load and validate a study's causal graph (YAML edges with a one-line reason each).

The graph file looks like::

    description: "..."          # optional
    edges:
      - {from: precip_annual, to: sheep_units_per_km2_pasture, reason: "herds follow forage"}
      - ...
    nodes: [optional, isolated, nodes]

:func:`load_graph` returns a :class:`networkx.DiGraph` whose edges carry ``reason`` and whose
``graph`` attribute holds ``source`` (the file path) and ``description``.
:func:`read_graph_spec` runs the same checks and returns a plain :class:`GraphSpec` without
importing networkx: the workflow's start-up checks every study's graph with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dlddrivers.errors import DLDError

if TYPE_CHECKING:
    import networkx as nx


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


@dataclass(frozen=True)
class GraphSpec:
    """A validated causal graph as plain data (no networkx).

    ``nodes`` are in the order networkx would hold them (the ``nodes`` list, then edge ends in
    file order); ``edges`` are ``(from, to)`` pairs in file order, ``reasons`` their one-line
    reasons; ``graph`` holds ``source`` and ``description`` (as ``DiGraph.graph`` does).
    """

    nodes: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]
    reasons: dict[tuple[str, str], str] = field(default_factory=dict)
    graph: dict[str, str] = field(default_factory=dict)

    def to_networkx(self) -> nx.DiGraph:
        """The same graph as a :class:`networkx.DiGraph` (edges carry ``reason``)."""
        import networkx as nx

        g = nx.DiGraph()
        g.graph.update(self.graph)
        g.add_nodes_from(self.nodes)
        for a, b in self.edges:
            g.add_edge(a, b, reason=self.reasons[(a, b)])
        return g


def graph_spec_from_mapping(spec: object, source: str | Path = "<mapping>") -> GraphSpec:
    """Validate an already parsed graph mapping and return it as a :class:`GraphSpec`.

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
        edges, or a cycle (the message names one cycle, as :func:`networkx.find_cycle` finds it).
    """
    if not isinstance(spec, dict) or "edges" not in spec:
        raise GraphError(source, "top level", "a mapping with key 'edges'", type(spec).__name__)
    edges = spec["edges"]
    if not isinstance(edges, list) or not edges:
        raise GraphError(source, "key 'edges'", "a non-empty list of {from, to, reason}", edges)
    nodes: dict[str, None] = {}  # insertion-ordered set
    for node in spec.get("nodes", []) or []:
        if not isinstance(node, str) or not node.strip():
            raise GraphError(source, f"node {node!r} in 'nodes'", "a non-empty indicator id")
        nodes[node] = None
    reasons: dict[tuple[str, str], str] = {}
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
        if (a, b) in reasons:
            raise GraphError(source, where, "each edge listed once (duplicate edge)")
        nodes.setdefault(a, None)
        nodes.setdefault(b, None)
        reasons[(a, b)] = reason.strip()
    out = GraphSpec(nodes=tuple(nodes), edges=tuple(reasons), reasons=reasons,
                    graph={"source": str(source),
                           "description": str(spec.get("description", "") or "")})
    if _has_cycle(out.nodes, out.edges):
        import networkx as nx  # only to name the cycle as before

        cycle = nx.find_cycle(out.to_networkx())
        path = " -> ".join([u for u, _ in cycle] + [cycle[0][0]])
        raise GraphError(source, f"cycle {path} (edge {cycle[-1][0]} -> {cycle[-1][1]})",
                         "an acyclic graph (DAG)")
    return out


def _has_cycle(nodes: Iterable[str], edges: Iterable[tuple[str, str]]) -> bool:
    """True if the directed graph has a cycle (standard library topological sort)."""
    from graphlib import CycleError, TopologicalSorter

    ts: TopologicalSorter = TopologicalSorter({n: () for n in nodes})
    for a, b in edges:
        ts.add(b, a)
    try:
        ts.prepare()
    except CycleError:
        return True
    return False


def graph_from_mapping(spec: object, source: str | Path = "<mapping>") -> nx.DiGraph:
    """Build and validate a DiGraph from an already parsed graph mapping
    (:func:`graph_spec_from_mapping`, as a :class:`networkx.DiGraph`)."""
    return graph_spec_from_mapping(spec, source).to_networkx()


def check_nodes_in_panel(graph: nx.DiGraph | GraphSpec, panel_columns: Iterable[str],
                         source: str | Path | None = None) -> None:
    """Raise :class:`GraphError` naming every graph node that is not a panel column (a
    :class:`networkx.DiGraph` or a :class:`GraphSpec`)."""
    cols = set(panel_columns)
    missing = sorted(n for n in graph.nodes if n not in cols)
    if missing:
        src = source or graph.graph.get("source", "<graph>")
        first = missing[0]
        edges = [f"{u} -> {v}" for u, v in graph.edges if first in (u, v)]
        where = f"node(s) {missing} (e.g. in edge {edges[0]})" if edges else f"node(s) {missing}"
        raise GraphError(src, where, "every node to be an indicator column of the panel",
                         f"panel columns {sorted(c for c in cols if c not in ('unit', 'year'))}")


def read_graph_spec(path: str | Path, panel_columns: Iterable[str] | None = None) -> GraphSpec:
    """Read a causal graph YAML file and validate it, without networkx.

    Parameters
    ----------
    path
        YAML file with ``edges: [{from, to, reason}, ...]``.
    panel_columns
        If given, every node must be one of these columns (a graph may use a subset of the
        panel's indicators; extra panel columns are fine).

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
    g = graph_spec_from_mapping(spec, source=path)
    if panel_columns is not None:
        check_nodes_in_panel(g, panel_columns, source=path)
    return g


def load_graph(path: str | Path, panel_columns: Iterable[str] | None = None) -> nx.DiGraph:
    """Read a causal graph YAML file and validate it (:func:`read_graph_spec`).

    Returns
    -------
    networkx.DiGraph
        Edges carry ``reason``; ``graph.graph["source"]`` is the path.

    Raises
    ------
    GraphError
        As :func:`read_graph_spec`.
    """
    return read_graph_spec(path, panel_columns).to_networkx()


def graph_to_gml(graph: nx.DiGraph) -> str:
    """The graph as a GML string (for DoWhy; never DOT)."""
    import networkx as nx

    h = nx.DiGraph()
    h.add_nodes_from(graph.nodes)
    h.add_edges_from(graph.edges)
    return "".join(nx.generate_gml(h))
