"""Benchmark of the pixel path (dlddrivers.gridded).

1. Mann-Kendall + Theil-Sen (with Sen's interval) throughput: pixel series of 30 years per
   second on one core (target: >= 50,000).
2. A ``size x size x 30`` synthetic stack (default 2,000 x 2,000: 1.2e8 pixel-years) end to end
   (lazy read from NetCDF, trends, RESTREND, classes, FDR, SDG terms, zonal means over the
   Mongolian aimags, NetCDF layers; no maps), each run in a fresh process so its peak memory
   (max RSS) is its own, with 1 and 2 local dask workers (targets: < 3 minutes on 2 cores, peak
   memory < 2 GB). Generating the stack is timed separately and not part of the run.

Run: ``PYTHONPATH=src python benchmarks/bench_pixel.py [--size 2000] [--snapshot ../shared/data/raw]``
Writes ``benchmarks/results/bench_pixel.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def throughput(n: int = 200_000, years: int = 30) -> dict:
    from dlddrivers.gridded.methods import mk_theilsen

    y = np.random.default_rng(0).normal(size=(n, years)).astype(np.float32)
    mk_theilsen(y[:1000])  # warm-up (imports)
    t0, c0 = time.perf_counter(), time.process_time()
    mk_theilsen(y)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    # per core = per CPU-second of this (single-threaded) process: robust to a shared machine
    return {"series": n, "years": years, "wall_s": dt, "cpu_s": cpu,
            "series_per_second_wall": n / dt, "series_per_second_per_core": n / cpu}


def run_stack(path: str, workers: int, snapshot: str, out: str, chunk: int) -> dict:
    """One end-to-end run (called in a fresh process)."""
    from dlddrivers.gridded.io import open_stack
    from dlddrivers.gridded.pipeline import run_pixel_study
    from dlddrivers.sources.boundaries_mng import read_geometries

    t0 = time.perf_counter()
    layers = {k: open_stack(path, k, chunk=chunk) for k in ("ndvi", "precip", "temp")}
    geoms = read_geometries(Path(snapshot) / "ocha_cod_ab" / "mng_admbnda_adm1_nso_v3.geojson")
    study = {"name": "bench", "outcomes": ["ndvi"], "drivers": ["precip", "temp"], "carry": [],
             "units": sorted(geoms)}
    rec = run_pixel_study(layers, study, out, geoms,
                          {"scheduler": "threads", "workers": workers, "chunk": chunk},
                          threads=workers, maps=False)
    wall = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    peak_mb = ru.ru_maxrss / 1024
    with open("/proc/loadavg") as fh:
        load = fh.read().split()[0]
    return {"workers": workers, "wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime,
            "peak_rss_mb": peak_mb, "load_average_1min_at_end": float(load), "timings_s": rec["timings_s"],
            "n_pixels": rec["n_pixels"], "grid": rec["grid"], "n_years": rec["n_years"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=2000)
    ap.add_argument("--years", type=int, default=30)
    ap.add_argument("--chunk", type=int, default=250)
    ap.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--snapshot", default=str(HERE.parent.parent / "shared" / "data" / "raw"))
    ap.add_argument("--stack", default=str(Path(tempfile.gettempdir()) / "dlddrivers_bench_stack.nc"))
    ap.add_argument("--run-stack", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(HERE / "results" / "bench_pixel.json"))
    a = ap.parse_args()
    if a.run_stack:  # child process
        print(json.dumps(run_stack(a.stack, a.workers[0], a.snapshot, str(Path(tempfile.gettempdir()) / f"dld_bench_out_{a.workers[0]}"),
                                   a.chunk)))
        return
    res: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}
    res["mk_theilsen"] = throughput(years=a.years)
    print(f"MK + Theil-Sen: {res['mk_theilsen']['series_per_second_per_core']:,.0f} series per CPU-second "
          f"({res['mk_theilsen']['series_per_second_wall']:,.0f} per wall second)")
    from dlddrivers.gridded.synthetic import write_stack_netcdf

    stack = Path(a.stack)
    t0 = time.perf_counter()
    if not stack.exists():
        write_stack_netcdf(stack, a.size, a.size, range(1991, 1991 + a.years), seed=1)
    res["stack"] = {"path": str(stack), "size": a.size, "years": a.years,
                    "pixel_years": a.size * a.size * a.years, "file_mb": stack.stat().st_size / 1e6,
                    "generate_s": time.perf_counter() - t0}
    res["runs"] = []
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    for w in a.workers:
        p = subprocess.run([sys.executable, __file__, "--run-stack", "--stack", str(stack), "--workers",
                            str(w), "--snapshot", a.snapshot, "--chunk", str(a.chunk)],
                           capture_output=True, text=True, env=env)
        if p.returncode != 0:
            raise SystemExit(p.stderr[-3000:])
        r = json.loads(p.stdout.strip().splitlines()[-1])
        res["runs"].append(r)
        print(f"{a.size}x{a.size}x{a.years}, {w} worker(s): {r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU, "
              f"peak {r['peak_rss_mb']:.0f} MB, load {r['load_average_1min_at_end']}")
    if len(res["runs"]) == 2:
        res["speedup_2_vs_1"] = res["runs"][0]["wall_s"] / res["runs"][1]["wall_s"]
        print(f"speed-up 2 vs 1 worker: {res['speedup_2_vs_1']:.2f}")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1), encoding="utf-8")
    print(f"written {a.out}")


if __name__ == "__main__":
    main()
