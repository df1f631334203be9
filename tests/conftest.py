"""Shared fixtures: the repository root and the read-only raw snapshot."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _snapshot() -> Path | None:
    for cand in (os.environ.get("DLD_SNAPSHOT"), REPO.parent / "shared" / "data" / "raw",
                 Path("/work/shared/data/raw")):
        if cand and Path(cand).is_dir():
            return Path(cand)
    return None


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
