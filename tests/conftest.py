"""Shared fixtures: an isolated work folder, and small sources laid out like iChallenge-PM."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
# The repo root (for fundus_utils) and tests/ itself (for the shared helpers source_fixtures and
# fit_helpers, imported as top-level modules by test files in the tests/<area>/ sub-folders).
for folder in (TESTS, REPO):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from fundus_utils.core.config import ENV_BUDGET, ENV_DATA, ENV_QUICK, ENV_RUNS, ENV_WORKDIR  # noqa: E402

from source_fixtures import SourceSpec  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Every test gets its own work and runs folders, and no dataset from the environment."""
    monkeypatch.setenv(ENV_WORKDIR, str(tmp_path / "work"))
    monkeypatch.setenv(ENV_RUNS, str(tmp_path / "runs"))
    for var in (ENV_DATA, ENV_QUICK, ENV_BUDGET):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr("fundus_utils.data.source.aistudio_candidates", lambda: [])
    monkeypatch.setattr("fundus_utils.data.source.repo_data_dir", lambda: None)


@pytest.fixture
def spec() -> SourceSpec:
    return SourceSpec()


@pytest.fixture
def zip_source(tmp_path, spec) -> Path:
    return spec.write_zips(tmp_path / "source")
