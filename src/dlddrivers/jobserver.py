"""A warm process that runs the workflow's jobs in forked children, so each job does not pay
for importing pandas, matplotlib, SciPy, statsmodels, DoWhy, scikit-learn and the rest again.

Why: a default run is about 60 jobs, and each job process spent 0.5-2.5 s of CPU importing
libraries before its first line of work (58 s of a 277 s run, measured with the modules each job
had loaded). This module keeps one process that has imported them (:data:`PRELOAD`) and forks it
once per job: a child starts with every library in memory and nothing else done.

How a job runs:

1. The workflow's ``onstart`` calls :func:`start` (local runs only): the server process imports
   :data:`PRELOAD` and listens on a Unix socket in a private folder (mode 0700) named after the
   working folder, the interpreter and the package's source files (an edited source file gives
   another name, so a server never runs stale code). ``onsuccess`` and ``onerror`` call
   :func:`stop`.
2. ``onstart`` also calls :func:`route_scripts`: Snakemake's main process then hands each
   Python script job that calls :func:`run_in_server` (one thread, no conda, container or
   module environment) to the server itself, with the standard streams, folder, environment,
   arguments and module path Snakemake would give the script's own process, and waits for it
   in the thread that would have waited for that process. The child joins Snakemake's process
   group, so a Ctrl-C at the terminal reaches it as it reaches a job's process (and it ignores
   SIGINT when Snakemake does). The rule's ``benchmark:`` record gets the child's wall and CPU
   seconds, largest resident set and storage I/O as the kernel counts them.
3. Any other script job's process calls :func:`run_in_server` first. When a server answers,
   it sends the same (its script path, arguments, folder, environment and standard streams,
   as file descriptors), waits, and exits with the child's exit code. Otherwise (no server, a
   cluster node, ``DLD_JOBSERVER=0``, a job with more than one thread) it returns and the
   script runs in its own process as before; there, Snakemake's ``benchmark:`` measures that
   process, which only waits.
4. The server forks; the child takes the job's descriptors, folder, environment and arguments
   and runs the script (Snakemake's copy of it, with its preamble) with :func:`runpy.run_path`.
   There :func:`run_in_server` sees that it runs in a child and returns, so the script does its
   work as it would in a fresh interpreter. The server reports the child's exit status and
   resource use to the waiting side. If the waiting side goes away (Snakemake ended), the
   child is ended (its own session, or the child alone when it joined Snakemake's group); if
   the server goes away first, the kernel ends the child (``PR_SET_PDEATHSIG``) and the
   waiting side fails with a message.

The child is a copy of a process that only imported modules, so it starts in the state a fresh
interpreter reaches after the same imports: the outputs are the same bytes (checked on the full
default run). What differs: all children share the server's string-hash seed (no result
depends on hash order), ``sys.flags.safe_path`` is set (the server runs with ``-P``; the
script's folder is put first on the module path all the same), and a job's largest resident
set counts the library pages it shares with the server (about 400 MB in this workflow, whatever
the job imports). The server is single-threaded (a ``selectors`` loop), so forking it is safe;
it exits when asked, when the Snakemake process that started it is gone, or after
:data:`IDLE_SECONDS` without a job. Its log is ``.snakemake/dlddrivers/jobserver.log``.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Any

#: Set to 0 / off / false / no to run every job in its own fresh interpreter.
ENV_SWITCH = "DLD_JOBSERVER"
#: Set in a forked child: :func:`run_in_server` returns at once there.
ENV_CHILD = "DLD_JOBSERVER_CHILD"
#: Seconds the server waits for a job before it leaves on its own.
IDLE_SECONDS = 120.0
#: glibc's allocator settings of the server, which its forked children inherit (read once, when
#: a process starts; the jobs' own environment does not carry them on to their subprocesses).
#: By default glibc maps each block above a threshold (128 KB at first, rising to at most
#: 32 MB as such blocks are freed) afresh and unmaps it when freed, and gives the top of the
#: heap back to the system once twice that much of it is free, so a job that allocates and
#: frees large arrays over and over (the batched linear systems of the LMG, stacked bootstrap
#: draws) has the kernel map and zero every page of them again each time. Here blocks below
#: 256 MB come from the heap, which is given back only above 512 MB free and grows 64 MB at a
#: time. Every table and pixel of a default run was the same with and without (blocks from
#: the heap may be aligned differently, which vectorised arithmetic could in principle see);
#: a default run spent about 5 s less CPU in the kernel, and its jobs' largest resident sets
#: grew by at most 23 MB (5 %): freed blocks are kept for the next ones.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(256 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(512 * 2**20),
              "MALLOC_TOP_PAD_": str(64 * 2**20)}
#: Libraries (and Snakemake's modules the scripts' preamble unpickles with) imported by the
#: server once; a module missing here is simply imported by the child that needs it.
PRELOAD = (
    "numpy", "pandas", "pyarrow.parquet", "yaml",
    "scipy.stats", "scipy.optimize", "scipy.special",
    "statsmodels.api", "statsmodels.tsa.stattools",
    "linearmodels", "linearmodels.panel.model", "linearmodels.panel.covariance",
    "sklearn.ensemble", "sklearn.model_selection", "sklearn.linear_model", "sklearn.pipeline",
    "sklearn.compose", "sklearn.preprocessing", "sklearn.metrics",
    "shap", "dowhy", "dowhy.gcm", "networkx", "pymannkendall", "pandera.pandas", "geopandas",
    "shapely", "matplotlib", "matplotlib.pyplot", "matplotlib.backends.backend_agg",
    "pyarrow.dataset", "pyarrow.pandas_compat", "pandas.io.formats.csvs",
    "pandas.core.arrays.arrow.extension_types", "pandas.core.reshape.reshape",
    "causallearn.search.ConstraintBased.PC", "pydot", "momentchi2", "pyogrio", "shapely.validation",
    "markdown", "snakemake.io", "snakemake.iocontainers", "snakemake.logging", "snakemake.shell",
    # and every module of this package but the pixel path's (:func:`_own_modules`)
)
#: Modules of this package the server does not import (the pixel path brings dask and xarray,
#: and its jobs do not come to the server).
OWN_SKIP = ("dlddrivers.gridded", "dlddrivers.jobserver", "dlddrivers.retrieve", "dlddrivers.cli",
            "dlddrivers.repro")
_HEADER = struct.Struct(">I")
#: The server started by :func:`start` in this process (stopped by :func:`stop`).
_SERVER: Any = None
#: A server :func:`begin` started and :func:`start` has not waited for yet.
_PENDING: Any = None
#: The server's module path when it started (:func:`serve`): a routed job's child puts its
#: script's folder before it, as a fresh interpreter started on the script does.
_BASE_PATH: list[str] = list(sys.path)


def enabled() -> bool:
    """Whether jobs may go to a server: Linux (Unix sockets that carry file descriptors) and
    ``DLD_JOBSERVER`` not switched off."""
    off = os.environ.get(ENV_SWITCH, "1").strip().lower() in ("0", "off", "false", "no")
    return not off and sys.platform.startswith("linux") and hasattr(socket, "send_fds")


def code_fingerprint() -> str:
    """sha256 of the interpreter and of every source file of the package (path, size and
    modification time): a server started before an edit is not used after it."""
    h = hashlib.sha256(f"{sys.executable}|{sys.version}".encode())
    root = Path(__file__).resolve().parent
    for p in sorted(root.rglob("*.py")):
        st = p.stat()
        h.update(f"{p.relative_to(root)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def address(workdir: str | Path = ".") -> str:
    """The server's socket path for ``workdir``: a private folder of this user in the system's
    temporary folder (mode 0700), named by the working folder and :func:`code_fingerprint`."""
    import tempfile

    key = hashlib.sha256(f"{Path(workdir).resolve()}|{code_fingerprint()}".encode()).hexdigest()
    folder = Path(tempfile.gettempdir()) / f"dlddrivers-{os.getuid()}"
    return str(folder / f"{key[:20]}.sock")


def _ours(path: Path) -> bool:
    """``path`` is a folder of this user that no one else may enter (mode 0700)."""
    import stat

    try:
        st = os.lstat(path)  # not a link to someone's folder
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077


def _private_folder(path: Path) -> None:
    path.mkdir(mode=0o700, exist_ok=True)
    if not _ours(path):
        raise PermissionError(f"{path} is not a folder of this user only (mode 0700)")


# --------------------------------------------------------------------------- the job's side
#: What a workflow script that may run in the server calls first (:func:`route_scripts` sends
#: only scripts whose source holds it).
SCRIPT_MARKER = "run_in_server()"
#: Seconds a job waits for the server to say it has forked the job's child (else it runs the
#: script as Snakemake does).
STARTED_SECONDS = 30.0
#: The variables Snakemake's ``shell`` sets to a job's thread count (its job environment).
THREAD_VARS = ("OMP_NUM_THREADS", "GOTO_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def _send(path: str, request: dict, fds: list[int]) -> tuple[socket.socket, Any, int] | None:
    """Hand the job ``request`` (with the descriptors ``fds`` as its standard streams) to the
    server at ``path``: ``(connection, reader, child pid)`` once the server has forked the
    job's child, or None when no server of this user answers or it did not take the job."""
    header = json.dumps(request).encode()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
        if not _peer_is_us(conn):  # the job's environment and streams go to this user only
            raise OSError("the server runs as another user")
    except OSError:
        conn.close()
        return None
    reader = conn.makefile("rb")
    try:
        conn.settimeout(STARTED_SECONDS)  # a server that hangs or is stopped does not hang the job
        socket.send_fds(conn, [_HEADER.pack(len(header))], fds)
        conn.sendall(header)
        started = reader.readline()
        conn.settimeout(None)  # the job itself takes as long as it takes
    except OSError:
        started = b""
    try:
        pid = int(started.split()[1]) if started.startswith(b"started ") else 0
    except (IndexError, ValueError):
        pid = 0
    if pid <= 0:
        reader.close()
        conn.close()
        return None  # the server did not take the job
    return conn, reader, pid


