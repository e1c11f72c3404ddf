"""Shared fixtures: an isolated work folder, small sources laid out like iChallenge-PM, and
Windows' file semantics emulated on Linux (``windows``)."""

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

from fundus_utils.core import config  # noqa: E402

from source_fixtures import SourceSpec  # noqa: E402
from windows_semantics import windows_semantics  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Every test gets its own work and runs folders, and no dataset from the environment."""
    monkeypatch.setenv(config.ENV_WORKDIR, str(tmp_path / "work"))
    monkeypatch.setenv(config.ENV_RUNS, str(tmp_path / "runs"))
    for var in (config.ENV_DATA, config.ENV_QUICK, config.ENV_BUDGET, config.ENV_PROGRESS):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr("fundus_utils.data.source.aistudio_candidates", lambda: [])
    monkeypatch.setattr("fundus_utils.data.source.repo_data_dir", lambda: None)


@pytest.fixture
def spec() -> SourceSpec:
    return SourceSpec()


@pytest.fixture
def zip_source(tmp_path, spec) -> Path:
    return spec.write_zips(tmp_path / "source")


@pytest.fixture
def windows():
    """Files behave as on Windows for the test's duration (see tests/windows_semantics.py)."""
    with windows_semantics():
        yield
