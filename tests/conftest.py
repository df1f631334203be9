"""Shared fixtures: the repository root and the read-only raw snapshot."""

from __future__ import annotations

import os
from pathlib import Path

# The workflow's jobs run with the BLAS/OpenMP threads of their rule (Snakemake sets these to
# `threads: 1`); tests that call the same functions in-process do the same, so that scikit-learn's
# OpenMP (histogram gradient boosting) and BLAS never run more threads than cores on a shared
# machine (oversubscribed OpenMP spin-waits made a 7 s fit take 90 s under load).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _snapshot() -> Path | None:
    """The raw snapshot: $DLD_SNAPSHOT, else ``shared/data/raw`` beside the checkout (as in CI)."""
    for cand in (os.environ.get("DLD_SNAPSHOT"), REPO.parent / "shared" / "data" / "raw"):
        if cand and Path(cand).is_dir():
            return Path(cand)
    return None


#: The snapshot folder for module-level skip marks (a path that does not exist when absent).
SNAPSHOT_DIR: Path = _snapshot() or REPO.parent / "shared" / "data" / "raw"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def snapshot() -> Path:
    snap = _snapshot()
    if snap is None:
        pytest.skip("raw snapshot folder not found (set DLD_SNAPSHOT)")
    return snap


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch):
    """Config paths are relative to the repository root, as in the workflow."""
    monkeypatch.chdir(REPO)


def run_snakemake(*args: str, timeout: int = 1800, env: dict | None = None):
    """Run the workflow's snakemake (from this venv) in the repository; return the process.
    ``env``: the environment of the process (the tests' own by default)."""
    import shutil
    import subprocess
    import sys

    exe = shutil.which("snakemake") or str(Path(sys.executable).parent / "snakemake")
    return subprocess.run([exe, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env=env)


def cluster_env() -> dict:
    """The environment of a Snakemake run that needs the SLURM executor plugin (the `cluster`
    extra): the tests' own when the plugin is installed, else with the folder ``make test``
    installs it into (``DLD_CLUSTER_PLUGINS``, not part of the venv: see the Makefile) on the
    module path. Skips the test when neither has it."""
    import importlib.util
    import os

    env = dict(os.environ)
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is not None:
        return env
    folder = env.get("DLD_CLUSTER_PLUGINS", "")
    if not folder or not (Path(folder) / "snakemake_executor_plugin_slurm").is_dir():
        pytest.skip("the SLURM executor plugin is not installed (pip install -e '.[cluster]', "
                    "or run the tests with `make test`)")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (folder, env.get("PYTHONPATH", "")) if p)
    return env


@pytest.fixture(scope="session")
def default_results(snapshot, tmp_path_factory) -> Path:
    """Every default study built once by the workflow on the snapshot (shared by the e2e tests)."""
    out = tmp_path_factory.mktemp("workflow") / "results"
    r = run_snakemake("--cores", "2", "--config", f"snapshot_dir={snapshot}", f"results_dir={out}",
                      "validation=False")  # the validation has its own tests
    assert r.returncode == 0, r.stderr[-4000:]
    return out
