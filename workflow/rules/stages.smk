# One rule per registered analysis stage (dlddrivers.stages.STAGES), all with the same shape:
# panel in, tables and figures out.
for _stage in STAGE_NAMES:

    rule:
        name:
            _stage
        input:
            panel=f"{RESULTS}/{{study}}/panel.parquet",
            dictionary=f"{RESULTS}/{{study}}/data_dictionary.csv",
            graph=(
                (lambda w: graph_input(w.study))
                if "graph" in STAGES[_stage].needs
                else []
            ),
        output:
            report(
                directory(f"{RESULTS}/{{study}}/{_stage}"),
                patterns=["{name}.png", "{name}.csv"],
                # a stage's own caption, else the generic one (a new stage needs no file)
                caption=(
                    f"../report/{_stage}.rst"
                    if (ROOT / "workflow" / "report" / f"{_stage}.rst").exists()
                    else "../report/stage.rst"
                ),
                category=lambda w: reporting.study_category(w.study),
                subcategory=reporting.stage_subcategory(_stage),
                labels=lambda w, stage=_stage: {
                    "item": reporting.item_title(w.name, INDICATOR_LABELS, stage=stage)
                },
            ),
        log:
            f"{RESULTS}/logs/{{study}}/{_stage}.log",
        benchmark:
            f"{RESULTS}/benchmarks/{{study}}/{_stage}.tsv"
        # long stages and those the maps read start first (dlddrivers.stages.Stage.priority)
        priority: STAGES[_stage].priority
        conda:
            "../envs/dlddrivers.yaml"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=20,
        params:
            stage=_stage,
            # the study definition and this stage's options merged over its DEFAULTS
            slice=lambda w, stage=_stage: stage_slice(config, w.study, stage),
        script:
            "../scripts/stage.py"
