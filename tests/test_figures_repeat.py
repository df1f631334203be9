"""Figures repeat byte for byte: the SHAP beeswarm (shap shuffles its points with numpy's
global generator). The causal graph: tests/test_causal_graph_figure.py."""

import numpy as np
import pandas as pd


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
