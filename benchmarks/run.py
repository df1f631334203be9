"""Benchmarks of the whole workflow (issue 16): ``make bench`` or ``python benchmarks/run.py``.

Times, on this machine, and writes ``benchmarks/results.json`` and ``benchmarks/RESULTS.md``
(the README quotes the latter):

* the default target (three studies, validation included) from a fresh export of the
  committed tree (cold: no ``.snakemake``, no results), wall seconds on ``--cores`` cores;
* every job of that run from Snakemake's own ``benchmark:`` files, summed per rule (serial
  seconds) and the slowest job per rule;
* a no-op dry run (``snakemake -n`` when everything is built), best of three;
* the Snakefile's start-up work outside Snakemake (imports, config validation, registry,
  catalogue, graphs, cached data-support checks), best of three, and the heaviest imports from
  ``python -X importtime``;
* the LMG of 12 predictors with 1,000 unit-block bootstrap draws, and one LMG fit against
  pingouin's ``linear_regression(relimp=True)`` on the same (two-way demeaned) data, in the
  same run, with the ratio and the largest share difference (pingouin is optional: without it
  the comparison is reported as skipped).

Timings depend on the load of the machine (other users share it): the load average before and
after each measurement is recorded next to it. Nothing here is a pass/fail test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def load() -> float:
    return round(os.getloadavg()[0], 2)


def export_tree(dest: Path) -> None:
    """The committed tree (HEAD) exported into ``dest`` (a fresh clone's content), with the
    package's bytecode written as ``make install`` writes it (``make bytecode``)."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(dest / "src")], check=True,
                   capture_output=True)


def children_cpu() -> float:
    """User + system CPU seconds of every finished child process of this one (and theirs)."""
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


#: CPU seconds (user + system, all processes) of the last :func:`snakemake` call
LAST_CPU = {"seconds": float("nan")}


def snakemake(work: Path, *args: str) -> tuple[float, subprocess.CompletedProcess]:
    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
           "PYTHONPATH": str(work / "src")}
    c0 = children_cpu()
    t0 = time.perf_counter()
    r = subprocess.run([str(BIN / "snakemake"), *args], cwd=work, env=env, capture_output=True,
                       text=True)
    dt = time.perf_counter() - t0
    LAST_CPU["seconds"] = children_cpu() - c0
    if r.returncode != 0:
        raise RuntimeError(f"snakemake {' '.join(args)} failed in {work}:\n{r.stderr[-3000:]}")
    return dt, r


def job_table(results: Path) -> pd.DataFrame:
    """One row per job from Snakemake's benchmark files: rule, wildcards, seconds."""
    rows = []
    for f in sorted((results / "benchmarks").rglob("*.tsv")):
        rel = f.relative_to(results / "benchmarks")
        tsv = pd.read_csv(f, sep="\t")
        s = float(tsv["s"].iloc[0])
        cpu = float(tsv["cpu_time"].iloc[0]) if "cpu_time" in tsv else float("nan")
        group = rel.parts[0] if len(rel.parts) > 1 else ""
        rule = rel.stem
        if group == "validation" and rule not in ("summary", "power", "plot"):
            rule = "validate_batch" if rule.startswith("batch_") else "validate_run"
        elif group == "validation":
            rule = f"validate_{rule}"
        rows.append({"group": group, "rule": rule, "job": str(rel), "seconds": s,
                     "cpu_seconds": cpu})
    return pd.DataFrame(rows)


