"""Benchmark: the whole causal stage on synthetic panels shaped like the default studies.

Shapes: neasia 6 units x 29 years (17 graph nodes), mongolia_aimag 21 x 14,
mongolia_dzud 21 x 33; default graphs from config/graphs; 100 simulations per refuter.
Target: under 90 s in total on 2 cores.  Run: ``PYTHONPATH=src python benchmarks/bench_causal.py``
(add ``--profile`` for the top cumulative functions).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd

from dlddrivers.causal.graph import load_graph
from dlddrivers.causal.stage import compute
from dlddrivers.causal.synthetic import study_like_panel

ROOT = Path(__file__).resolve().parents[1]

DOMAINS = {
    "bare_sparse_share": "outcome", "barren_share": "outcome", "biomass_median": "outcome",
    "mort_sfu": "impact",
    "precip_annual": "climate", "precip_gs": "climate", "temp_annual": "climate",
    "temp_gs": "climate", "spei_annual": "climate", "spei_gs": "climate",
    "spei3_jja": "climate", "spei3_jja_prev": "climate", "t2m_jja": "climate",
    "t2m_djf": "climate",
    "sheep_units_per_km2_pasture": "grazing", "sheep_units_per_km2": "grazing",
    "sheep_units_per_km2_prev": "grazing", "arable_share": "agriculture",
    "fertilizer_kg_ha": "agriculture", "mineral_rents": "mining", "coal_rents": "mining",
    "licences_active_n": "mining", "licences_area_share": "mining",
    "forest_share": "land_use", "rural_pop_per_km2_agri": "population",
    "urban_share": "population", "net_migration_per_1000": "population",
}

STUDIES = {
    "neasia": (6, 29, 1992, ["bare_sparse_share", "barren_share"], []),
    "mongolia_aimag": (21, 14, 2007, ["biomass_median"], []),
    "mongolia_dzud": (21, 33, 1992, [], ["mort_sfu"]),
}


def run(simulations: int = 100) -> dict[str, float]:
    """Time ``compute`` per study; return seconds per study and the total."""
    dic = pd.DataFrame({"indicator": list(DOMAINS), "domain": list(DOMAINS.values())})
    times: dict[str, float] = {}
    for name, (nu, ny, y0, outcomes, impacts) in STUDIES.items():
        graph = load_graph(ROOT / "config" / "graphs" / f"{name}.yaml")
        panel = study_like_panel(graph, dic, nu, ny, seed=1, start_year=y0)
        study = {"name": name, "outcomes": outcomes, "impacts": impacts, "seed": 20261125}
        t0 = time.perf_counter()
        tabs = compute(panel, dic, study, {"refuter_simulations": simulations}, graph)
        times[name] = time.perf_counter() - t0
        eff = tabs["effects"]
        print(f"{name:15s} {nu}x{ny}: {times[name]:6.1f} s  estimates={len(eff)} "
              f"refutation rows={len(tabs['refutations'])} "
              f"change rows={len(tabs['change_attribution'])} granger={len(tabs['granger'])} "
              f"audit={len(tabs['audit'])}")
    times["total"] = sum(times.values())
    print(f"total: {times['total']:.1f} s (target < 90 s)")
    return times


if __name__ == "__main__":
    if "--profile" in sys.argv:
        import cProfile
        import pstats
        import tempfile

        prof = str(Path(tempfile.gettempdir()) / "bench_causal.prof")
        cProfile.run("run()", prof)
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
    else:
        run()