def _exit_report(reader: Any) -> dict | None:
    """What the server reports when the job's child has ended: ``code`` (its exit code, 128 +
    the signal that ended it), ``cpu`` (user + system seconds), ``max_rss_kb`` and the blocks
    of 512 bytes it read and wrote (``in_blocks``, ``out_blocks``, as ``getrusage`` counts
    them); None when the server went away before reporting."""
    try:
        line = reader.readline()
    except OSError:
        return None
    parts = line.split()
    if not parts or parts[0] != b"exit":
        return None
    try:
        report = {"code": int(parts[1])}
        if len(parts) >= 6:
            report.update(cpu=float(parts[2]), max_rss_kb=int(parts[3]),
                          in_blocks=int(parts[4]), out_blocks=int(parts[5]))
    except (IndexError, ValueError):
        return None
    return report


def _exit_code(reader: Any) -> int | None:
    """The child's exit code from :func:`_exit_report` (None: no report)."""
    report = _exit_report(reader)
    return None if report is None else report["code"]


def fill_benchmark(record: Any, report: dict, seconds: float) -> None:
    """Fill Snakemake's benchmark record of a routed job (the fields its ``benchmark:`` file
    writes) from the server's report on the child (:func:`_exit_report`), measured by the
    kernel rather than sampled: wall seconds, CPU seconds (user + system), the largest
    resident set (which, for a forked child, counts the pages it shares with the server, as
    Snakemake's sampling of any process does) and the bytes read from and written to storage.
    ``mean_load`` comes out as CPU seconds per wall second in percent, as Snakemake writes it.
    Virtual size, USS and PSS are not measured (written as ``-``)."""
    record.running_time = float(seconds)
    if "cpu" not in report:
        return
    record.cpu_time = float(report["cpu"])
    record.cpu_usage = 100.0 * float(report["cpu"])
    record.max_rss = report["max_rss_kb"] / 1024
    record.io_in = report["in_blocks"] * 512 / 2**20
    record.io_out = report["out_blocks"] * 512 / 2**20
    record.data_collected = True


