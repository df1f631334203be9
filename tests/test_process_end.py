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
