"""The warm job server (dlddrivers.jobserver): a script handed to it runs in a forked child with
the job's folder, arguments, environment and standard streams, its exit code and errors come
back to the waiting process, and without a server the script runs where it was started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dlddrivers import jobserver

pytestmark = pytest.mark.skipif(not jobserver.enabled(), reason="job server needs Linux")

SCRIPT = '''"""a workflow-like script"""
from dlddrivers.jobserver import run_in_server

run_in_server()

import os
import sys
import time

where = "child" if os.environ.get("DLD_JOBSERVER_CHILD") == "1" else "own"
print(where, os.getcwd(), sys.argv[1:], os.environ.get("JOB_VALUE"), os.getpid(), flush=True)
print("a line on stderr", file=sys.stderr)
Path = __import__("pathlib").Path
Path("written.txt").write_text(where)
mode = sys.argv[1]
if mode == "raise":
    raise RuntimeError("the job failed here")
if mode == "sleep":
    time.sleep(60)
sys.exit(int(mode))
'''


@pytest.fixture()
def workdir(tmp_path, monkeypatch):
    (tmp_path / "job.py").write_text(SCRIPT)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    jobserver.stop()


def _run(workdir: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "job.py", *args], cwd=workdir, capture_output=True,
                          text=True, env={**os.environ, "JOB_VALUE": "v1", **(env or {})},
                          timeout=60)


def test_without_a_server_the_script_runs_in_its_own_process(workdir):
    r = _run(workdir, "0")
    assert r.returncode == 0 and r.stdout.startswith("own ")
    assert (workdir / "written.txt").read_text() == "own"


def test_a_job_runs_in_a_child_with_its_folder_arguments_environment_and_streams(workdir):
    proc = jobserver.start(workdir, preload=("json",), idle_seconds=30)
    assert proc is not None
    r = _run(workdir, "0", env={"JOB_VALUE": "from the job"})
    assert r.returncode == 0, r.stderr
    where, cwd, argv, *rest = r.stdout.split(" ", 3)
    assert (where, cwd) == ("child", str(workdir))
    assert "['0']" in r.stdout and "from the job" in r.stdout
    assert r.stderr == "a line on stderr\n"
    assert (workdir / "written.txt").read_text() == "child"
    child_pid = int(r.stdout.split()[-1])
    assert child_pid != proc.pid
    # exit codes and errors come back as they would from the script's own process
    assert _run(workdir, "3").returncode == 3
    r = _run(workdir, "raise")
    assert r.returncode == 1 and "RuntimeError: the job failed here" in r.stderr
    # switched off: the script runs in its own process although the server answers
    r = _run(workdir, "0", env={"DLD_JOBSERVER": "0"})
    assert r.stdout.startswith("own ")
    # more than one thread asked: its own process too (the server loaded its libraries for one)
    r = _run(workdir, "0", env={"OMP_NUM_THREADS": "4"})
    assert r.stdout.startswith("own ")
    log = (workdir / ".snakemake" / "dlddrivers" / "jobserver.log").read_text()
    assert f"job {child_pid} job.py: exit 0, " in log and " s CPU, " in log
    jobserver.stop()
    assert proc.poll() == 0
    assert _run(workdir, "0").stdout.startswith("own ")  # stopped: back to own processes


def test_a_cancelled_job_takes_its_child_with_it(workdir):
    proc = jobserver.start(workdir, preload=(), idle_seconds=30)
    assert proc is not None
    client = subprocess.Popen([sys.executable, "job.py", "sleep"], cwd=workdir,
                              stdout=subprocess.PIPE, text=True)
    line = client.stdout.readline()
    assert line.startswith("child ")
    child_pid = int(line.split()[-1])
    client.send_signal(signal.SIGKILL)  # Snakemake cancels the job's process
    client.wait()
    _gone(child_pid)  # the child of a cancelled job is ended


def test_the_server_leaves_when_its_owner_is_gone(workdir):
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
    proc = jobserver.start(workdir, owner=owner.pid, preload=(), idle_seconds=30)
    assert proc is not None
    owner.wait()
    assert proc.wait(timeout=10) == 0
    jobserver._SERVER = None


def test_the_address_follows_folder_and_source(workdir, monkeypatch, tmp_path_factory):
    other = tmp_path_factory.mktemp("other")
    a = jobserver.address(workdir)
    assert a == jobserver.address(workdir) != jobserver.address(other)
    assert len(a.encode()) < 100  # Unix socket paths are limited to 108 bytes
    monkeypatch.setattr(jobserver, "code_fingerprint", lambda: "an edited source")
    assert jobserver.address(workdir) != a  # a server started before an edit is not used after
    jobserver._private_folder(Path(a).parent)
    assert oct(Path(a).parent.stat().st_mode & 0o777) == "0o700"


def test_a_folder_another_user_could_enter_is_not_used(workdir, monkeypatch, tmp_path_factory):
    """The socket's folder must be this user's alone: a folder others may enter is refused by
    the server's start (a warning; the jobs run in their own processes) and by the jobs."""
    loose = tmp_path_factory.mktemp("loose")
    loose.chmod(0o755)
    monkeypatch.setattr(jobserver, "address", lambda workdir=".": str(loose / "x.sock"))
    with pytest.warns(RuntimeWarning, match="not started"):
        assert jobserver.start(workdir, preload=()) is None
    assert not jobserver._ours(loose)