def _end_lost(pid: int) -> str:
    """End the child ``pid`` whose server went away (its process group, or the child alone
    when it joined another group), so no job outlives the one Snakemake will rerun; the
    message to report."""
    _terminate(pid)
    return (f"dlddrivers job server: the server exited before the job's child ({pid}) ended; "
            "see .snakemake/dlddrivers/jobserver.log")


def _terminate(pid: int) -> None:
    """SIGTERM to the job's child ``pid``: its process group (a session of its own), or the
    child alone when it joined another group (Snakemake's)."""
    import signal

    try:
        os.killpg(pid, signal.SIGTERM)
    except OSError:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass


def run_in_server() -> None:
    """Run this workflow script in a forked child of the job server and exit with its code;
    return (and let the script run here) when there is no server to use.

    The first statement of a workflow script (:data:`SCRIPT_MARKER`). Returns at once in the
    server's child, when :func:`enabled` is false, when the job asked for more than one
    thread (the server's libraries were loaded for one), or when no server answers at
    :func:`address`. Once the server has forked the job's child, this process only waits: it
    exits with the child's exit code, or 1 with a message if the server goes away first.
    (Where Snakemake's main process routes the job itself, :func:`route_scripts`, this
    process is never started.)
    """
    if os.environ.get(ENV_CHILD) == "1" or not enabled():
        return
    if os.environ.get("OMP_NUM_THREADS", "1") != "1":
        return
    path = address(os.getcwd())
    if not os.path.exists(path) or not _ours(Path(path).parent):
        return
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    sent = _send(path, {"script": os.path.abspath(sys.argv[0]), "argv": sys.argv,
                        "cwd": os.getcwd(), "env": dict(os.environ), "path": sys.path,
                        "label": _job_label()}, [0, 1, 2])
    if sent is None:
        return  # no server took the job: run it here
    _conn, reader, pid = sent
    code = _exit_code(reader)
    if code is not None:
        os._exit(code)
    sys.stderr.write(_end_lost(pid) + "\n")
    sys.stderr.flush()
    os._exit(1)


