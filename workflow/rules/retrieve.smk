# Raw files: offline they are read in place from `snapshot_dir` (no rule runs); online each
# file is downloaded into the cache `raw_dir` by this rule (atomic, retried, checksummed).
if not config.get("snapshot_dir"):

    rule retrieve:
        output:
            f"{config['raw_dir']}/{{path}}",
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
            sources=config["sources"],
            on_mismatch=config.get("on_checksum_mismatch", "error"),
            deadline=config.get("download_deadline", 900),
        script:
            "../scripts/retrieve.py"
