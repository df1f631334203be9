# Pixel studies (level: pixel): gridded annual stacks analysed per pixel with xarray + dask
# (dlddrivers.gridded). Per study: a synthetic stack with planted truth (if the study has
# `synthetic`), or the provider files downloaded into raw_dir (region subset where the provider
# allows it), then one job that runs every per-pixel method chunk by chunk and writes layers,
# maps and zonal tables to results/<study>/pixel/. A study with `tiles: [ny, nx]` runs one
# `pixel_tile` job per tile (per-pixel layers and zonal sums of its window) and `pixel_study`
# gathers them (FDR, classes, SDG performance and zonal tables over all pixels). The panel and stage rules never see these
# studies (Snakefile: PIXEL_STUDIES are kept out of STUDIES).
rule pixel_synthetic:
    output:
        f"{RESULTS}/{{study}}/pixel_input/synthetic_stack.nc",
    log:
        f"{RESULTS}/logs/{{study}}/pixel_synthetic.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{study}}/pixel_synthetic.tsv"
    wildcard_constraints:
        study=PIXEL_PATTERN,
    conda:
        "../envs/dlddrivers.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        study=lambda w: pixel_study(w.study),
    script:
        "../scripts/pixel.py"


rule pixel_retrieve:
    output:
        f"{RESULTS}/{{study}}/pixel_input/retrieved.txt",
    log:
        f"{RESULTS}/logs/{{study}}/pixel_retrieve.log",
    wildcard_constraints:
        study=PIXEL_PATTERN,
    conda:
        "../envs/dlddrivers.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=120,
    params:
        study=lambda w: pixel_study(w.study),
        layers=lambda w: pixel_layers_of(w.study),
        raw_root=config["raw_dir"],
        deadline=config.get("download_deadline", 900),
    script:
        "../scripts/pixel.py"


rule pixel_tile:
    input:
        synthetic=lambda w: (
            [f"{RESULTS}/{w.study}/pixel_input/synthetic_stack.nc"]
            if "synthetic" in pixel_readers(w.study)
            else []
        ),
        retrieved=lambda w: (
            [f"{RESULTS}/{w.study}/pixel_input/retrieved.txt"]
            if pixel_readers(w.study) - {"synthetic"}
            else []
        ),
        boundaries=lambda w: list(pixel_boundaries(w.study).values()),
    output:
        temp(f"{RESULTS}/{{study}}/pixel_tiles/{{tile}}.npz"),
    log:
        f"{RESULTS}/logs/{{study}}/pixel_tile_{{tile}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{study}}/pixel_tile_{{tile}}.tsv"
    wildcard_constraints:
        study=PIXEL_PATTERN,
        tile=r"r\d+c\d+",
    conda:
        "../envs/dlddrivers.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        study=lambda w: pixel_study(w.study),
        layers=lambda w: pixel_layers_of(w.study),
        options=pixel_options((config.get("methods") or {}).get("pixel")),
        raw_root=config["raw_dir"],
        boundary_isos=lambda w: list(pixel_boundaries(w.study)),
        boundary_fields=lambda w: pixel_boundary_fields(w.study),
    script:
        "../scripts/pixel.py"


rule pixel_study:
    input:
        tiles=lambda w: pixel_tile_files(w.study),
        synthetic=lambda w: (
            [f"{RESULTS}/{w.study}/pixel_input/synthetic_stack.nc"]
            if "synthetic" in pixel_readers(w.study)
            else []
        ),
        retrieved=lambda w: (
            [f"{RESULTS}/{w.study}/pixel_input/retrieved.txt"]
            if pixel_readers(w.study) - {"synthetic"}
            else []
        ),
        boundaries=lambda w: list(pixel_boundaries(w.study).values()),
    output:
        report(
            directory(f"{RESULTS}/{{study}}/pixel"),
            patterns=["maps/{name}.png"],
            caption="../report/pixel.rst",
            category="{study}",
            subcategory="pixel maps",
        ),
    log:
        f"{RESULTS}/logs/{{study}}/pixel_study.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{study}}/pixel_study.tsv"
    wildcard_constraints:
        study=PIXEL_PATTERN,
    conda:
        "../envs/dlddrivers.yaml"
    threads: 2
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        study=lambda w: pixel_study(w.study),
        layers=lambda w: pixel_layers_of(w.study),
        options=pixel_options((config.get("methods") or {}).get("pixel")),
        raw_root=config["raw_dir"],
        boundary_isos=lambda w: list(pixel_boundaries(w.study)),
        boundary_fields=lambda w: pixel_boundary_fields(w.study),
    script:
        "../scripts/pixel.py"
