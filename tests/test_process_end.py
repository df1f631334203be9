"""dlddrivers.process.end_job: a job process that ends early still delivers its log lines,
buffered output and exit handlers, and exits with the given code."""

import subprocess
import sys
import textwrap


def test_end_job_flushes_logs_streams_and_runs_exit_handlers(tmp_path):
    log = tmp_path / "job.log"
    marker = tmp_path / "atexit.txt"
    code = textwrap.dedent(f"""
        import atexit, logging, sys
        from pathlib import Path
        from dlddrivers.process import end_job
        logging.basicConfig(filename={str(log)!r}, level=logging.INFO)
        atexit.register(lambda: Path({str(marker)!r}).write_text("ran"))
        logging.info("tables written")
        sys.stdout.write("buffered, no newline")
        end_job(3)
        print("never reached")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 3, r.stderr
    assert r.stdout == "buffered, no newline"
    assert "tables written" in log.read_text()
    assert marker.read_text() == "ran"


def test_an_error_before_end_job_exits_the_usual_way():
    code = "from dlddrivers.process import end_job\nraise ValueError('bad input')\nend_job()\n"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 1 and "ValueError: bad input" in r.stderr


def test_drop_local_rate_limit_only_on_local_runs():
    from types import SimpleNamespace

    from dlddrivers.process import drop_local_rate_limit

    limiter = object()
    local = SimpleNamespace(local_exec=True, scheduler=SimpleNamespace(job_rate_limiter=limiter))
    assert drop_local_rate_limit(local) and local.scheduler.job_rate_limiter is None
    assert not drop_local_rate_limit(local)  # already none
    cluster = SimpleNamespace(local_exec=False, scheduler=SimpleNamespace(job_rate_limiter=limiter))
    assert not drop_local_rate_limit(cluster) and cluster.scheduler.job_rate_limiter is limiter
    assert not drop_local_rate_limit(SimpleNamespace(local_exec=True))  # no scheduler yet
    assert not drop_local_rate_limit(SimpleNamespace(local_exec=True, scheduler=SimpleNamespace()))


_SERIALISE = textwrap.dedent("""
    import json, sys
    import dlddrivers  # defers pandas
    from dlddrivers._lazy import is_deferred
    from snakemake.persistence import PersistenceBase
    from snakemake.persistence.file import FilePersistence  # what a Snakemake run uses
    from dlddrivers.process import keep_pandas_deferred

    patch = sys.argv[1] == "patch"
    if patch:
        assert keep_pandas_deferred(PersistenceBase) and keep_pandas_deferred(PersistenceBase)
    p = object.__new__(FilePersistence)
    values = [{"bootstrap_draws": 199, "variations": ["levels"]}, "results/neasia", 3.5, None,
              (1, "b"), [{"a": 1}], object()]
    out = [repr(p._serialize_param_pandas(v)) if i < 6 else
           p._serialize_param_pandas(v) is not None for i, v in enumerate(values)]
    deferred = is_deferred("pandas")
    import pandas as pd
    frame = pd.DataFrame({"a": [1.5, 2.0]})
    out.append(p._serialize_param_pandas(frame))  # pandas loaded: Snakemake's own hashing
    print(json.dumps({"deferred": deferred, "out": out}))
""")


def _serialise(mode: str) -> dict:
    import json

    r = subprocess.run([sys.executable, "-c", _SERIALISE, mode], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_keep_pandas_deferred_serialises_params_as_snakemake_does_without_loading_pandas():
    """The patched serialiser gives Snakemake's own result for every kind of param (dicts,
    strings, numbers, None, tuples, lists of dicts, an unrepresentable object, and a DataFrame
    once pandas is loaded) and leaves pandas unloaded; Snakemake's own loads it."""
    patched, stock = _serialise("patch"), _serialise("stock")
    assert patched["out"] == stock["out"]
    assert stock["out"][0] == repr(repr({"bootstrap_draws": 199, "variations": ["levels"]}))
    assert patched["deferred"] is True
    assert stock["deferred"] is False  # what the patch saves: Snakemake loads pandas here


def test_keep_pandas_deferred_leaves_another_snakemake_alone():
    from dlddrivers.process import keep_pandas_deferred

    class Other:  # no _serialize_param_pandas / _serialize_param_builtin
        pass

    assert keep_pandas_deferred(Other) is False and not hasattr(Other, "_serialize_param_pandas")
    assert keep_pandas_deferred(None) is False
