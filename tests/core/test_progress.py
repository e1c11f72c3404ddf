"""fundus_utils.core.progress: widget bars for learners, text bars on request and in quick mode."""

from __future__ import annotations

from fundus_utils.core import progress
from fundus_utils.core.config import ENV_PROGRESS, ENV_QUICK

import pytest


def test_widget_bar_when_ipywidgets_imports(monkeypatch):
    monkeypatch.setattr(progress.importlib.util, "find_spec", lambda name: object())
    assert progress._widgets_ok()
    monkeypatch.setenv(ENV_PROGRESS, "widget")
    assert progress._widgets_ok()


@pytest.mark.parametrize(("variable", "value"), [(ENV_PROGRESS, "text"), (ENV_QUICK, "1")])
def test_text_bar_on_request_and_in_quick_mode(monkeypatch, variable, value):
    monkeypatch.setattr(progress.importlib.util, "find_spec", lambda name: object())
    monkeypatch.setenv(variable, value)
    assert not progress._widgets_ok()
    bar = progress.progress(range(3), desc="x")
    assert type(bar) is progress.text_tqdm  # the plain class, not tqdm.notebook's
    bar.close()


def test_no_ipywidgets_means_text(monkeypatch):
    monkeypatch.setattr(progress.importlib.util, "find_spec", lambda name: None)
    assert not progress._widgets_ok()


def test_an_unknown_style_is_named(monkeypatch):
    monkeypatch.setenv(ENV_PROGRESS, "fancy")
    with pytest.raises(ValueError, match="FUNDUS_PROGRESS: expected one of .* found 'fancy'"):
        progress._widgets_ok()
