"""Thin adapter: Snakemake inputs/params -> dlddrivers.gridded (pixel studies)."""

import logging

from dlddrivers.gridded import pipeline as gp

sm = snakemake  # noqa: F821 (provided by Snakemake)
logging.basicConfig(filename=sm.log[0], level=logging.INFO)
study = sm.params.study
if sm.rule == "pixel_synthetic":
    gp.make_synthetic(study, sm.output[0])
elif sm.rule == "pixel_retrieve":
    from dlddrivers.gridded.products import retrieve_layer_files

    files = []
    for info in sm.params.layers.values():
        if info["source"]["reader"] != "synthetic":
            files += retrieve_layer_files(study, info["spec"], info["source"],
                                          sm.params.raw_root, deadline=sm.params.deadline)
    with open(sm.output[0], "w", encoding="utf-8") as fh:
        fh.write("".join(f"{f}\n" for f in files))
elif sm.rule == "pixel_tile":
    gp.run_configured_tile(study, sm.params.layers, sm.params.raw_root,
                           sm.input.synthetic[0] if sm.input.synthetic else "",
                           dict(zip(sm.params.boundary_isos, sm.input.boundaries, strict=True)),
                           sm.wildcards.tile, sm.output[0], sm.params.options, threads=sm.threads,
                           code_fields=sm.params.boundary_fields)
else:
    gp.run_configured(study, sm.params.layers, sm.params.raw_root,
                      sm.input.synthetic[0] if sm.input.synthetic else "",
                      dict(zip(sm.params.boundary_isos, sm.input.boundaries, strict=True)),
                      sm.output[0], sm.params.options, threads=sm.threads,
                      tile_files=list(sm.input.tiles), code_fields=sm.params.boundary_fields)
