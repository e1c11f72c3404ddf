"""fundus_utils.engine.logs: VisualDL scalars when it is installed, one note when it is not."""

from __future__ import annotations

import sys
import types

import fundus_utils as fu

from fit_helpers import loaders, quiet_fit, seeded_model


def test_visualdl_scalars_when_installed(tmp_path, monkeypatch):
    calls = []

    class FakeWriter:
        def __init__(self, logdir):
            calls.append(("open", logdir))

        def add_scalar(self, tag, value, step):
            calls.append((tag, step))

        def close(self):
            calls.append(("close", None))

    monkeypatch.setitem(sys.modules, "visualdl", types.SimpleNamespace(LogWriter=FakeWriter))
    quiet_fit(
        seeded_model(), *loaders(), epochs=2, reporting=fu.Reporting(log_dir=tmp_path / "vdl")
    )
    assert calls[0] == ("open", str(tmp_path / "vdl")) and calls[-1] == ("close", None)
    assert ("train/loss", 1) in calls and ("valid/auc", 2) in calls


def test_missing_visualdl_prints_one_note(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "visualdl", None)  # makes `import visualdl` fail
    quiet_fit(
        seeded_model(), *loaders(), epochs=2, reporting=fu.Reporting(log_dir=tmp_path / "vdl")
    )
    assert capsys.readouterr().out.count("VisualDL is not installed") == 1
