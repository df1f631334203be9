"""Process-level helpers of the workflow: how a job's process ends once its outputs are
written, and the local scheduler's wake-ups."""

from __future__ import annotations

import atexit
import logging
import os
import sys
from typing import Any, NoReturn


def end_job(code: int = 0) -> NoReturn:
    """End a finished workflow job's process now, without the interpreter's teardown.

    A job script calls this as its last statement, after every output file has been written and
    closed. A normal exit then only frees memory: Python tears down every module and object of
    pandas, matplotlib, statsmodels, DoWhy and the rest, which costs 0.15-0.5 s of CPU per job
    (about 15 s over a default run of 59 jobs) and produces nothing. This runs the registered
    exit handlers (``logging.shutdown`` among them, which flushes and closes the log files),
    flushes the standard streams, and leaves with ``os._exit(code)``.

    Only for job processes that own no other running threads or child processes (their exit
    is not waited for); an exception raised before this call exits the usual way.
    """
    try:
        atexit._run_exitfuncs()
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a stream closed by the job
                pass
    finally:
        os._exit(code)


def drop_local_rate_limit(workflow: Any) -> bool:
    """On a local run, remove the job-submission rate limit of Snakemake's scheduler (called
    from the workflow's ``onstart``); returns whether it did.

    Snakemake 9 always sets a limit (``--max-jobs-per-timespan``, default 100 per second), and
    with one set, every scheduling round starts a timer that wakes the scheduler one timespan
    later for another round, which starts another timer. Each finished job adds a round, so
    the timers pile up: a default run of 59 jobs made about 3,600 rounds, each re-reading the
    sizes of every ready job's input files, about 4 s of the scheduler's CPU on 2 cores that
    the jobs wanted. A local run starts at most one job per free core, so the limit never
    binds there. Cluster runs (``local_exec`` false) keep it: it paces their submissions.
    Anything unexpected (another Snakemake without these attributes) leaves it alone.
    """
    scheduler = getattr(workflow, "scheduler", None)
    if not getattr(workflow, "local_exec", False) or scheduler is None:
        return False
    if getattr(scheduler, "job_rate_limiter", None) is None:
        return False
    scheduler.job_rate_limiter = None
    return True


def keep_pandas_deferred(persistence_cls: Any) -> bool:
    """Let Snakemake compare a job's params without importing pandas while nothing has used it
    (called from the Snakefile, before the job graph is built); returns whether it patched.

    Snakemake decides whether a job's params changed by serialising each param, and its
    serialiser imports pandas to test whether the param is a DataFrame, Series or Index
    (``PersistenceBase._serialize_param_pandas``, once per job and param): about 0.3 s of a dry
    run that has nothing to do, for params that are config slices here. The package defers
    pandas (:mod:`dlddrivers._lazy`): while its code has not run, no object of a pandas class
    can exist, so each of those tests is false and Snakemake's own fallback
    (``_serialize_param_builtin``) is what it would return. The patched serialiser goes
    straight to that fallback while pandas is deferred and calls Snakemake's otherwise (as soon
    as anything has loaded pandas, or if it was imported without deferral). Idempotent;
    another Snakemake without these methods (or ``None`` for the class) is left alone.
    """
    from ._lazy import is_deferred

    original = getattr(persistence_cls, "_serialize_param_pandas", None)
    if original is None or not hasattr(persistence_cls, "_serialize_param_builtin"):
        return False
    if getattr(original, "_dld_keeps_pandas_deferred", False):
        return True

    def serialize_param(self, value):
        if is_deferred("pandas"):
            return self._serialize_param_builtin(value)
        return original(self, value)

    serialize_param._dld_keeps_pandas_deferred = True
    serialize_param.__doc__ = original.__doc__
    serialize_param.__wrapped__ = original
    persistence_cls._serialize_param_pandas = serialize_param
    return True