# --------------------------------------------------------------------------- Snakemake's side
class ServerJob:
    """A job running in a child of the server, as Snakemake's ``shell`` keeps a job's process
    (``pid``, ``kill``, ``terminate``), registered while it runs (see :func:`run_routed`)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def _signal(self, sig: int) -> None:
        try:
            os.kill(self.pid, sig)
        except OSError:
            pass

    def kill(self) -> None:
        import signal

        self._signal(signal.SIGKILL)

    def terminate(self) -> None:
        import signal

        self._signal(signal.SIGTERM)


def routed_request(job: Any, fname: str, *, edit: bool = False,
                   shell_class: Any = None) -> dict | None:
    """The server request for Snakemake's Python script job ``job`` (its ``PythonScript``,
    whose copy of the script with Snakemake's preamble is ``fname``), or None when it must run
    as Snakemake runs it: no server started here, the script does not call
    :data:`SCRIPT_MARKER`, more than one thread, a conda, container, module or shadow
    environment, a shell of its own, or a notebook edit.

    The child gets what Snakemake's ``shell`` would give the script's process: this process's
    environment with the thread variables (:data:`THREAD_VARS`) and the job's ``tmpdir``, its
    standard streams, the working folder, ``argv = [fname]`` and the module path of a fresh
    interpreter started on ``fname`` (the script's folder, then the server's start-up path);
    it joins this process's process group, so a Ctrl-C at the terminal reaches it as it
    reaches a job's process, and ignores SIGINT when this process does. None as well when
    ``shell_class`` (Snakemake's ``shell``) wraps commands in a prefix or suffix."""
    if edit or _SERVER is None or not enabled():
        return None
    if any(getattr(job, a, None) for a in ("conda_env", "container_img", "env_modules", "shadow_dir")):
        return None
    if SCRIPT_MARKER not in str(getattr(job, "source", "") or ""):
        return None
    try:
        threads = int(job.threads)
    except (AttributeError, TypeError, ValueError):
        return None
    resources = getattr(job, "resources", None) or {}
    if threads != 1 or resources.get("shell_exec"):
        return None
    if getattr(shell_class, "_process_prefix", "") or getattr(shell_class, "_process_suffix", ""):
        return None  # a shell prefix or suffix (shell.prefix(...)) wraps every command
    env = {k: v for k, v in os.environ.items() if k != ENV_CHILD}
    env.update(dict.fromkeys(THREAD_VARS, str(threads)))
    tmp = resources.get("tmpdir")
    if tmp:
        env.update(dict.fromkeys(("TMPDIR", "TMP", "TEMPDIR", "TEMP"), str(tmp)))
    import signal

    script = os.path.abspath(fname)
    try:
        wildcards = ",".join(f"{k}={v}" for k, v in job.wildcards.items())
    except AttributeError:
        wildcards = ""
    rule = str(getattr(job, "rulename", "") or Path(fname).name)
    return {"script": script, "argv": [fname], "cwd": os.getcwd(), "env": env,
            "path": None, "script_dir": os.path.dirname(script),
            "label": f"{rule}[{wildcards}]" if wildcards else rule, "pgid": os.getpgrp(),
            "sigint_ignored": signal.getsignal(signal.SIGINT) == signal.SIG_IGN}


def run_routed(job: Any, request: dict, *, shell_class: Any = None) -> bool:
    """Run ``request`` (:func:`routed_request`) in the server from Snakemake's main process
    and wait for it; False when the server did not take it (the caller runs the script as
    Snakemake does). While it runs the child is registered with ``shell_class`` (Snakemake's
    ``shell``: its ``_processes`` by job id, which Snakemake ends on cancellation), and the
    job's benchmark record (``job.bench_record``, for a rule with ``benchmark:``) gets the
    child's own measures (:func:`fill_benchmark`). (Snakemake 9 reads ``_processes`` only to
    end the members of a pipe or service group; cancelling a run ends a routed child through
    the process group it shares with Snakemake, or, when Snakemake is gone, through the
    server, which ends a job whose waiting side has left.) A non-zero exit raises
    :class:`subprocess.CalledProcessError`, as a failed script process does."""
    import subprocess

    server = _SERVER
    if server is None:
        return False
    t0 = time.monotonic()
    sent = _send(server[1], request, [0, 1, 2])
    if sent is None:
        return False
    conn, reader, pid = sent
    jobid = getattr(job, "jobid", None)
    registry = getattr(shell_class, "_processes", None)
    lock = getattr(shell_class, "_lock", None)
    registered = registry is not None and lock is not None and jobid is not None
    if registered:
        with lock:
            registry[jobid] = ServerJob(pid)
    try:
        report = _exit_report(reader)
    finally:
        reader.close()
        conn.close()
        if registered:
            with lock:
                registry.pop(jobid, None)
    record = getattr(job, "bench_record", None)
    if record is not None:
        fill_benchmark(record, report or {}, time.monotonic() - t0)
    cmd = f"{sys.executable} {request['argv'][0]} (dlddrivers job server, child {pid})"
    if report is None:
        sys.stderr.write(_end_lost(pid) + "\n")
        raise subprocess.CalledProcessError(1, cmd)
    if report["code"]:
        raise subprocess.CalledProcessError(report["code"], cmd)
    return True


def route_scripts(script_class: Any, shell_class: Any = None) -> bool:
    """Let Snakemake's main process hand its Python script jobs to the server itself.

    Without this, Snakemake starts a shell and a Python process per script job, which loads
    Snakemake's modules to read the job (its preamble) before :func:`run_in_server` hands the
    job over: about 0.1 s of CPU a job. Here ``script_class.execute_script`` (Snakemake's
    ``PythonScript``) first asks :func:`routed_request` whether the job can go to the server
    and then runs it with :func:`run_routed`; any other job, or one the server does not take,
    runs as before. Call it from ``onstart`` once :func:`start` has a server; nothing changes
    once :func:`stop` has stopped it. Returns False when already routed. :func:`unroute_scripts`
    undoes it."""
    current = script_class.execute_script
    if getattr(current, "_dld_original", None) is not None:
        return False

    def execute_script(self: Any, fname: str, edit: bool = False) -> None:
        request = routed_request(self, fname, edit=edit, shell_class=shell_class)
        if request is not None and run_routed(self, request, shell_class=shell_class):
            return None
        return current(self, fname, edit)

    execute_script._dld_original = current  # type: ignore[attr-defined]
    execute_script.__doc__ = current.__doc__
    script_class.execute_script = execute_script
    return True


def unroute_scripts(script_class: Any) -> None:
    """Undo :func:`route_scripts`."""
    original = getattr(script_class.execute_script, "_dld_original", None)
    if original is not None:
        script_class.execute_script = original


def _job_label() -> str:
    """``rule {wildcards}`` of the Snakemake job this script runs (for the server's log), else
    the script's file name."""
    try:
        sm = getattr(sys.modules.get("__main__"), "snakemake", None)
        if sm is not None:
            wildcards = ",".join(f"{k}={v}" for k, v in sm.wildcards.items())
            return f"{sm.rule}[{wildcards}]" if wildcards else str(sm.rule)
    except Exception:  # noqa: BLE001 - a label only
        pass
    return Path(sys.argv[0]).name


# --------------------------------------------------------------------------- the server
def _child(conn: socket.socket, fds: list[int], request: dict, closing: list,
           server: int) -> None:
    """In the forked child of the server (process ``server``): take the job's descriptors,
    folder, environment and arguments and run its script; never returns."""
    import atexit
    import runpy
    import signal
    import traceback

    code = 1
    try:
        # the signal handlers of a fresh interpreter, first: the server's SIGTERM handler
        # would turn a cancellation into a clean exit; SIGINT ignored where Snakemake ignores it
        # (started in the background by a shell), as its own job processes inherit
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN if request.get("sigint_ignored")
                      else signal.default_int_handler)
        _end_with_server(server)
        _set_group(0, request)  # (the server sets a routed child's group too, whichever is first)
        for obj in closing:
            obj.close()
        conn.close()
        # exit handlers the server's imports registered belong to the server (a temporary
        # folder of its own, say): the job runs only those it registers itself
        atexit._clear()
        import weakref

        weakref.finalize._registered_with_atexit = False  # the job's finalizers register anew
        for target, fd in enumerate(fds[:3]):
            os.dup2(fd, target)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        sys.stdout.reconfigure(line_buffering=os.isatty(1))  # as a fresh interpreter sets it
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ[ENV_CHILD] = "1"
        import tempfile

        tempfile.tempdir = None  # TMPDIR of the job (Snakemake sets one per job)
        if "numpy" in sys.modules:  # numpy's global generator: seeded afresh, as in a new process
            sys.modules["numpy"].random.seed()
        sys.argv = list(request["argv"])
        # a routed job: the module path of a fresh interpreter started on the script (its
        # folder, then the server's own start-up path); otherwise the waiting process's
        path = request.get("path")
        sys.path[:] = list(path) if path is not None else [request["script_dir"], *_BASE_PATH]
        runpy.run_path(request["script"], run_name="__main__")
        code = 0
    except SystemExit as exc:
        if exc.code is None:
            code = 0
        elif isinstance(exc.code, int):
            code = exc.code
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except KeyboardInterrupt:  # a Ctrl-C: the traceback, and the exit status of a SIGINT
        traceback.print_exc()
        code = 128 + signal.SIGINT
    except BaseException:  # noqa: BLE001 - the job's error goes to its stderr, as in a fresh process
        traceback.print_exc()
        code = 1
    finally:
        from .process import end_job

        end_job(code)  # the job's exit handlers, its log closed, the streams flushed


