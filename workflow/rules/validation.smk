# Ground-truth validation (issue 6): its own target, `snakemake validate --cores all`.
# Every scenario x seed is one job (spreads over local cores or a SLURM cluster).
import os

from dlddrivers.validation import (
    load_config as _val_load,
    run_jobs,
    scenario_grid,
    scenario_slice,
    seeds_of,
)

from dlddrivers.config import resolve_path

VAL_CONFIG = resolve_path(
    os.environ.get("DLD_VALIDATION_CONFIG", "config/validation.yaml"), ROOT
)
VAL_PRESET = os.environ.get("DLD_VALIDATION_PRESET") or None
VAL = _val_load(VAL_CONFIG, VAL_PRESET)
VAL_DIR = f"{RESULTS}/validation"
VAL_SCENARIOS = [s.name for s in scenario_grid(VAL)]
VAL_SEEDS = seeds_of(VAL)
VAL_JOBS = run_jobs(VAL)


wildcard_constraints:
    scenario="[A-Za-z0-9_.]+",
    seed="[0-9]+",


rule validate:
    input:
        f"{VAL_DIR}/recovery.csv",
        f"{VAL_DIR}/summary.csv",
        f"{VAL_DIR}/expected_error.csv",
        f"{VAL_DIR}/power.csv",
        f"{VAL_DIR}/recovery_by_units.png",
        f"{VAL_DIR}/power.png",


rule validate_run:
    output:
        f"{VAL_DIR}/runs/{{scenario}}/{{seed}}.csv",
    log:
        f"{RESULTS}/logs/validation/{{scenario}}_{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/validation/{{scenario}}_{{seed}}.tsv"
    conda:
        "../envs/dlddrivers.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        # the scenario's fields and the method options (not the rest of the grid)
        slice=lambda w: scenario_slice(VAL, w.scenario),
    script:
        "../scripts/validate_run.py"


rule validate_summary:
    input:
        [f"{VAL_DIR}/runs/{name}/{seed}.csv" for name, seed in VAL_JOBS],
    output:
        recovery=f"{VAL_DIR}/recovery.csv",
        summary=f"{VAL_DIR}/summary.csv",
        by_units=f"{VAL_DIR}/by_units.csv",
        by_years=f"{VAL_DIR}/by_years.csv",
        expected_error=f"{VAL_DIR}/expected_error.csv",
    log:
        f"{RESULTS}/logs/validation/summary.log",
    benchmark:
        f"{RESULTS}/benchmarks/validation/summary.tsv"
    conda:
        "../envs/dlddrivers.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/validate_summary.py"


rule validate_power:
    output:
        f"{VAL_DIR}/power.csv",
    log:
        f"{RESULTS}/logs/validation/power.log",
    benchmark:
        f"{RESULTS}/benchmarks/validation/power.tsv"
    conda:
        "../envs/dlddrivers.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        power=VAL.get("power") or {},
        base_seed=int(VAL.get("base_seed", 0)),
    script:
        "../scripts/validate_power.py"


rule validate_plot:
    input:
        by_units=f"{VAL_DIR}/by_units.csv",
        power=f"{VAL_DIR}/power.csv",
    output:
        recovery=f"{VAL_DIR}/recovery_by_units.png",
        power=f"{VAL_DIR}/power.png",
    log:
        f"{RESULTS}/logs/validation/plot.log",
    benchmark:
        f"{RESULTS}/benchmarks/validation/plot.tsv"
    conda:
        "../envs/dlddrivers.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/validate_plot.py"