def server_jobs(work: Path) -> pd.DataFrame:
    """One row per job the warm job server ran (``.snakemake/dlddrivers/jobserver.log``, see
    :mod:`dlddrivers.jobserver`): rule, CPU and wall seconds of the forked child (the same
    CPU seconds as the job's benchmark file when Snakemake's main process routed the job)."""
    import re

    log = work / ".snakemake" / "dlddrivers" / "jobserver.log"
    pat = re.compile(r"^job \d+ (?P<label>\S+): exit (?P<code>-?\d+), (?P<cpu>[\d.]+) s CPU, "
                     r"(?P<wall>[\d.]+) s wall$")
    rows = []
    for line in log.read_text().splitlines() if log.is_file() else []:
        m = pat.match(line)
        if m:
            rule, _, wc = m["label"].partition("[")
            wildcards = dict(kv.split("=", 1) for kv in wc.rstrip("]").split(",") if "=" in kv)
            if "km" in wildcards:  # the grid rules' benchmark files are named per grid size
                rule = f"{rule}_{wildcards['km']}km"
            rows.append({"rule": "validate_batch" if rule.startswith("validate_batch_") else rule,
                         "label": m["label"], "exit": int(m["code"]),
                         "cpu_seconds": float(m["cpu"]), "seconds": float(m["wall"])})
    return pd.DataFrame(rows, columns=["rule", "label", "exit", "cpu_seconds", "seconds"])


def per_rule(jobs: pd.DataFrame, server: pd.DataFrame | None = None) -> list[dict]:
    """Jobs, wall seconds (sum, slowest job) and CPU seconds (sum, slowest job) per rule; the
    CPU of a rule whose jobs ran in the job server is its children's (``server``)."""
    per = (jobs.groupby("rule").agg(jobs=("seconds", "size"), seconds=("seconds", "sum"),
                                    max=("seconds", "max"), cpu=("cpu_seconds", "sum"),
                                    cpu_max=("cpu_seconds", "max"))
           .sort_values("cpu", ascending=False).reset_index())
    if server is not None and len(server):
        cpu = server.groupby("rule")["cpu_seconds"].agg(["sum", "max"])
        known = per["rule"].isin(cpu.index)
        per.loc[known, "cpu"] = per.loc[known, "rule"].map(cpu["sum"])
        per.loc[known, "cpu_max"] = per.loc[known, "rule"].map(cpu["max"])
        per = per.sort_values("cpu", ascending=False)
    return [{"rule": r["rule"], "jobs": int(r["jobs"]), "seconds": round(r["seconds"], 2),
             "max": round(r["max"], 2), "cpu": round(r["cpu"], 2),
             "cpu_max": round(r["cpu_max"], 2)} for _, r in per.iterrows()]


def stage_seconds(results: Path) -> list[dict]:
    """Per stage job: compute and plot seconds from its ``run.json`` (study stages)."""
    rows = []
    for f in sorted(results.glob("*/*/run.json")):
        r = json.loads(f.read_text())
        if "seconds_compute" in r:
            rows.append({"job": f"{f.parent.parent.name}/{f.parent.name}",
                         "compute": r["seconds_compute"], "plot": r["seconds_plot"],
                         "cpu_compute": r.get("cpu_seconds_compute"),
                         "cpu_plot": r.get("cpu_seconds_plot")})
    return sorted(rows, key=lambda r: -(r["compute"] + r["plot"]))


def validation_runs(results: Path) -> dict:
    """Scenarios and scenario x seed runs of a validation (from its recovery table)."""
    rec = results / "validation" / "recovery.csv"
    if not rec.is_file():
        return {}
    df = pd.read_csv(rec)
    per = df.groupby("scenario")["seed"].nunique() if {"scenario", "seed"} <= set(df) else None
    if per is None:
        return {}
    return {"scenarios": int(len(per)), "runs": int(per.sum()), "min_seeds": int(per.min())}


#: the issue's targets: (label, result key path, limit in seconds)
TARGETS = [
    ("default target cold, wall", ("default_run", "wall_seconds"), 120.0),
    ("no-op dry run, best of 3", ("noop", "best_seconds"), 1.5),
    ("Snakefile start-up work", ("startup", "process_seconds"), 0.5),
    ("slowest causal job alone on 1 core (job wall)", ("slowest_causal", "seconds"), 20.0),
    ("validation alone cold, wall", ("validation_run", "wall_seconds"), 60.0),
]