def _set_group(pid: int, request: dict) -> None:
    """Put the job's child in the process group the request names (``pgid``: Snakemake's own,
    for a job its main process routed, so terminal signals reach the child as they reach a
    job's process; the server runs in the same session). Called by the server (``pid``) and by
    the child (0) for such a job. Any other child (or one that could not join) starts a
    session of its own (no controlling terminal; ended as a whole when its waiting process
    leaves): called by the child only, since a process group leader cannot start a session."""
    target = request.get("pgid")
    if isinstance(target, int) and target > 0:
        try:
            os.setpgid(pid, target)
            return
        except OSError:
            if pid:
                return
    if pid == 0:
        try:
            os.setsid()
        except OSError:
            pass


def _end_with_server(server: int) -> None:
    """Have the kernel end this child (SIGTERM) when the server process ``server`` ends, so
    no job outlives a server that can no longer report it (Linux ``PR_SET_PDEATHSIG``); leave
    at once if the server is already gone."""
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != server:
        os._exit(1)


def _recv_request(conn: socket.socket) -> tuple[dict, list[int]]:
    conn.settimeout(10)
    msg, fds, _, _ = socket.recv_fds(conn, _HEADER.size, 3)
    if not msg:
        return {"probe": True}, list(fds)  # a connection that only checks the server answers
    if len(msg) != _HEADER.size:
        raise OSError("short request header")
    (n,) = _HEADER.unpack(msg)
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise OSError("request cut short")
        data += chunk
    conn.settimeout(None)
    return json.loads(data), list(fds)


