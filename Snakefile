# Entry point at the repository root (design card); the workflow itself follows the
# snakemake-workflows standard layout under workflow/ (`snakemake -s workflow/Snakefile` works too).
include: "workflow/Snakefile"


rule default:
    default_target: True
    input:
        rules.all.input,