def reference_cpu() -> float:
    """CPU seconds of a fixed workload like the jobs' own (a pure-Python loop, then 200,000
    small linear systems solved by LAPACK): the same code takes more CPU seconds when the
    machine is slower or its core is shared (a busy sibling thread, caches, clock), so runs
    measured at different times can be compared through it. Best of three fresh one-thread
    interpreters."""
    code = ("import time, numpy as np\n"
            "t = time.process_time()\n"
            "s = 0\n"
            "for i in range(6_000_000):\n"
            "    s += i * i % 7\n"
            "a = np.random.default_rng(0).normal(size=(200_000, 5, 5)) + 5 * np.eye(5)\n"
            "np.linalg.solve(a, np.ones((200_000, 5, 1)))\n"
            "print(time.process_time() - t)\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 env=env, check=True).stdout.strip()) for _ in range(3)]
    return round(min(runs), 2)  # best of 3


def startup(work: Path, snapshot: str) -> dict:
    """Seconds of the Snakefile's own work (imports + setup) in a fresh interpreter."""
    code = (
        "import time; t0 = time.perf_counter()\n"
        "from dlddrivers.config import load_config\n"
        "from dlddrivers.pipeline import setup\n"
        "cfg = load_config('config/config.yaml')\n"
        f"cfg['snapshot_dir'] = {snapshot!r}\n"
        "t1 = time.perf_counter()\n"
        "setup(cfg, config_files=['config/config.yaml'], root='.', check_data=True,\n"
        "      cache_dir='.snakemake/dlddrivers')\n"
        "import dlddrivers.validation\n"
        "t2 = time.perf_counter()\n"
        "print(t1 - t0, t2 - t1)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(work / "src")}
    best = None
    for _ in range(3):
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-c", code], cwd=work, env=env, capture_output=True,
                           text=True, check=True)
        wall = time.perf_counter() - t0
        imp, setup_s = (float(v) for v in r.stdout.split())
        if best is None or wall < best["process_seconds"]:
            best = {"process_seconds": wall, "import_seconds": imp, "setup_seconds": setup_s}
    r = subprocess.run([sys.executable, "-X", "importtime", "-c",
                        "import dlddrivers.pipeline, dlddrivers.validation, dlddrivers.config"],
                       cwd=work, env=env, capture_output=True, text=True, check=True)
    heavy = []
    for line in r.stderr.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[1].isdigit() and parts[2] and not parts[2].startswith(" "):
            heavy.append((int(parts[1]) / 1e6, parts[2]))
    heavy = sorted(heavy, reverse=True)[:8]
    best["top_imports_cumulative_seconds"] = {name: round(s, 3) for s, name in heavy}
    return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in best.items()}