def _peer_is_us(conn: socket.socket) -> bool:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid == os.getuid()


def _alive(pid: int | None) -> bool:
    if not pid:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _own_modules() -> list[str]:
    """Every module of this package except those under :data:`OWN_SKIP` (importing them
    only defines functions: the libraries they use are imported inside those)."""
    import pkgutil

    import dlddrivers

    names = [m.name for m in pkgutil.walk_packages(dlddrivers.__path__, "dlddrivers.")]
    return sorted(n for n in names if not n.startswith(OWN_SKIP) and not n.endswith("__main__"))


def _take(listener: socket.socket, sel, children: dict, labels: dict, log) -> bool:
    """Accept one connection: a probe, a shutdown request (returns True) or a job, forked.
    A failure after the fork ends the child: no job runs without a process waiting for it."""
    import selectors

    conn, _ = listener.accept()
    fds: list[int] = []
    try:
        if not _peer_is_us(conn):
            raise OSError("connection from another user")
        request, fds = _recv_request(conn)
        if not isinstance(request, dict) or not (request.get("probe") or request.get("shutdown")
                                                 or isinstance(request.get("script"), str)):
            raise ValueError("not a job request")
    except (OSError, ValueError) as exc:
        print(f"refused a request: {exc}", file=log, flush=True)
        for fd in fds:
            os.close(fd)
        conn.close()
        return False
    if request.get("probe") or request.get("shutdown"):
        for fd in fds:
            os.close(fd)
        conn.close()
        return bool(request.get("shutdown"))
    server = os.getpid()
    pid = os.fork()
    if pid == 0:
        _child(conn, fds, request, [listener, sel, *children.values()], server)
    try:
        _set_group(pid, request)  # at once (the child sets it too)
        for fd in fds:
            os.close(fd)
        children[pid] = conn
        labels[pid] = (str(request.get("label") or Path(request["script"]).name),
                       time.perf_counter())
        sel.register(conn, selectors.EVENT_READ, pid)
        conn.sendall(f"started {pid}\n".encode())
        print(f"job {pid} {labels[pid][0]}: started", file=log, flush=True)
    except Exception:
        _abandon(pid, sel, children, log)
        raise
    return False


def _abandon(pid: int, sel, children: dict, log) -> None:
    """End the job ``pid`` whose waiting process went away (or could not be told it started):
    its process group, or the child alone if it has none yet."""

    conn = children.pop(pid, None)
    if conn is not None:
        try:
            sel.unregister(conn)
        except (KeyError, ValueError):
            pass
        conn.close()
    _terminate(pid)
    print(f"job {pid}: its waiting process left; the job was ended", file=log, flush=True)


