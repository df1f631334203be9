# Results for people: maps per study and a summary (markdown + HTML) generated from the result
# files. The Snakemake report (`snakemake --report results/report.html`) opens on workflow.rst.
from dlddrivers.config import study_config
from dlddrivers.pipeline import raw_dir

# The report opens on workflow.rst followed by the summary's first pages once the summary exists
# (`snakemake --report` runs after the workflow, so it does).
REPORT_FRONT = reporting.front_page_rst(
    Path(workflow.current_basedir) / ".." / "report" / "workflow.rst",
    Path(RESULTS) / "summary_front.html",
    Path(".snakemake") / "dlddrivers" / "report_front.rst",
)


report: REPORT_FRONT


rule maps:
    input:
        stages=lambda w: [
            f"{RESULTS}/{w.study}/{s}"
            for s in ("trends", "attribution", "restrend")
            if s in STAGE_NAMES
        ],
        dictionary=f"{RESULTS}/{{study}}/data_dictionary.csv",
        coverage=f"{RESULTS}/{{study}}/coverage.csv",
        # the boundary files declared for the study's units (units.yaml `boundary` ->
        # sources.yaml), in the order of params.boundaries
        boundaries=lambda w: boundary_paths(map_boundaries(w.study)[0]),
    output:
        report(
            directory(f"{RESULTS}/{{study}}/maps"),
            patterns=["{name}.png"],
            caption="../report/maps.rst",
            category=lambda w: reporting.study_category(w.study),
            subcategory=reporting.maps_subcategory(),
            labels=item_label,
        ),
    log:
        f"{RESULTS}/logs/{{study}}/maps.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{study}}/maps.tsv"
    # the summary, the last job, waits for the maps: they start before other ready jobs
    priority: 1
    conda:
        "../envs/dlddrivers.yaml"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=10,
    params:
        level=lambda w: study_config(config, w.study)["level"],
        boundaries=lambda w: [s.record() for s in map_boundaries(w.study)[0].values()],
        boundaries_skipped=lambda w: map_boundaries(w.study)[1],
        tiles=lambda w: map_tiles(w.study),
    script:
        "../scripts/maps.py"


# With `validation: true` (the default) the summary waits for the ground-truth validation, whose
# expected errors it states per study; with `--config validation=False` it skips them and says so.
rule summary:
    input:
        validation=(
            [f"{RESULTS}/validation/expected_error.csv"]
            if config.get("validation", True)
            else []
        ),
        panels=panel_outputs(PANEL_STUDIES),
        stages=stage_outputs(PANEL_STUDIES),
        maps=[f"{RESULTS}/{s}/maps" for s in PANEL_STUDIES],
        grids=grid_outputs(GRID_STUDIES),
        pixels=pixel_outputs(PIXEL_STUDIES),
    output:
        md=f"{RESULTS}/summary.md",
        # the studies' first pages, shown on the report's front page (report: below)
        front=f"{RESULTS}/summary_front.html",
        html=report(
            f"{RESULTS}/summary.html",
            caption="../report/summary.rst",
            category=reporting.SUMMARY_CATEGORY,
            subcategory="Every study",
            labels={"item": reporting.item_title("summary")},
        ),
    log:
        f"{RESULTS}/logs/summary.log",
    benchmark:
        f"{RESULTS}/benchmarks/summary.tsv"
    conda:
        "../envs/dlddrivers.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        studies=STUDIES + PIXEL_STUDIES,
    script:
        "../scripts/summary.py"