def lmg_vs_pingouin(p: int = 12, n_units: int = 21, n_years: int = 30, draws: int = 1000) -> dict:
    """Our LMG (12 predictors, 1000 draws) and one fit vs pingouin's relimp on the same data."""
    from dlddrivers.methods.relative_importance import _transform, compute, lmg

    rng = np.random.default_rng(1)
    units = [f"U{i:02d}" for i in range(n_units)]
    years = np.arange(1991, 1991 + n_years)
    df = pd.MultiIndex.from_product([units, years], names=["unit", "year"]).to_frame(index=False)
    X = rng.normal(size=(len(df), p))
    names = [f"x{j}" for j in range(p)]
    for j in range(p):
        df[names[j]] = X[:, j]
    df["y"] = X @ rng.normal(size=p) + rng.normal(size=len(df))
    domains = ["climate"] * 4 + ["grazing", "agriculture", "mining", "land_use", "population"] * 3
    dictionary = pd.DataFrame({"indicator": ["y", *names], "role": ["outcome"] + ["driver"] * p,
                               "domain": ["outcome", *domains[:p]]})
    study = {"name": "bench", "outcomes": ["y"], "drivers": names, "seed": 1}
    t0 = time.perf_counter()
    compute(df, dictionary, study, {"bootstrap_draws": draws})
    ours_draws = time.perf_counter() - t0
    # the same (two-way demeaned) data for both one-fit timings
    unit = pd.factorize(df["unit"])[0]
    year = pd.factorize(df["year"])[0]
    Z = _transform(df[["y", *names]].to_numpy(float), unit, year, True)
    reps = 20
    t0 = time.perf_counter()
    for _ in range(reps):
        shares, r2 = lmg(Z[:, 1:], Z[:, 0])
    ours_one = (time.perf_counter() - t0) / reps
    out = {"p": p, "n_units": n_units, "n_years": n_years, "draws": draws,
           "ours_seconds_with_draws": round(ours_draws, 3), "ours_seconds_one_fit": ours_one}
    try:
        import pingouin as pg
    except ImportError:
        out["pingouin"] = "skipped: pingouin not installed (pip install pingouin)"
        return out
    Xd = pd.DataFrame(Z[:, 1:], columns=names)
    t0 = time.perf_counter()
    res = pg.linear_regression(Xd, Z[:, 0], relimp=True)
    pg_one = time.perf_counter() - t0
    pg_shares = res.set_index("names").loc[names, "relimp"].to_numpy()
    ours = np.asarray(shares, dtype=float)
    # both as absolute R2 parts (pingouin's relimp sums to R2)
    if abs(ours.sum() - 1) < 1e-9:
        ours = ours * r2
    out.update({"pingouin_version": pg.__version__, "pingouin_seconds_one_fit": round(pg_one, 4),
                "ratio_pingouin_over_ours_one_fit": round(pg_one / ours_one, 1),
                "pingouin_seconds_for_1001_fits_estimated": round(pg_one * (draws + 1), 1),
                "max_abs_share_difference": float(np.max(np.abs(pg_shares - ours)))})
    out["ours_seconds_one_fit"] = round(ours_one, 5)
    return out


#: the first line of the sections other benchmark scripts add to RESULTS.md (kept on rewrite)
KEPT_MARKER = "<!-- section written by benchmarks/bench_pixel_scaling.py -->"