def serve(path: str, *, owner: int | None = None, preload: tuple[str, ...] = PRELOAD,
          idle_seconds: float = IDLE_SECONDS, log=None) -> None:
    """Import ``preload``, listen at ``path`` and fork a child per job until asked to stop,
    ``owner`` (a process id) is gone, or no job came for ``idle_seconds``."""
    import gc
    import importlib
    import selectors
    import signal

    global _BASE_PATH
    _BASE_PATH = list(sys.path)  # a fresh interpreter's module path, less a script's folder
    log = log or sys.stderr
    t0 = time.perf_counter()
    gc.disable()  # no collection while importing: the objects stay where they were made
    for name in [*preload, *(_own_modules() if preload else [])]:
        if not _alive(owner):  # started for a run that has ended (a dry run, say)
            print("owner gone while importing: server not started", file=log, flush=True)
            return
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - a missing optional library is imported later or never
            print(f"preload {name}: {type(exc).__name__}: {exc}", file=log)
    if preload:
        from .provenance import package_versions

        package_versions()  # each stage job records them: read the metadata once, here
    gc.collect()
    # the imported objects go to a generation the collector never walks, so a child's garbage
    # collections do not write to (and so copy) the pages it shares with the server
    gc.freeze()
    gc.enable()
    print(f"preloaded {len(sys.modules)} modules in {time.perf_counter() - t0:.2f} s", file=log, flush=True)
    for stream in (sys.stdout, sys.stderr):  # nothing of the server's may reach a job's output
        stream.flush()
    sock_path = Path(path)
    _private_folder(sock_path.parent)
    if _answers(str(sock_path)):  # another server serves this address: leave it be
        print("another server answers at this address: not started", file=log, flush=True)
        return
    sock_path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(sock_path))
    listener.listen(64)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, None)
    children: dict[int, socket.socket] = {}
    labels: dict[int, tuple[str, float]] = {}
    stop = False
    last = time.monotonic()
    def _leave(*_args: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _leave)
    try:
        while True:
            for key, _ in sel.select(timeout=0.05):
                try:
                    if key.data is None:  # a new job
                        last = time.monotonic()
                        stop = _take(listener, sel, children, labels, log) or stop
                    else:  # the waiting process went away: end its child's process group
                        _abandon(key.data, sel, children, log)
                except Exception as exc:  # noqa: BLE001 - one bad job must not end the others
                    print(f"error serving a job: {type(exc).__name__}: {exc}", file=log, flush=True)
            while True:
                try:
                    pid, status, usage = os.wait4(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                code = os.waitstatus_to_exitcode(status)
                conn = children.pop(pid, None)
                last = time.monotonic()
                label, t_start = labels.pop(pid, ("?", time.perf_counter()))
                print(f"job {pid} {label}: exit {code}, {usage.ru_utime + usage.ru_stime:.2f} s CPU, "
                      f"{time.perf_counter() - t_start:.2f} s wall", file=log, flush=True)
                if conn is not None:
                    sel.unregister(conn)
                    try:
                        # the exit code as a shell gives it, then the child's resource use
                        conn.sendall(f"exit {code if code >= 0 else 128 - code} "
                                     f"{usage.ru_utime + usage.ru_stime:.6f} {usage.ru_maxrss} "
                                     f"{usage.ru_inblock} {usage.ru_oublock}\n".encode())
                    except OSError:
                        pass
                    conn.close()
            if not children and (stop or not _alive(owner) or time.monotonic() - last > idle_seconds):
                break
    finally:
        sel.close()
        listener.close()
        sock_path.unlink(missing_ok=True)
        print("server stopped", file=log, flush=True)


# --------------------------------------------------------------------------- start and stop
#: Snakemake options with which a command runs no job here: a dry run, listings, reports, a
#: cluster executor or a profile (which may name one), and so on. :func:`begin` starts no
#: server for them (``onstart``, which knows, starts it for a local run all the same).
NO_LOCAL_JOBS = frozenset({
    "--dry-run", "--dryrun", "--lint", "--report", "--report-stylesheet", "--list", "--list-rules",
    "--list-target-rules", "--lt", "--summary", "--detailed-summary", "--dag", "--rulegraph",
    "--filegraph", "--d3dag", "--unlock", "--touch", "--cleanup-metadata", "--cm",
    "--cleanup-shadow", "--list-changes", "--lc", "--list-input-changes", "--li",
    "--list-params-changes", "--lp", "--list-code-changes", "--list-untracked", "--lu",
    "--print-compilation", "--archive", "--containerize", "--generate-unit-tests",
    "--delete-all-output", "--delete-temp-output", "--version", "--help", "--export-cwl",
    "--list-conda-envs", "--conda-create-envs-only", "--create-envs-only", "--conda-cleanup-envs",
    "--cleanup-containers", "--executor", "--profile", "--workflow-profile", "--debug-dag",
    "-e", "--edit-notebook", "--mode", "--no-hooks", "--target-jobs", "--dry",
})
#: Letters of short options that run no job (dry run, touch, list, summaries, help, version).
_NO_JOB_LETTERS = frozenset("ntlSDhv")


def runs_local_jobs(argv: list[str]) -> bool:
    """Whether the Snakemake command line ``argv`` will run jobs on this machine, judged from
    its options alone (see :data:`NO_LOCAL_JOBS`; a profile named in ``SNAKEMAKE_PROFILE`` may
    name a cluster executor, so that is a no too). A wrong yes costs a server's imports on an
    idle core; a wrong no only starts the server later, from ``onstart``."""
    import re

    if os.environ.get("SNAKEMAKE_PROFILE") or not argv:
        return False
    if not Path(argv[0]).name.startswith("snakemake"):  # Snakemake run from other code
        return False
    for arg in argv[1:]:
        if arg.split("=", 1)[0] in NO_LOCAL_JOBS:
            return False
        if re.fullmatch(r"-[A-Za-z][A-Za-z0-9]*", arg) and _NO_JOB_LETTERS & set(arg[1:]):
            return False
    return True


def main_process(workflow: Any) -> bool:
    """Whether this Snakemake process is the one that schedules the jobs and calls the hooks
    (not a job's own Snakemake process on a cluster node, not ``--no-hooks``), from the
    Snakefile's ``workflow`` object (known when the Snakefile is read)."""
    mode = getattr(getattr(workflow, "exec_mode", None), "name", "DEFAULT")
    hooks = not getattr(getattr(workflow, "execution_settings", None), "no_hooks", False)
    return mode == "DEFAULT" and hooks


def begin(argv: list[str] | None = None, workdir: str | Path = ".", *,
          workflow: Any = None) -> bool:
    """Start a server for ``workdir`` without waiting for it, when the command line ``argv``
    (default ``sys.argv``) will run jobs here (:func:`runs_local_jobs`): called first thing in
    the Snakefile, so the server's imports run on the other core while Snakemake checks the
    config and builds the job graph; :func:`start` in ``onstart`` then waits for it. The
    server leaves when this process is gone, so a wrong guess costs only its imports; and
    :func:`stop` runs at this process's exit (a run with nothing to do, or one that fails
    before ``onstart``, calls no hook). ``workflow``: the Snakefile's ``workflow``, which says
    whether this is the main Snakemake process (:func:`main_process`)."""
    import atexit

    global _PENDING
    try:
        if _PENDING is not None or _SERVER is not None or not enabled():
            return False
        if workflow is not None and not main_process(workflow):
            return False
        if not runs_local_jobs(sys.argv if argv is None else argv):
            return False
        _PENDING = _spawn(workdir, owner=os.getpid(), preload=None, idle_seconds=IDLE_SECONDS)
        if _PENDING is not None:
            atexit.register(stop)
        return _PENDING is not None
    except Exception:  # noqa: BLE001 - onstart tries again, and then warns
        return False


def start_for(workflow: Any, workdir: str | Path = ".") -> Any:
    """The workflow's ``onstart``: on a local run that executes jobs, take the server
    :func:`begin` started (or start one) and wait for it; otherwise (a cluster executor,
    ``--touch``) end a begun one, since no job will come to it."""
    if getattr(workflow, "local_exec", False) and not getattr(workflow, "touch", False):
        return start(workdir, owner=os.getpid())
    stop()
    return None


def start(workdir: str | Path = ".", *, owner: int | None = None, timeout: float = 60.0,
          preload: tuple[str, ...] | None = None, idle_seconds: float = IDLE_SECONDS):
    """Start a server for ``workdir`` (or take the one :func:`begin` started) and wait until it
    listens (its imports take a few seconds); returns its :class:`subprocess.Popen`, or
    ``None`` when :func:`enabled` is false, a server already answers there, it did not come up
    within ``timeout`` seconds, or starting it failed (a warning says why: the workflow runs
    on, each job in its own process)."""
    global _PENDING, _SERVER
    try:
        if _PENDING is not None:
            spawned, _PENDING = _PENDING, None
        else:
            spawned = _spawn(workdir, owner=owner, preload=preload, idle_seconds=idle_seconds)
        if spawned is None:
            return None
        proc, path = spawned
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"it exited with code {proc.returncode} (see "
                                   ".snakemake/dlddrivers/jobserver.log)")
            if _answers(path):
                _SERVER = (proc, path)
                return proc
            time.sleep(0.02)
        proc.kill()
        proc.wait()
        raise TimeoutError(f"it did not listen within {timeout:.0f} s")
    except Exception as exc:  # noqa: BLE001 - without a server every job runs in its own process
        import warnings

        warnings.warn(f"dlddrivers job server not started ({type(exc).__name__}: {exc}); every "
                      "job runs in its own process", RuntimeWarning, stacklevel=2)
        return None


