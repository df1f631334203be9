# Grid studies (level: grid): cross-sectional cells, no years. Per study: the cells of every
# configured grid size, then per grid size the complete geodetector and the ML + SHAP
# attribution, and the scale effect across sizes. The panel stages need years and are not
# scheduled for grid studies; `stages_not_applicable.csv` says so once.
rule grid_data:
    input:
        lambda w: study_files(w.study),
    output:
        cells=f"{RESULTS}/{{study}}/data/cells.parquet",
        cells_csv=f"{RESULTS}/{{study}}/data/cells.csv",
        dictionary=f"{RESULTS}/{{study}}/data/data_dictionary.csv",
        drops=f"{RESULTS}/{{study}}/data/drops.csv",
        provenance=f"{RESULTS}/{{study}}/data/provenance.json",
        status=report(
            f"{RESULTS}/{{study}}/stages_not_applicable.csv",
            caption="../report/grid.rst",
            category=lambda w: reporting.study_category(w.study),
            subcategory="01 Stages that apply to a grid",
            labels={"item": "Stages that do and do not apply to the grid study"},
        ),
    log:
        f"{RESULTS}/logs/{{study}}/grid_data.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{study}}/grid_data.tsv"
    wildcard_constraints:
        study=GRID_PATTERN,
    conda:
        "../envs/dlddrivers.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        # the study, its catalogue entries, registry grid and source specs (a rerun trigger)
        slice=lambda w: panel_params(w.study),
        # where the raw files are read (their paths are the inputs)
        raw_root=lambda w, input: raw_dir(config),
        panel_stages=STAGE_NAMES,
    script:
        "../scripts/grid.py"


rule grid_geodetector:
    input:
        cells=f"{RESULTS}/{{study}}/data/cells.parquet",
        dictionary=f"{RESULTS}/{{study}}/data/data_dictionary.csv",
    output:
        report(
            directory(f"{RESULTS}/{{study}}/grid_{{km}}km/geodetector"),
            patterns=["{name}.png", "{name}.csv"],
            caption="../report/grid_geodetector.rst",
            category=lambda w: reporting.study_category(w.study),
            subcategory="02 Geographical detector, {km} km grid",
            labels=item_label,
        ),
    log:
        f"{RESULTS}/logs/{{study}}/grid_geodetector_{{km}}km.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{study}}/grid_geodetector_{{km}}km.tsv"
    wildcard_constraints:
        study=GRID_PATTERN,
        km=r"\d+",
    conda:
        "../envs/dlddrivers.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        study=lambda w: study_config(config, w.study),
        options=grid_options("grid_geodetector", GRID_DEFAULTS),
    script:
        "../scripts/grid.py"


rule grid_ml:
    input:
        cells=f"{RESULTS}/{{study}}/data/cells.parquet",
        dictionary=f"{RESULTS}/{{study}}/data/data_dictionary.csv",
        geodetector=f"{RESULTS}/{{study}}/grid_{{km}}km/geodetector",
    output:
        report(
            directory(f"{RESULTS}/{{study}}/grid_{{km}}km/ml"),
            patterns=["{name}.png", "{name}.csv"],
            caption="../report/grid_ml.rst",
            category=lambda w: reporting.study_category(w.study),
            subcategory="03 Machine learning and SHAP, {km} km grid",
            labels=item_label,
        ),
    log:
        f"{RESULTS}/logs/{{study}}/grid_ml_{{km}}km.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{study}}/grid_ml_{{km}}km.tsv"
    wildcard_constraints:
        study=GRID_PATTERN,
        km=r"\d+",
    conda:
        "../envs/dlddrivers.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    params:
        study=lambda w: study_config(config, w.study),
        options=grid_options("grid_ml", GRID_ML_DEFAULTS),
    script:
        "../scripts/grid.py"


rule grid_scale:
    input:
        geodetector=lambda w: [
            f"{RESULTS}/{w.study}/grid_{km}km/geodetector"
            for km in grid_sizes(w.study)
        ],
        ml=lambda w: [
            f"{RESULTS}/{w.study}/grid_{km}km/ml" for km in grid_sizes(w.study)
        ],
        dictionary=f"{RESULTS}/{{study}}/data/data_dictionary.csv",
    output:
        report(
            directory(f"{RESULTS}/{{study}}/scale"),
            patterns=["{name}.png", "{name}.csv"],
            caption="../report/grid_scale.rst",
            category=lambda w: reporting.study_category(w.study),
            subcategory="04 Scale effect",
            labels=item_label,
        ),
    log:
        f"{RESULTS}/logs/{{study}}/grid_scale.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{study}}/grid_scale.tsv"
    wildcard_constraints:
        study=GRID_PATTERN,
    conda:
        "../envs/dlddrivers.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        study=lambda w: study_config(config, w.study),
    script:
        "../scripts/grid.py"