def write_markdown(res: dict, path: Path) -> None:
    d = res["default_run"]
    lines = [
        "# Benchmark results (`make bench`, benchmarks/run.py)",
        "",
        f"Measured {res['when']} on {res['machine']} with {res['cores']} cores; load average "
        "(1 min) before/after each measurement in brackets: other users share this machine, "
        "so read these as upper bounds.",
        "",
        "| measurement | seconds | load |",
        "|---|---|---|",
        f"| default target, cold, {res['cores']} cores (three studies + validation), wall | "
        f"{d['wall_seconds']:.1f} | {d['load_before']} / {d['load_after']} |",
        f"| same run, CPU of all its processes (user + system) | "
        f"{d.get('process_cpu_seconds', float('nan')):.1f} | |",
        f"| same run, serial job time (sum of all jobs' benchmark files): wall / CPU (of a job "
        f"the job server ran, its forked child's as the kernel counts it; else sampled by "
        f"Snakemake, which undercounts) "
        f"| {d['serial_seconds']:.1f} / {d['cpu_seconds']:.1f} | |",
        *([f"| same run, CPU of the {js['jobs']} jobs the warm job server ran (its forked "
           f"children, `.snakemake/dlddrivers/jobserver.log`) | {js['cpu_seconds']:.1f} | |"]
          if (js := res.get("job_server")) and js.get("jobs") else []),
        *([f"| machine speed: CPU seconds of a fixed workload like the jobs' (`reference_cpu`, "
           f"best of 3; more on a slower machine or a shared core), before / after the default run | "
           f"{ref[0]:.2f} / {ref[1]:.2f} | |"] if (ref := res.get("reference_cpu_seconds")) else []),
        f"| no-op dry run (`snakemake -n`, everything built), best of 3 | "
        f"{res['noop']['best_seconds']:.2f} | {res['noop']['load']} |",
        f"| Snakefile start-up work (imports + config checks, cached data support), best of 3 "
        f"| {res['startup']['process_seconds']:.2f} (imports {res['startup']['import_seconds']:.2f}, "
        f"setup {res['startup']['setup_seconds']:.2f}) | {res['startup_load']} |",
    ]
    v = res.get("validation_run")
    if v:
        runs = v.get("runs") or {}
        lines.append(f"| validation alone (`snakemake validate`), cold, {res['cores']} cores, wall "
                     f"({runs.get('scenarios', '?')} scenarios, {runs.get('runs', '?')} runs, at "
                     f"least {runs.get('min_seeds', '?')} seeds each); CPU {v['process_cpu_seconds']:.1f} | "
                     f"{v['wall_seconds']:.1f} | {v['load_before']} / {v['load_after']} |")
    lm = res["lmg"]
    lines.append(f"| LMG, {lm['p']} predictors, {lm['n_units']}x{lm['n_years']} panel, "
                 f"{lm['draws']} bootstrap draws | {lm['ours_seconds_with_draws']:.2f} | "
                 f"{res['lmg_load']} |")
    if "pingouin_seconds_one_fit" in lm:
        lines.append(f"| one LMG fit: ours / pingouin {lm['pingouin_version']} `relimp` "
                     f"(ratio {lm['ratio_pingouin_over_ours_one_fit']}x; largest share "
                     f"difference {lm['max_abs_share_difference']:.1e}) | "
                     f"{lm['ours_seconds_one_fit']:.4f} / {lm['pingouin_seconds_one_fit']:.3f} | |")
    else:
        lines.append(f"| pingouin comparison | {lm['pingouin']} | |")
    lines += ["", "Targets of issue 16 (the load of the machine during each measurement is above):",
              "", "| target | limit s | measured s | met |", "|---|---|---|---|"]
    for label, (k1, k2), limit in TARGETS:
        got = (res.get(k1) or {}).get(k2)
        met = "yes" if got is not None and got <= limit else "no"
        lines.append(f"| {label} | {limit:g} | {got if got is not None else 'n/a'} | {met} |")
    if res.get("stage_seconds"):
        lines += ["", "Stage jobs, seconds from their run.json (compute / figures; wall, and CPU of "
                  "the job's process), slowest first:", "",
                  "| job | compute s | figures s | compute CPU s | figures CPU s |",
                  "|---|---|---|---|---|"]
        for r in res["stage_seconds"][:12]:
            lines.append(f"| {r['job']} | {r['compute']:.1f} | {r['plot']:.1f} | "
                         f"{r['cpu_compute'] or float('nan'):.1f} | {r['cpu_plot'] or float('nan'):.1f} |")
    lines += ["", "Per rule (seconds summed over its jobs, and the slowest job; CPU seconds do "
              "not grow with the machine's load, wall seconds do; the CPU of jobs the job server "
              "ran is their forked children's, from its log):", "",
              "| rule | jobs | wall s | slowest job wall s | CPU s | slowest job CPU s |",
              "|---|---|---|---|---|---|"]
    for r in res["per_rule"]:
        lines.append(f"| {r['rule']} | {r['jobs']} | {r['seconds']:.1f} | {r['max']:.1f} | "
                     f"{r['cpu']:.1f} | {r['cpu_max']:.1f} |")
    # sections other benchmarks write into RESULTS.md (from their marker to the end) are kept
    old = path.read_text() if path.is_file() else ""
    kept = old[old.find(KEPT_MARKER):] if KEPT_MARKER in old else ""
    path.write_text("\n".join(lines) + "\n" + ("\n" + kept if kept else ""))


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--snapshot", default=str((ROOT / ".." / "shared" / "data" / "raw").resolve()))
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "benchmarks"))
    ap.add_argument("--keep", action="store_true", help="keep the temporary run folder")
    a = ap.parse_args(argv)
    res: dict = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                 "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
                 "cores": a.cores}
    work = Path(tempfile.mkdtemp(prefix="dld-bench-"))
    try:
        export_tree(work)
        snap = str(Path(a.snapshot).resolve())
        ref_before = reference_cpu()
        l0 = load()
        wall, _ = snakemake(work, "--cores", str(a.cores), "--quiet", "rules", "host",
                            "--config", f"snapshot_dir={snap}")
        res["reference_cpu_seconds"] = [ref_before, reference_cpu()]
        jobs = job_table(work / "results")
        res["default_run"] = {"wall_seconds": round(wall, 1), "load_before": l0,
                              "load_after": load(),
                              "process_cpu_seconds": round(LAST_CPU["seconds"], 1),
                              "serial_seconds": round(float(jobs["seconds"].sum()), 1),
                              "cpu_seconds": round(float(jobs["cpu_seconds"].sum()), 1)}
        res["stage_seconds"] = stage_seconds(work / "results")
        # the validation alone, cold, in a second fresh export
        vwork = Path(tempfile.mkdtemp(prefix="dld-bench-val-"))
        try:
            export_tree(vwork)
            l0 = load()
            vwall, _ = snakemake(vwork, "validate", "--cores", str(a.cores), "--quiet", "rules",
                                 "host", "--config", f"snapshot_dir={snap}")
            res["validation_run"] = {"wall_seconds": round(vwall, 1),
                                     "process_cpu_seconds": round(LAST_CPU["seconds"], 1),
                                     "load_before": l0, "load_after": load(),
                                     "runs": validation_runs(vwork / "results")}
        finally:
            shutil.rmtree(vwork, ignore_errors=True)
        server = server_jobs(work)
        res["per_rule"] = per_rule(jobs, server)
        res["job_server"] = {"jobs": int(len(server)),
                             "cpu_seconds": round(float(server["cpu_seconds"].sum()), 1)}
        res["jobs"] = jobs.to_dict(orient="records")
        noop = []
        for _ in range(3):
            dt, r = snakemake(work, "-n", "--quiet", "--config", f"snapshot_dir={snap}")
            noop.append(dt)
        res["noop"] = {"best_seconds": round(min(noop), 3), "all": [round(x, 3) for x in noop],
                       "load": load()}
        res["startup"] = startup(work, snap)
        res["startup_load"] = load()
        # the slowest causal job run again alone on one core (every other job idle): serial time
        causal = jobs[jobs["job"].str.contains("causal")].sort_values("seconds")
        if len(causal):
            job = str(causal["job"].iloc[-1])  # e.g. neasia/causal.tsv
            target = f"results/{job.rsplit('.', 1)[0]}"
            l0 = load()
            wall, _ = snakemake(work, target, "--cores", "1", "--forcerun", target, "--quiet",
                                "rules", "host", "--config", f"snapshot_dir={snap}")
            tsv = pd.read_csv(work / "results" / "benchmarks" / job, sep="\t")
            run = json.loads((work / target / "run.json").read_text())
            res["slowest_causal"] = {
                "job": target, "seconds": round(float(tsv["s"].iloc[0]), 2),
                "snakemake_wall_seconds": round(wall, 2),
                "cpu_seconds_compute_and_figures": round(
                    run.get("cpu_seconds_compute", 0) + run.get("cpu_seconds_plot", 0), 2),
                "load_before": l0, "load_after": load()}
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    res["lmg_load"] = load()
    res["lmg"] = lmg_vs_pingouin()
    out = Path(a.out)
    (out / "results.json").write_text(json.dumps(res, indent=2, default=str))
    write_markdown(res, out / "RESULTS.md")
    print((out / "RESULTS.md").read_text())
    return res


if __name__ == "__main__":
    main()
