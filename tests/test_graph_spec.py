"""The networkx-free graph check (``read_graph_spec``) agrees with the DiGraph the causal stage
uses, finds the same errors, and lets the workflow's start-up skip importing networkx."""

import subprocess
import sys

import networkx as nx
import pytest

from dlddrivers.causal.graph import GraphError, load_graph, read_graph_spec

GRAPH = """description: "toy"
nodes: [iso, c]
edges:
  - {from: b, to: c, reason: "b drives c"}
  - {from: a, to: c, reason: "a drives c"}
  - {from: a, to: b, reason: "a drives b"}
  - {from: d, to: a, reason: "d drives a"}
"""


def _write(tmp_path, text):
    f = tmp_path / "g.yaml"
    f.write_text(text)
    return f


def _reference(text: str) -> nx.DiGraph:
    """The graph built directly with networkx, in file order (the former loader)."""
    import yaml

    spec = yaml.safe_load(text)
    g = nx.DiGraph()
    g.add_nodes_from(spec.get("nodes", []))
    for e in spec["edges"]:
        g.add_edge(e["from"], e["to"], reason=e["reason"])
    return g


def test_spec_and_digraph_match_networkx_in_order(tmp_path):
    f = _write(tmp_path, GRAPH)
    spec = read_graph_spec(f)
    ref = _reference(GRAPH)
    assert spec.nodes == ("iso", "c", "b", "a", "d") == tuple(ref.nodes)
    assert spec.edges == (("b", "c"), ("a", "c"), ("a", "b"), ("d", "a"))
    assert spec.reasons[("d", "a")] == "d drives a"
    assert spec.graph == {"source": str(f), "description": "toy"}
    g = load_graph(f)
    assert list(g.nodes) == list(ref.nodes)
    assert list(g.edges(data=True)) == list(ref.edges(data=True))
    assert g.graph == {"source": str(f), "description": "toy"}


@pytest.mark.parametrize("edges, cycle", [
    ([("a", "b"), ("b", "c"), ("c", "a")], "a -> b -> c -> a"),
    ([("x", "y"), ("b", "c"), ("c", "d"), ("d", "b")], "b -> c -> d -> b"),  # not through the first node
])
def test_cycles_are_found_and_named(tmp_path, edges, cycle):
    text = "edges:\n" + "".join(f" - {{from: {a}, to: {b}, reason: r}}\n" for a, b in edges)
    f = _write(tmp_path, text)
    for reader in (read_graph_spec, load_graph):
        with pytest.raises(GraphError, match=rf"g\.yaml': cycle {cycle} .*acyclic"):
            reader(f)
    acyclic = "edges:\n" + "".join(f" - {{from: {a}, to: {b}, reason: r}}\n" for a, b in edges[:-1])
    assert len(read_graph_spec(_write(tmp_path, acyclic)).edges) == len(edges) - 1


def test_duplicate_edge_and_panel_columns(tmp_path):
    f = _write(tmp_path, "edges:\n - {from: a, to: b, reason: r}\n - {from: a, to: b, reason: s}\n")
    with pytest.raises(GraphError, match=r"edge 1 \(a -> b\).*duplicate"):
        read_graph_spec(f)
    f = _write(tmp_path, GRAPH)
    with pytest.raises(GraphError, match=r"\['d', 'iso'\]"):
        read_graph_spec(f, panel_columns=["unit", "year", "a", "b", "c"])


def test_startup_checks_do_not_import_networkx():
    code = ("import sys\n"
            "from dlddrivers.config import load_config\n"
            "from dlddrivers.pipeline import check_graphs, setup\n"
            "import dlddrivers.validation, dlddrivers.stages\n"
            "cfg = load_config('config/config.yaml')\n"
            "check_graphs(cfg)\n"
            "print('networkx' in sys.modules)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "False"
