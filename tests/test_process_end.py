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
