"""The deferred pandas import (dlddrivers._lazy): the workflow's start-up does not run pandas,
and pandas behaves as usual once used (also when two threads use it first at the same time).

Each case runs in a fresh interpreter: the test process has imported pandas already."""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(code: str, cwd: Path = ROOT, env_path: str | None = None) -> str:
    env = None
    if env_path:
        import os

        env = {**os.environ, "PYTHONPATH": env_path + os.pathsep + os.environ.get("PYTHONPATH", "")}
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                       text=True, cwd=str(cwd), env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout.strip()


def test_startup_checks_leave_pandas_unrun_and_pandas_works_after():
    out = _run("""
        import sys
        from dlddrivers._lazy import is_deferred
        from dlddrivers.config import load_config, study_config
        from dlddrivers.pipeline import check_stage_options, panel_slice, stage_slice, setup
        from dlddrivers.stages import STAGES
        import dlddrivers.validation, dlddrivers.reporting
        cfg = load_config('config/config.yaml')
        # the Snakefile's checks that need no raw files
        from dlddrivers.config import resolve_paths, validate_schema
        validate_schema(cfg); resolve_paths(cfg, '.'); check_stage_options(cfg)
        for name in cfg['run']:
            study_config(cfg, name)
            for stage in STAGES:
                stage_slice(cfg, name, stage)
        print(is_deferred('pandas'), 'pandas.core' in sys.modules)
        import pandas as pd
        from pandas.api.types import is_numeric_dtype
        df = pd.DataFrame({'a': [1.5, 2.5]})
        print(is_deferred('pandas'), df['a'].sum(), is_numeric_dtype(df['a']),
              type(sys.modules['pandas']).__name__, pd.__version__ == sys.modules['pandas'].__version__)
    """)
    assert out.splitlines() == ["True False", "False 4.0 True module True"], out


def test_first_use_from_two_threads_runs_pandas_once():
    out = _run("""
        import sys, threading
        import dlddrivers
        from dlddrivers._lazy import is_deferred
        assert is_deferred('pandas')
        import pandas
        seen, barrier = [], threading.Barrier(4)
        def use():
            barrier.wait()
            seen.append(id(pandas.DataFrame))
        ts = [threading.Thread(target=use) for _ in range(4)]
        [t.start() for t in ts]; [t.join() for t in ts]
        print(len(seen), len(set(seen)), id(sys.modules['pandas'].DataFrame) == seen[0])
    """)
    assert out == "4 1 True", out


def test_already_imported_unknown_and_failing_modules(tmp_path):
    (tmp_path / "boom_mod.py").write_text("x = 1\nraise RuntimeError('boom at import')\n")
    out = _run("""
        import sys
        import json
        from dlddrivers._lazy import defer_import, is_deferred
        print(defer_import('json'), defer_import('no_such_module_xyz'), defer_import('os.path'))
        print(defer_import('boom_mod'), is_deferred('boom_mod'))
        import boom_mod  # binds the deferred module: nothing runs yet
        try:
            boom_mod.x
        except RuntimeError as exc:
            print('raised', exc, 'boom_mod' in sys.modules)
    """, env_path=str(tmp_path))
    assert out.splitlines() == ["False False False", "True True",
                                "raised boom at import False"], out
