"""Benchmark: exact LMG with 12 predictors, 21 units x 30 years, 1000 unit-block bootstrap draws.

Run: ``PYTHONPATH=src python benchmarks/bench_lmg.py`` (target: < 30 s on 2 cores).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from dlddrivers.methods.relative_importance import compute


def main(p: int = 12, n_units: int = 21, n_years: int = 30, draws: int = 1000) -> float:
    rng = np.random.default_rng(1)
    units = [f"U{i:02d}" for i in range(n_units)]
    years = np.arange(1991, 1991 + n_years)
    df = pd.MultiIndex.from_product([units, years], names=["unit", "year"]).to_frame(index=False)
    X = rng.normal(size=(len(df), p))
    for j in range(p):
        df[f"x{j}"] = X[:, j]
    df["y"] = X @ rng.normal(size=p) + rng.normal(size=len(df))
    domains = ["climate"] * 4 + ["grazing", "agriculture", "mining", "land_use", "population"] * 3
    dictionary = pd.DataFrame({"indicator": ["y", *[f"x{j}" for j in range(p)]],
                               "role": ["outcome"] + ["driver"] * p,
                               "domain": ["outcome", *domains[:p]]})
    study = {"name": "bench", "outcomes": ["y"], "drivers": [f"x{j}" for j in range(p)], "seed": 1}
    t0 = time.perf_counter()
    out = compute(df, dictionary, study, {"bootstrap_draws": draws})["shares"]
    dt = time.perf_counter() - t0
    assert out["share_ci_low"].notna().all()
    print(f"LMG p={p}, {n_units} units x {n_years} years, {draws} draws: {dt:.2f} s")
    return dt


if __name__ == "__main__":
    main()
