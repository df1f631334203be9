"""Scaling of a pixel study: 1 vs 2 dask workers on a ``LocalCluster`` and 1 vs 2 Snakemake
tile jobs, on the same synthetic stack.

1. The workflow generates a ``size x size x 30`` synthetic stack (rule ``pixel_synthetic``) for
   a study over Mongolia with ``tiles: [2, 1]`` (not timed).
2. ``LocalCluster(n_workers=w, threads_per_worker=1)``, w = 1, 2: the untiled study on that stack
   with ``methods.pixel.dask_address`` = the cluster, each in a fresh process (wall, CPU of the
   client process and of its worker processes, peak memory of the largest worker).
3. Snakemake ``--cores c``, c = 1, 2: the tiled study (two ``pixel_tile`` jobs of one thread, then
   the gather ``pixel_study``), wall of the whole call and per job from the jobs' benchmark
   files (s, cpu_time, max_rss).

The 1-minute load average is recorded before and after each run: other users share the
machine, so the times are upper bounds and the speed-ups are what this machine gave then.
No assertion: a measurement, not a test.

Run: ``.venv/bin/python benchmarks/bench_pixel_scaling.py [--size 1000] [--snapshot ../shared/data/raw]``
Writes ``benchmarks/results/bench_pixel_scaling.json`` and its section of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
STUDY = "bench_pixel_tiles"
MARKER = "<!-- section written by benchmarks/bench_pixel_scaling.py -->"


def load() -> float:
    with open("/proc/loadavg") as fh:
        return float(fh.read().split()[0])


def config(size: int, chunk: int, tiles: list[int]) -> dict:
    cfg = yaml.safe_load((REPO / "config" / "pixel.yaml").read_text(encoding="utf-8"))
    st = dict(cfg["studies"]["mongolia_pixel_synthetic"])
    st.update(description=f"benchmark: {size} x {size} x 30 synthetic stack", tiles=tiles,
              synthetic={"ny": size, "nx": size, "seed": 1})
    cfg["studies"] = {STUDY: st}
    cfg["run"] = [STUDY]
    cfg.setdefault("methods", {})["pixel"] = {"chunk": chunk}
    return cfg


def snakemake(args: list[str], env: dict) -> subprocess.CompletedProcess:
    exe = shutil.which("snakemake") or str(Path(sys.executable).parent / "snakemake")
    return subprocess.run([exe, *args], cwd=REPO, capture_output=True, text=True, env=env)


def cluster_run(stack: str, workers: int, snapshot: str, out: str, chunk: int, units: list[str]) -> dict:
    """One untiled run on a LocalCluster (called in a fresh process)."""
    import psutil
    from distributed import LocalCluster

    from dlddrivers.gridded.io import open_stack
    from dlddrivers.gridded.pipeline import run_pixel_study
    from dlddrivers.sources.boundaries_mng import read_geometries

    geoms = read_geometries(Path(snapshot) / "ocha_cod_ab" / "mng_admbnda_adm1_nso_v3.geojson")
    study = {"name": "bench", "outcomes": ["ndvi"], "drivers": ["precip", "temp"], "carry": [],
             "units": units}
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cl:
        procs = [psutil.Process(p.pid) for p in psutil.Process().children(recursive=True)]
        t0 = time.perf_counter()
        layers = {k: open_stack(stack, k, chunk=chunk) for k in ("ndvi", "precip", "temp")}
        rec = run_pixel_study(layers, study, out, geoms, {"dask_address": cl.scheduler_address,
                                                          "chunk": chunk}, maps=False)
        wall = time.perf_counter() - t0
        wcpu, wrss = 0.0, 0.0
        for p in procs:
            try:
                ct = p.cpu_times()
                wcpu += ct.user + ct.system
                wrss = max(wrss, p.memory_info().rss / 2**20)
            except psutil.Error:
                pass
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {"workers": workers, "wall_s": wall, "client_cpu_s": ru.ru_utime + ru.ru_stime,
            "worker_processes_cpu_s": wcpu, "client_peak_rss_mb": ru.ru_maxrss / 1024,
            "largest_worker_rss_mb_at_end": wrss, "timings_s": rec["timings_s"],
            "n_pixels": rec["n_pixels"]}


def job_benchmarks(results: Path) -> list[dict]:
    rows = []
    for f in sorted((results / "benchmarks" / STUDY).glob("pixel_*.tsv")):
        if f.stem == "pixel_synthetic":
            continue
        with open(f, newline="") as fh:
            r = next(csv.DictReader(fh, delimiter="\t"))
        rows.append({"job": f.stem, "wall_s": float(r["s"]), "cpu_s": float(r["cpu_time"]),
                     "max_rss_mb": float(r["max_rss"])})
    return rows


def markdown(res: dict) -> str:
    st = res["stack"]
    lines = [MARKER, "", "## Pixel study scaling: dask workers and Snakemake tile jobs "
             "(`benchmarks/bench_pixel_scaling.py`)", "",
             f"Measured {res['when']} (commit {res['commit']}) on {res['cpus']} CPUs shared with other "
             f"users; stack {st['size']} x {st['size']} x {st['years']} "
             f"({st['size'] ** 2 * st['years']:.2g} pixel-years, chunks of {res['chunk']}), "
             f"tiled study `tiles: {res['tiles']}`. Load average (1 min) before / after each run. "
             "Wall seconds grow with the machine's load; CPU seconds much less.", "",
             "| run | wall s | CPU s | peak memory MB | load before / after |", "|---|---|---|---|---|"]
    for r in res["local_cluster"]:
        lines.append(f"| LocalCluster, {r['workers']} worker(s) x 1 thread, untiled | {r['wall_s']:.1f} | "
                     f"{r['client_cpu_s'] + r['worker_processes_cpu_s']:.1f} (client {r['client_cpu_s']:.1f} "
                     f"+ workers {r['worker_processes_cpu_s']:.1f}) | client {r['client_peak_rss_mb']:.0f}, "
                     f"largest worker {r['largest_worker_rss_mb_at_end']:.0f} | "
                     f"{r['load_before']} / {r['load_after']} |")
    for r in res["snakemake_tiles"]:
        jobs = r["jobs"]
        tiles = [j for j in jobs if j["job"].startswith("pixel_tile")]
        gather = [j for j in jobs if j["job"] == "pixel_study"]
        tile_walls = ", ".join(f"{j['wall_s']:.1f}" for j in tiles)
        lines.append(
            f"| Snakemake `--cores {r['cores']}`: {len(tiles)} tile jobs (1 thread each) + gather | "
            f"{r['wall_s']:.1f} (tiles {tile_walls}; gather "
            f"{gather[0]['wall_s']:.1f}) | {sum(j['cpu_s'] for j in jobs):.1f} | largest tile job "
            f"{max(j['max_rss_mb'] for j in tiles):.0f}, gather {gather[0]['max_rss_mb']:.0f} | "
            f"{r['load_before']} / {r['load_after']} |")
    lc, sm = res["local_cluster"], res["snakemake_tiles"]
    if len(lc) == 2 and len(sm) == 2:
        lines += ["", f"Speed-up of 2 over 1 (wall): LocalCluster workers {lc[0]['wall_s'] / lc[1]['wall_s']:.2f}x; "
                  f"Snakemake tile jobs {sm[0]['wall_s'] / sm[1]['wall_s']:.2f}x. The tiled and untiled "
                  "studies give the same tables and layers exactly (tests/test_pixel_tiles.py)."]
    loads = [r[k] for r in lc + sm for k in ("load_before", "load_after")]
    if loads and min(loads) > res["cpus"]:
        lines += ["", f"The load average stayed between {min(loads)} and {max(loads)} on {res['cpus']} "
                  "CPUs: a second worker or job found no free core, so these ratios do not show the "
                  "scaling on idle cores. The CPU of the Snakemake rows is the sum of the jobs' "
                  "benchmark `cpu_time` (sampled by Snakemake while the job runs, so it undercounts); "
                  "the LocalCluster CPU includes the workers' serialisation and transfer overhead."]
    return "\n".join(lines) + "\n"


def write_results_md(section: str, path: Path) -> None:
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    head = old[:old.find(MARKER)].rstrip("\n") if MARKER in old else old.rstrip("\n")
    path.write_text((head + "\n\n" if head else "") + section, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--chunk", type=int, default=250)
    ap.add_argument("--tiles", type=int, nargs=2, default=[2, 1])
    ap.add_argument("--snapshot", default=str(REPO.parent / "shared" / "data" / "raw"))
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "dlddrivers_bench_scaling"))
    ap.add_argument("--cluster-run", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--stack", default="", help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(HERE / "results" / "bench_pixel_scaling.json"))
    ap.add_argument("--markdown-only", action="store_true",
                    help="rewrite the RESULTS.md section from --out without measuring")
    a = ap.parse_args()
    if a.markdown_only:
        write_results_md(markdown(json.loads(Path(a.out).read_text(encoding="utf-8"))), HERE / "RESULTS.md")
        return
    cfg = config(a.size, a.chunk, list(a.tiles))
    units = cfg["studies"][STUDY]["units"]
    if a.cluster_run:  # child process
        print(json.dumps(cluster_run(a.stack, a.cluster_run, a.snapshot,
                                     str(Path(a.work) / f"cluster_{a.cluster_run}"), a.chunk, units)))
        return
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    results = work / "results"
    cfg_path = work / "bench.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    common = ["--configfile", str(cfg_path), "--config", f"snapshot_dir={a.snapshot}",
              f"results_dir={results}", "validation=False"]
    stack = results / STUDY / "pixel_input" / "synthetic_stack.nc"
    t0 = time.perf_counter()
    p = snakemake(["--cores", "2", *common, "--", str(stack)], env)
    if p.returncode != 0:
        raise SystemExit(p.stderr[-3000:])
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                            text=True).stdout.strip()
    res: dict = {"when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "commit": commit,
                 "cpus": os.cpu_count(), "chunk": a.chunk, "tiles": list(a.tiles),
                 "stack": {"size": a.size, "years": 30, "path": str(stack),
                           "file_mb": stack.stat().st_size / 1e6, "generate_s": time.perf_counter() - t0},
                 "local_cluster": [], "snakemake_tiles": []}
    for w in (1, 2):
        lb = load()
        p = subprocess.run([sys.executable, __file__, "--cluster-run", str(w), "--stack", str(stack),
                            "--snapshot", a.snapshot, "--work", str(work), "--chunk", str(a.chunk),
                            "--size", str(a.size)], capture_output=True, text=True, env=env)
        if p.returncode != 0:
            raise SystemExit(p.stderr[-3000:])
        r = json.loads(p.stdout.strip().splitlines()[-1])
        r.update(load_before=lb, load_after=load())
        res["local_cluster"].append(r)
        print(f"LocalCluster {w} worker(s): {r['wall_s']:.1f} s wall (load {lb} / {r['load_after']})")
    for cores in (1, 2):
        shutil.rmtree(results / STUDY / "pixel", ignore_errors=True)
        shutil.rmtree(results / STUDY / "pixel_tiles", ignore_errors=True)
        shutil.rmtree(results / "benchmarks" / STUDY, ignore_errors=True)
        lb = load()
        t1 = time.perf_counter()
        p = snakemake(["--cores", str(cores), *common, "--", str(results / STUDY / "pixel")], env)
        wall = time.perf_counter() - t1
        if p.returncode != 0:
            raise SystemExit(p.stderr[-3000:])
        r = {"cores": cores, "wall_s": wall, "jobs": job_benchmarks(results), "load_before": lb,
             "load_after": load()}
        res["snakemake_tiles"].append(r)
        print(f"Snakemake --cores {cores}: {wall:.1f} s wall (load {lb} / {r['load_after']})")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1), encoding="utf-8")
    section = markdown(res)
    write_results_md(section, HERE / "RESULTS.md")
    print(section)


if __name__ == "__main__":
    main()
