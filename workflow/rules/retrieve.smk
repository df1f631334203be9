# Raw files: offline they are read in place from `snapshot_dir` (no rule runs); online each
# file is downloaded into the cache `raw_dir` by this rule (atomic, retried, checksummed).
if not config.get("snapshot_dir"):
    from dataclasses import asdict

    from dlddrivers.pipeline import wdi_codes
    from dlddrivers.retrieve import resolve, spec_for_path

    RETRIEVE_SPECS = resolve(SOURCES, wdi_codes(config))

    rule retrieve:
        output:
            # the same spelling as the inputs that need it (canonical_path in common.smk)
            os.path.join(canonical_path(config["raw_dir"]), "{path}"),
        log:
            f"{RESULTS}/logs/retrieve/{{path}}.log",
        retries: 0
        conda:
            "../envs/dlddrivers.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=30,
        params:
            # this file's spec only (URL, checksum, extraction), not the whole sources.yaml
            spec=lambda w: asdict(spec_for_path(RETRIEVE_SPECS, w.path)),
            # the cache folder, derived from the output (not a rerun trigger)
            raw_dir=lambda w, output: output[0][: -len(w.path) - 1],
            on_mismatch=config.get("on_checksum_mismatch", "error"),
            deadline=config.get("download_deadline", 900),
        script:
            "../scripts/retrieve.py"
