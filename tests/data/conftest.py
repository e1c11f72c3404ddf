"""Every data-layer test runs twice: with Linux's file semantics, and with Windows' (emulated by
tests/windows_semantics.py: no fsync on a read-only descriptor, no rename, replace or delete of a
file that is open or memory-mapped, or of a folder holding one)."""

from __future__ import annotations

from typing import Iterator

import pytest
from windows_semantics import windows_semantics


@pytest.fixture(autouse=True, params=["posix", "windows"])
def file_semantics(request) -> Iterator[str]:
    """``"posix"`` or ``"windows"``; a test may ask for one only with
    ``@pytest.mark.parametrize("file_semantics", ["windows"], indirect=True)``."""
    if request.param == "windows":
        with windows_semantics():
            yield "windows"
    else:
        yield "posix"