def _spawn(workdir: str | Path, *, owner: int | None, preload: tuple[str, ...] | None,
           idle_seconds: float):
    """Start the server process (not waiting for it): ``(Popen, socket path)``, or ``None``
    when switched off or a server already answers at the address."""
    import subprocess

    if not enabled():
        return None
    path = address(workdir)
    if _answers(path):
        return None
    _private_folder(Path(path).parent)
    logdir = Path(workdir) / ".snakemake" / "dlddrivers"
    logdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", ENV_SWITCH: "1", **MALLOC_ENV}
    env.pop(ENV_CHILD, None)
    cmd = [sys.executable, "-P", "-m", "dlddrivers.jobserver", "serve", path,
           "--owner", str(owner or os.getpid()), "--idle", str(idle_seconds)]
    if preload is not None:
        cmd += ["--preload", ",".join(preload)]
    with open(logdir / "jobserver.log", "wb") as log:  # this run's server only
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                cwd=str(workdir), env=env, close_fds=True, process_group=0)
    return proc, path


def _answers(path: str) -> bool:
    if not os.path.exists(path):
        return False
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError:
        return False
    finally:
        s.close()
    return True


def stop(timeout: float = 30.0) -> None:
    """Ask the server started by :func:`start` to leave once its jobs have ended, and wait for
    it (so its CPU time is counted with this process's children)."""
    global _SERVER, _PENDING
    if _SERVER is None and _PENDING is not None:
        proc, _path = _PENDING  # started by begin() and never waited for: it has no job yet
        _PENDING = None
        proc.kill()
        proc.wait()
        return
    if _SERVER is None:
        return
    proc, path = _SERVER
    _SERVER = None
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        payload = json.dumps({"shutdown": True}).encode()
        socket.send_fds(s, [_HEADER.pack(len(payload))], [])
        s.sendall(payload)
        s.close()
    except OSError:
        pass
    try:
        proc.wait(timeout=timeout)
    except Exception:  # noqa: BLE001 - a server that does not leave is ended
        proc.kill()
        proc.wait()


def main(argv: list[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m dlddrivers.jobserver", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="run a server at the given socket path")
    s.add_argument("path")
    s.add_argument("--owner", type=int, default=None)
    s.add_argument("--idle", type=float, default=IDLE_SECONDS)
    s.add_argument("--preload", default=None, help="comma-separated modules (default: PRELOAD)")
    a = ap.parse_args(argv)
    preload = PRELOAD if a.preload is None else tuple(m for m in a.preload.split(",") if m)
    serve(a.path, owner=a.owner, preload=preload, idle_seconds=a.idle)


if __name__ == "__main__":
    main()
