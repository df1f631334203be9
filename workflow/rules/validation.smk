# Ground-truth validation (issue 6): its own target, `snakemake validate --cores all`.
# Scenario x seed runs are batched into a few jobs (spread over local cores or a cluster).
import os

from dlddrivers.validation import (
    batch_slice,
    batches_of,
    load_config as _val_load,
    run_jobs,
    scenario_grid,
    seeds_of,
    study_shapes,
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
VAL_BATCHES = batches_of(VAL)


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


# The runs (scenario x seed) are batched into a few jobs (`batches:` in the validation
# config, default 4) so that interpreter start-up and imports are paid once per batch; each
# batch writes its runs' rows to one CSV. A change to one scenario reruns its batch.
for _i, _runs in enumerate(VAL_BATCHES):

    rule:
        name:
            f"validate_batch_{_i}"
        output:
            f"{VAL_DIR}/runs/batch_{_i}.csv",
        log:
            f"{RESULTS}/logs/validation/batch_{_i}.log",
        benchmark:
            f"{RESULTS}/benchmarks/validation/batch_{_i}.tsv"
        # the longest jobs of a default run (about 25 s each): started first, so none of them
        # is left running alone on one core at the end of the run
        priority: 1
        conda:
            "../envs/dlddrivers.yaml"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=60,
        params:
            # the batch's scenarios, seeds and the method options (not the rest of the grid)
            slice=batch_slice(VAL, _runs),
        script:
            "../scripts/validate_batch.py"


rule validate_summary:
    input:
        [f"{VAL_DIR}/runs/batch_{i}.csv" for i in range(len(VAL_BATCHES))],
    output:
        recovery=f"{VAL_DIR}/recovery.csv",
        summary=f"{VAL_DIR}/summary.csv",
        by_units=f"{VAL_DIR}/by_units.csv",
        by_years=f"{VAL_DIR}/by_years.csv",
        expected_error=report(
            f"{VAL_DIR}/expected_error.csv",
            caption="../report/validation.rst",
            category=reporting.VALIDATION_CATEGORY,
            subcategory="Ground-truth validation",
            labels={"item": reporting.item_title("expected_error")},
        ),
        # drawn here from by_units.csv (a job of its own would pay the imports again)
        recovery_plot=report(
            f"{VAL_DIR}/recovery_by_units.png",
            caption="../report/validation.rst",
            category=reporting.VALIDATION_CATEGORY,
            subcategory="Ground-truth validation",
            labels={"item": reporting.item_title("recovery_by_units")},
        ),
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
    params:
        # units x years of each panel study the config runs (expected error per study shape)
        shapes=study_shapes(config),
        # the (scenario, seed) runs the batch tables must hold, checked before summarising
        runs=[[name, int(seed)] for name, seed in VAL_JOBS],
    script:
        "../scripts/validate_summary.py"


# The power table needs no run: it goes last (priority -1), beside the summary, instead of
# delaying a batch on the critical path.
rule validate_power:
    output:
        power=f"{VAL_DIR}/power.csv",
        plot=report(
            f"{VAL_DIR}/power.png",
            caption="../report/validation.rst",
            category=reporting.VALIDATION_CATEGORY,
            subcategory="Ground-truth validation",
            labels={"item": reporting.item_title("power")},
        ),
    log:
        f"{RESULTS}/logs/validation/power.log",
    benchmark:
        f"{RESULTS}/benchmarks/validation/power.tsv"
    priority: -1
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
