"""Figures repeat byte for byte: the SHAP beeswarm (shap shuffles its points with numpy's
global generator) and the causal graph with edges the audit did not find (a set of edges)."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
from conftest import REPO


def _shap_tables(n: int = 200) -> dict:
    rng = np.random.default_rng(4)
    xs = ["precip", "pop", "mine"]
    sv = pd.DataFrame({f"shap_{x}": rng.normal(size=n) for x in xs})
    for x in xs:
        sv[x] = rng.normal(size=n)
    return {"shap_values": sv, "shares": pd.DataFrame()}


def test_shap_beeswarm_repeats_and_leaves_the_global_generator_alone(tmp_path):
    from dlddrivers.plots.grid import plot_ml

    d = pd.DataFrame({"indicator": ["precip", "pop", "mine"], "label": ["P", "Pop", "Mine"],
                      "domain": ["climate", "population", "mining"]})
    files = []
    for k in range(2):
        np.random.seed(100 + k)  # a different global state before each call
        out = tmp_path / str(k)
        path = [p for p in plot_ml(_shap_tables(), d, out, 5) if str(p).endswith(".png")][0]
        assert np.random.random() == np.random.RandomState(100 + k).random()  # state put back
        files.append(open(path, "rb").read())
    assert files[0] == files[1]


CODE = """
import sys
import pandas as pd
from dlddrivers.causal.graph import load_graph
from dlddrivers.plots.causal import plot_graph
g = load_graph("config/graphs/neasia.yaml")
d = pd.DataFrame({"indicator": list(g.nodes), "domain": "climate", "label": list(g.nodes)})
edges = sorted(g.edges)[::2]
audit = pd.DataFrame({"from": [u for u, _ in edges], "to": [v for _, v in edges],
                      "verdict": "not supported"})
print(plot_graph(g, d, {"name": "neasia"}, sys.argv[1], audit=audit)[0])
"""


def test_graph_with_unsupported_edges_does_not_depend_on_the_hash_seed(tmp_path):
    files = []
    for seed in ("1", "2", "3"):
        out = tmp_path / seed
        env = {**os.environ, "PYTHONHASHSEED": seed, "MPLBACKEND": "Agg",
               "PYTHONPATH": str(REPO / "src")}
        r = subprocess.run([sys.executable, "-c", CODE, str(out)], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        files.append(open(r.stdout.strip().splitlines()[-1], "rb").read())
    assert files[0] == files[1] == files[2]
