rule panel:
    input:
        raw=lambda w: study_files(w.study),
    output:
        panel_csv=f"{RESULTS}/{{study}}/panel.csv",
        panel_parquet=f"{RESULTS}/{{study}}/panel.parquet",
        coverage=f"{RESULTS}/{{study}}/coverage.csv",
        coverage_summary=f"{RESULTS}/{{study}}/coverage_summary.csv",
        dictionary=f"{RESULTS}/{{study}}/data_dictionary.csv",
        drops=f"{RESULTS}/{{study}}/drops.csv",
        provenance=f"{RESULTS}/{{study}}/provenance.json",
    log:
        f"{RESULTS}/logs/{{study}}/panel.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{study}}/panel.tsv"
    conda:
        "../envs/dlddrivers.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        # the study, its catalogue entries (formula dependencies included), the registry at
        # its level and its sources: a change to anything else reruns nothing
        slice=lambda w: panel_params(w.study),
        # derived from the input paths (not a rerun trigger): where the raw files are
        raw_root=lambda w, input: raw_dir(config),
    script:
        "../scripts/panel.py"


rule coverage_plot:
    input:
        coverage=f"{RESULTS}/{{study}}/coverage.csv",
    output:
        report(
            f"{RESULTS}/{{study}}/coverage.png",
            caption="../report/coverage.rst",
            category=lambda w: reporting.study_category(w.study),
            subcategory=reporting.coverage_subcategory(),
            labels={"item": reporting.item_title("coverage")},
        ),
    log:
        f"{RESULTS}/logs/{{study}}/coverage_plot.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{study}}/coverage_plot.tsv"
    conda:
        "../envs/dlddrivers.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/coverage_plot.py"