def test_exit_handlers_of_the_server_do_not_run_in_jobs(workdir, monkeypatch):
    """An exit handler the server registered (as an import might, to remove a folder of its
    own) does not run when a job ends; the job's own handlers do."""
    (workdir / "handler.py").write_text(
        "import atexit, pathlib\n"
        "atexit.register(lambda: pathlib.Path('server_handler_ran').touch())\n")
    (workdir / "job2.py").write_text(
        '"""j"""\nfrom dlddrivers.jobserver import run_in_server\nrun_in_server()\n'
        "import atexit, pathlib\n"
        "atexit.register(lambda: pathlib.Path('job_handler_ran').touch())\n"
        "from dlddrivers.process import end_job\nend_job()\n")
    monkeypatch.setenv("PYTHONPATH", f"{workdir}:{os.environ.get('PYTHONPATH', '')}")
    env = dict(os.environ)
    proc = jobserver.start(workdir, preload=("handler",), idle_seconds=30)
    assert proc is not None
    r = subprocess.run([sys.executable, "job2.py"], cwd=workdir, capture_output=True, text=True,
                       timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    assert (workdir / "job_handler_ran").exists()
    assert not (workdir / "server_handler_ran").exists()


@pytest.mark.parametrize(("argv", "runs"), [
    (["snakemake", "--cores", "2"], True),
    (["snakemake", "-c2", "results/neasia/trends"], True),
    (["snakemake", "-n"], False),
    (["snakemake", "-np", "--cores", "1"], False),
    (["snakemake", "--dry-run"], False),
    (["snakemake", "--lint"], False),
    (["snakemake", "--report", "r.html"], False),
    (["snakemake", "--report=r.html"], False),
    (["snakemake", "--profile", "profiles/slurm"], False),
    (["snakemake", "--executor", "slurm"], False),
    (["snakemake", "--touch"], False),
    (["snakemake", "--unlock"], False),
    (["snakemake", "--mode", "subprocess"], False),
    (["snakemake", "--no-hooks"], False),
    (["snakemake", "-nc1"], False),
    (["/venv/bin/snakemake", "-c", "1"], True),
    (["-c"], False),  # Snakemake run by other code (snakemake.cli.main from a script)
    ([], False),
])
def test_which_command_lines_start_the_server_early(argv, runs, monkeypatch):
    monkeypatch.delenv("SNAKEMAKE_PROFILE", raising=False)
    assert jobserver.runs_local_jobs(argv) is runs


def test_an_early_server_is_taken_by_start_or_ended_by_stop(workdir, monkeypatch):
    monkeypatch.delenv("SNAKEMAKE_PROFILE", raising=False)
    monkeypatch.setattr(jobserver, "PRELOAD", ("json",))
    assert jobserver.begin(["snakemake", "--cores", "1"], workdir)
    assert not jobserver.begin(["snakemake", "--cores", "1"], workdir)  # one is enough
    proc = jobserver.start(workdir)
    assert proc is not None and _run(workdir, "0").stdout.startswith("child ")
    jobserver.stop()
    assert proc.poll() == 0
    # begun but never waited for (a cluster run, or nothing to do): stop ends it
    assert jobserver.begin(["snakemake", "--cores", "1"], workdir)
    pending = jobserver._PENDING[0]
    jobserver.stop()
    assert pending.poll() is not None and jobserver._PENDING is None
    assert not jobserver.begin(["snakemake", "-n"], workdir)
    from types import SimpleNamespace

    on_node = SimpleNamespace(exec_mode=SimpleNamespace(name="REMOTE"))
    no_hooks = SimpleNamespace(execution_settings=SimpleNamespace(no_hooks=True))
    for wf in (on_node, no_hooks):
        assert not jobserver.main_process(wf)
        assert not jobserver.begin(["snakemake", "--cores", "1"], workdir, workflow=wf)
    assert jobserver.main_process(SimpleNamespace(exec_mode=SimpleNamespace(name="DEFAULT")))
    # onstart on a cluster run or with --touch: the begun server is ended, none is started
    for wf in (SimpleNamespace(local_exec=False), SimpleNamespace(local_exec=True, touch=True)):
        assert jobserver.begin(["snakemake", "--cores", "1"], workdir)
        pending = jobserver._PENDING[0]
        assert jobserver.start_for(wf, workdir) is None
        assert pending.poll() is not None and jobserver._PENDING is None


def test_the_benchmark_reads_what_the_server_logs(workdir):
    """benchmarks/run.py's ``server_jobs`` parses the server's log lines: one row per job,
    its exit code and the child's CPU seconds (a job that spins measurably long)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_run", Path(__file__).resolve().parents[1] / "benchmarks" / "run.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    (workdir / "spin.py").write_text(
        '"""s"""\nfrom dlddrivers.jobserver import run_in_server\nrun_in_server()\n'
        "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3:\n    pass\n")
    assert jobserver.start(workdir, preload=(), idle_seconds=30) is not None
    assert subprocess.run([sys.executable, "spin.py"], cwd=workdir, timeout=60).returncode == 0
    assert _run(workdir, "3").returncode == 3
    jobserver.stop()
    jobs = bench.server_jobs(workdir)
    assert list(jobs["rule"]) == ["spin.py", "job.py"] and list(jobs["exit"]) == [0, 3]
    # the child spun at least 0.3 s of CPU (a lower bound the job guarantees, not a speed)
    assert jobs["cpu_seconds"].iloc[0] >= 0.3 and (jobs["seconds"] > 0).all()


def test_a_bad_request_does_not_end_the_server(workdir):
    """Garbage on the socket, or a job whose waiting process leaves at once, is refused or
    ended and logged; the server serves the next job."""
    import socket as sk

    proc = jobserver.start(workdir, preload=(), idle_seconds=30)
    assert proc is not None
    path = jobserver.address(workdir)
    for payload in (b"\x00\x00\x00\x05hello", b"\x00\x00\x00\x02[]", b"\x00\x00"):
        c = sk.socket(sk.AF_UNIX, sk.SOCK_STREAM)
        c.connect(path)
        c.sendall(payload)
        c.close()
    r = _run(workdir, "0")
    assert r.returncode == 0 and r.stdout.startswith("child ")
    log = (workdir / ".snakemake" / "dlddrivers" / "jobserver.log").read_text()
    assert "refused a request" in log and proc.poll() is None


def test_start_warns_when_the_server_cannot_come_up(workdir, monkeypatch):
    """A server that exits before it listens: a warning naming its log, no server, and the
    jobs run in their own processes."""
    (workdir / "exits_at_import.py").write_text("raise SystemExit(3)\n")
    monkeypatch.setenv("PYTHONPATH", f"{workdir}:{os.environ.get('PYTHONPATH', '')}")
    with pytest.warns(RuntimeWarning, match="exited with code 3"):
        assert jobserver.start(workdir, preload=("exits_at_import",)) is None
    assert _run(workdir, "0").stdout.startswith("own ")


# --------------------------------------------------------------------------- routed from Snakemake
class FakeJob:
    """The attributes of Snakemake's ``PythonScript`` that routing reads."""

    def __init__(self, source: str, *, threads: int = 1, jobid: int = 7, **extra):
        self.source = source
        self.threads = threads
        self.resources = {"tmpdir": "/tmp/job-tmp"}
        self.rulename = "stage"
        self.wildcards = {"study": "neasia"}
        self.jobid = jobid
        self.bench_record = None
        self.conda_env = self.container_img = self.env_modules = self.shadow_dir = None
        self.__dict__.update(extra)


class FakeShell:
    """Snakemake's ``shell`` as routing uses it: running processes by job id."""

    import threading

    _lock = threading.Lock()
    _processes: dict = {}


ROUTED = '''from dlddrivers.jobserver import run_in_server
run_in_server()
import os, sys, time
from pathlib import Path
Path("routed.txt").write_text(" ".join([
    os.environ.get("DLD_JOBSERVER_CHILD", ""), os.environ["OMP_NUM_THREADS"],
    os.environ["TMPDIR"], str(os.getpgrp()), sys.argv[0], sys.path[0], str(os.getpid())]))
Path("path.json").write_text(__import__("json").dumps(sys.path))
print("routed out", flush=True)
mode = Path("mode.txt").read_text() if Path("mode.txt").exists() else "0"
if mode == "sleep":
    time.sleep(60)
if mode == "spin":
    t = time.process_time()
    while time.process_time() - t < 0.3:
        pass
    mode = "0"
sys.exit(int(mode))
'''


def test_a_routed_request_is_what_snakemake_would_give_the_script(workdir, monkeypatch):
    job = FakeJob(ROUTED)
    assert jobserver.routed_request(job, ".snakemake/scripts/tmp1.x.py") is None  # no server
    proc = jobserver.start(workdir, preload=(), idle_seconds=30)
    assert proc is not None
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
    try:
        req = jobserver.routed_request(job, ".snakemake/scripts/tmp1.x.py")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert req["argv"] == [".snakemake/scripts/tmp1.x.py"]
    assert req["script"] == str(workdir / ".snakemake/scripts/tmp1.x.py")
    assert req["script_dir"] == str(workdir / ".snakemake/scripts") and req["cwd"] == str(workdir)
    assert req["path"] is None  # the child takes the server's own start-up path
    assert req["sigint_ignored"] is False
    assert all(req["env"][v] == "1" for v in jobserver.THREAD_VARS)
    assert req["env"]["TMPDIR"] == req["env"]["TEMP"] == "/tmp/job-tmp"
    assert req["label"] == "stage[study=neasia]" and req["pgid"] == os.getpgrp()
    # jobs Snakemake must run as it does
    for other in (FakeJob("print('no marker')"), FakeJob(ROUTED, threads=2),
                  FakeJob(ROUTED, conda_env="/envs/x"), FakeJob(ROUTED, shadow_dir="/s"),
                  FakeJob(ROUTED, container_img="img.sif")):
        assert jobserver.routed_request(other, "x.py") is None
    assert jobserver.routed_request(job, "x.py", edit=True) is None

    class Prefixed(FakeShell):
        _process_prefix = "set -x; "

    assert jobserver.routed_request(job, "x.py", shell_class=Prefixed) is None
    assert jobserver.routed_request(job, "x.py", shell_class=FakeShell) is not None
    monkeypatch.setenv("DLD_JOBSERVER", "0")
    assert jobserver.routed_request(job, "x.py") is None


def test_a_routed_job_runs_in_a_child_in_snakemakes_process_group(workdir, capfd):
    (workdir / "s.py").write_text(ROUTED)
    proc = jobserver.start(workdir, preload=("json",), idle_seconds=30)
    assert proc is not None
    job = FakeJob(ROUTED)

    class Record:  # the fields of Snakemake's BenchmarkRecord a benchmark file writes
        running_time = max_rss = io_in = io_out = None
        cpu_time = cpu_usage = 0
        data_collected = False

    job.bench_record = Record()
    assert jobserver.run_routed(job, jobserver.routed_request(job, "s.py"), shell_class=FakeShell)
    flag, omp, tmp, pgid, argv0, path0, pid = (workdir / "routed.txt").read_text().split()
    # (runpy gives the script's path as argv[0], as in a job the script's own process sends)
    assert (flag, omp, tmp, path0) == ("1", "1", "/tmp/job-tmp", str(workdir))
    assert argv0 == str(workdir / "s.py")
    assert int(pgid) == os.getpgrp()  # a Ctrl-C at the terminal reaches it as it reaches a job
    # the module path of a fresh interpreter started on the script: its folder, then the rest
    import json

    fresh = json.loads(subprocess.run([sys.executable, "-c", "import sys, json; print(json.dumps(sys.path))"],
                                      capture_output=True, text=True, check=True).stdout)
    assert json.loads((workdir / "path.json").read_text()) == [str(workdir), *fresh[1:]]
    # the benchmark record holds the child's own measures, from the kernel
    rec = job.bench_record
    assert rec.data_collected and rec.running_time > 0 and rec.max_rss > 1
    assert rec.cpu_time > 0 and rec.cpu_usage == 100 * rec.cpu_time
    assert int(pid) not in (os.getpid(), proc.pid)
    assert "routed out" in capfd.readouterr().out  # the job's stdout is Snakemake's
    assert FakeShell._processes == {}
    (workdir / "mode.txt").write_text("3")
    with pytest.raises(subprocess.CalledProcessError) as err:
        jobserver.run_routed(job, jobserver.routed_request(job, "s.py"))
    assert err.value.returncode == 3
    log = (workdir / ".snakemake" / "dlddrivers" / "jobserver.log").read_text()
    assert "stage[study=neasia]: exit 3, " in log


def _start_routed(workdir: Path, job: FakeJob, request: dict):
    """Run ``request`` with run_routed in a thread (as Snakemake's executor does) until its
    child is registered and has started; (thread, result dict with the exit code raised)."""
    import threading

    result: dict = {}

    def run():
        try:
            jobserver.run_routed(job, request, shell_class=FakeShell)
        except subprocess.CalledProcessError as exc:
            result["code"] = exc.returncode

    t = threading.Thread(target=run)
    t.start()
    deadline = time.monotonic() + 60  # a timeout for a stuck test, not a speed
    while not (job.jobid in FakeShell._processes and (workdir / "routed.txt").exists()):
        assert time.monotonic() < deadline, "the routed job did not start"
        time.sleep(0.05)
    return t, result


def test_a_registered_routed_job_ends_when_killed(workdir):

    (workdir / "s.py").write_text(ROUTED)
    (workdir / "mode.txt").write_text("sleep")
    proc = jobserver.start(workdir, preload=(), idle_seconds=30)
    assert proc is not None
    job = FakeJob(ROUTED, jobid=11)
    t, result = _start_routed(workdir, job, jobserver.routed_request(job, "s.py"))
    running = FakeShell._processes[11]
    assert isinstance(running, jobserver.ServerJob)
    running.kill()  # what Snakemake's shell.kill(jobid) does to a job's process
    t.join(timeout=30)
    assert result == {"code": 128 + signal.SIGKILL} and 11 not in FakeShell._processes


def test_route_scripts_sends_only_jobs_the_server_can_run(workdir):
    (workdir / "s.py").write_text(ROUTED)
    calls = []

    class Script:
        def execute_script(self, fname, edit=False):
            """Snakemake's way: a shell and a Python process."""
            calls.append(fname)

    assert jobserver.route_scripts(Script, FakeShell)
    assert not jobserver.route_scripts(Script, FakeShell)  # once
    job = FakeJob(ROUTED)
    Script.execute_script(job, "s.py")  # no server yet: Snakemake's way
    assert calls == ["s.py"] and not (workdir / "routed.txt").exists()
    assert jobserver.start(workdir, preload=(), idle_seconds=30) is not None
    Script.execute_script(job, "s.py")
    assert calls == ["s.py"] and (workdir / "routed.txt").exists()
    Script.execute_script(FakeJob("plain script"), "p.py")
    assert calls == ["s.py", "p.py"]
    jobserver.unroute_scripts(Script)
    Script.execute_script(job, "again.py")
    assert calls[-1] == "again.py" and Script.execute_script.__doc__.startswith("Snakemake's way")


def test_a_routed_jobs_benchmark_record_counts_its_cpu_and_wall(workdir):
    (workdir / "s.py").write_text(ROUTED)
    (workdir / "mode.txt").write_text("spin")
    assert jobserver.start(workdir, preload=(), idle_seconds=30) is not None

    class Record:
        running_time = max_rss = io_in = io_out = None
        cpu_time = cpu_usage = 0
        data_collected = False

    job = FakeJob(ROUTED)
    job.bench_record = Record()
    assert jobserver.run_routed(job, jobserver.routed_request(job, "s.py"))
    rec = job.bench_record
    assert rec.cpu_time >= 0.3  # the child spun at least 0.3 s of CPU (the server's count)
    assert rec.running_time > 0 and rec.io_out >= 0


def test_the_servers_children_take_large_blocks_from_the_heap(workdir):
    """Forked children inherit the server's allocator settings (MALLOC_ENV): a 100 MB array
    comes from the heap (glibc's ``mallinfo2``: arena bytes), which keeps it for the next one,
    where glibc's default maps it on its own (``hblkhd`` bytes) and unmaps it when freed."""
    import ctypes
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    if not hasattr(libc, "mallinfo2"):
        pytest.skip("glibc's mallinfo2 (glibc >= 2.33) is needed to see where blocks come from")
    script = ("from dlddrivers.jobserver import run_in_server\nrun_in_server()\n"
              "import ctypes, ctypes.util, numpy as np\nfrom pathlib import Path\n"
              "class Info(ctypes.Structure):\n"
              "    _fields_ = [(n, ctypes.c_size_t) for n in ('arena', 'ordblks', 'smblks', "
              "'hblks', 'hblkhd', 'usmblks', 'fsmblks', 'uordblks', 'fordblks', 'keepcost')]\n"
              "libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')\n"
              "libc.mallinfo2.restype = Info\n"
              "a = np.ones(12_500_000)\ninfo = libc.mallinfo2()\n"
              "Path('where.txt').write_text(f'{info.hblkhd} {info.arena}')\n")
    (workdir / "alloc.py").write_text(script)
    plain = {k: v for k, v in os.environ.items()
             if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}  # glibc's defaults
    own = subprocess.run([sys.executable, "alloc.py"], cwd=workdir, timeout=60, env=plain)
    assert own.returncode == 0
    mapped, heap = map(int, (workdir / "where.txt").read_text().split())
    assert mapped >= 100_000_000 > heap  # glibc's default: a mapping of its own
    assert jobserver.start(workdir, preload=("numpy",), idle_seconds=30) is not None
    served = subprocess.run([sys.executable, "alloc.py"], cwd=workdir, timeout=60)
    assert served.returncode == 0
    mapped, heap = map(int, (workdir / "where.txt").read_text().split())
    assert heap >= 100_000_000 > mapped  # the server's child: from the heap


def test_a_routed_job_ignores_sigint_when_snakemake_does(workdir):
    """Snakemake started in the background by a shell ignores SIGINT, and so do its jobs'
    processes: a routed child too (a SIGINT to the group leaves it running)."""

    (workdir / "s.py").write_text(ROUTED)
    (workdir / "mode.txt").write_text("sleep")
    assert jobserver.start(workdir, preload=(), idle_seconds=30) is not None
    job = FakeJob(ROUTED, jobid=21)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        request = jobserver.routed_request(job, "s.py")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert request["sigint_ignored"] is True
    t, result = _start_routed(workdir, job, request)
    child = FakeShell._processes[21].pid
    ignored = int(next(line for line in Path(f"/proc/{child}/status").read_text().splitlines()
                       if line.startswith("SigIgn:")).split()[1], 16)
    assert ignored >> (signal.SIGINT - 1) & 1  # the kernel discards a SIGINT sent to it
    os.kill(child, signal.SIGINT)
    FakeShell._processes[21].terminate()
    t.join(timeout=30)
    assert result == {"code": 128 + signal.SIGTERM}


def test_a_served_child_ends_with_its_server(workdir):
    """A child whose server dies is ended by the kernel (no job outlives the server that
    would report it), and the waiting process fails with a message naming the server's log."""
    proc = jobserver.start(workdir, preload=(), idle_seconds=30)
    assert proc is not None
    client = subprocess.Popen([sys.executable, "job.py", "sleep"], cwd=workdir,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = client.stdout.readline()
    assert line.startswith("child ")
    child_pid = int(line.split()[-1])
    proc.kill()  # the server dies mid-job
    proc.wait()
    jobserver._SERVER = None
    assert client.wait(timeout=30) == 1
    assert "jobserver.log" in client.stderr.read()
    _gone(child_pid)
    # the server and the waiting process killed at once: only the kernel can end the child
    proc = jobserver.start(workdir, preload=(), idle_seconds=30)
    assert proc is not None
    client = subprocess.Popen([sys.executable, "job.py", "sleep"], cwd=workdir,
                              stdout=subprocess.PIPE, text=True)
    child_pid = int(client.stdout.readline().split()[-1])
    proc.kill()
    client.kill()
    proc.wait()
    client.wait()
    jobserver._SERVER = None
    _gone(child_pid)


def _gone(pid: int) -> None:
    """Wait until process ``pid`` has ended (a timeout for a stuck test, not a speed)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    pytest.fail(f"the job's child {pid} is still running")


SMOKE_SNAKEFILE = '''import os
from snakemake.script import PythonScript
from dlddrivers import jobserver

onstart:
    if jobserver.start(".", owner=os.getpid(), preload=("json",), idle_seconds=30) is not None:
        jobserver.route_scripts(PythonScript, shell)

onsuccess:
    jobserver.stop()

onerror:
    jobserver.stop()

rule all:
    input: "out.txt"

rule job:
    output: "out.txt"
    benchmark: "bench.tsv"
    script: "s.py"
'''

SMOKE_SCRIPT = '''from dlddrivers.jobserver import run_in_server
run_in_server()
import os
import time
t = time.process_time()
while time.process_time() - t < 0.2:
    pass
with open(snakemake.output[0], "w") as f:
    f.write(os.environ.get("DLD_JOBSERVER_CHILD", "own"))
'''


def test_snakemake_routes_a_script_job_to_the_server(tmp_path):
    """The real Snakemake (its PythonScript, shell and benchmark record, which the other
    tests fake): a script job runs in the server's child, its benchmark file has the child's
    CPU seconds, and with the server switched off the same job runs in its own process."""
    import csv

    (tmp_path / "Snakefile").write_text(SMOKE_SNAKEFILE)
    (tmp_path / "s.py").write_text(SMOKE_SCRIPT)

    def run(**env):
        r = subprocess.run([sys.executable, "-m", "snakemake", "-c1", "--quiet"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=120, env={**os.environ, **env})
        assert r.returncode == 0, r.stderr[-2000:]
        return (tmp_path / "out.txt").read_text()

    assert run() == "1"  # in the server's child
    log = (tmp_path / ".snakemake" / "dlddrivers" / "jobserver.log").read_text()
    assert "job: exit 0, " in log
    bench = next(csv.DictReader((tmp_path / "bench.tsv").open(), delimiter="\t"))
    assert float(bench["cpu_time"]) >= 0.2  # the child's own CPU (it spun 0.2 s), from the kernel
    (tmp_path / "out.txt").unlink()
    assert run(DLD_JOBSERVER="0") == "own"
