"""Run modes, results gathering, and the course runner (papermill on tiny notebooks)."""
from __future__ import annotations

import json

import nbformat
import numpy as np
import pytest

import fundus_utils as fu
from fundus_utils.engine import results
from fundus_utils.core.config import ENV_BUDGET, ENV_QUICK
from fundus_utils.course import run_course
from fundus_utils.core.modes import MODES, run_mode, run_settings


def test_run_mode_from_environment(monkeypatch):
    monkeypatch.setenv(ENV_QUICK, "1")
    monkeypatch.setenv(ENV_BUDGET, "full")
    assert run_mode() == "quick"                       # quick wins: the tests must stay quick
    monkeypatch.delenv(ENV_QUICK)
    assert run_mode() == "full"
    monkeypatch.setenv(ENV_BUDGET, "cpu")
    assert run_mode() == "cpu"
    monkeypatch.setenv(ENV_BUDGET, "huge")
    with pytest.raises(ValueError, match="FUNDUS_BUDGET: expected 'cpu' or 'full', found 'huge'"):
        run_mode()
    monkeypatch.delenv(ENV_BUDGET)
    assert run_mode() == "cpu"                         # this machine has no GPU


def test_run_settings_per_mode():
    quick, cpu, full = (run_settings("vgg16", m) for m in MODES)
    assert (quick.image_size, cpu.image_size, full.image_size) == (64, 128, 224)
    assert quick.epochs <= cpu.epochs <= full.epochs
    assert (quick.sample, full.sample) == ("default", "full")
    assert "1 epoch(s)" in quick.describe() and "64x64 px" in quick.describe()
    with pytest.raises(ValueError, match="arch: expected one of"):
        run_settings("transformer", "quick")


def write_result(root, name, **fields):
    folder = root / name
    folder.mkdir(parents=True)
    record = {"architecture": name, "parameters": 10, "best": {"valid_sensitivity": 0.5}, "history": {"epochs": 1}}
    (folder / "results.json").write_text(json.dumps(record | fields))


def test_load_results_makes_one_row_per_run(tmp_path):
    write_result(tmp_path, "b_net", best_valid_auc=0.7, data_kind="sample")
    write_result(tmp_path, "a_net", best_valid_auc=0.9, data_kind="real")
    table = results.load_results(tmp_path)
    assert table["arch"].tolist() == ["a_net", "b_net"]
    assert table["best_valid_auc"].tolist() == [0.9, 0.7] and table["best_valid_sensitivity"].tolist() == [0.5, 0.5]
    assert set(results.load_histories(tmp_path)) == {"a_net", "b_net"}
    assert results.load_results(tmp_path / "none").empty


def test_reference_images_take_the_first_of_each_class_pm_first():
    class Toy:
        labels = np.array([0, 0, 1, 1])
        names = ["n1", "n2", "p1", "p2"]

        def __getitem__(self, i):
            return np.full((3, 2, 2), i, np.float32), self.labels[i]
    images, names, labels = fu.reference_images(Toy())
    assert names == ["p1", "n1"] and labels == [1, 0] and images[0][0, 0, 0] == 2


def notebook(path, *sources):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_course_runs_notebooks_and_stops_at_the_failing_cell(tmp_path, capfd):
    src = tmp_path / "src"
    src.mkdir()
    first = notebook(src / "00_ok.ipynb", "import os\nprint(os.environ['FUNDUS_QUICK'])",
                     "os.write(2, b'kernel noise for the log\\n')")      # the kernel's own stderr, like glog
    second = notebook(src / "01_bad.ipynb", "x = 1", "raise ValueError('broken on purpose')")
    third = notebook(src / "02_never.ipynb", "print('not reached')")
    before = {p: p.read_bytes() for p in (first, second, third)}
    out = tmp_path / "out"
    assert run_course("quick", out, [first, second, third]) == 1
    printed, terminal_err = capfd.readouterr()
    assert "kernel noise" not in terminal_err
    assert "[1/3] 00_ok.ipynb … done" in printed
    assert "FAILED 01_bad.ipynb, cell [2]: ValueError: broken on purpose" in printed
    assert "02_never" not in printed.split("FAILED")[1]
    assert (out / "html" / "00_ok.html").is_file() and not (out / "02_never.ipynb").exists()
    assert "kernel noise for the log" in (out / "logs" / "00_ok.log").read_text() and "its log is" in printed
    executed = nbformat.read(out / "00_ok.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"].strip() == "1"        # quick mode reached the kernel
    assert {p: p.read_bytes() for p in before} == before               # sources never written


def test_course_summary_table_from_results(tmp_path, capsys):
    nb = notebook(tmp_path / "00_write.ipynb",
                  "import json, os, pathlib\n"
                  "d = pathlib.Path(os.environ['FUNDUS_RUNS']) / 'tiny'\nd.mkdir(parents=True)\n"
                  "(d / 'results.json').write_text(json.dumps({'architecture': 'tiny', 'parameters': 7,"
                  " 'best_valid_auc': 0.75, 'history': {}}))")
    assert run_course("quick", tmp_path / "out", [nb]) == 0
    printed = capsys.readouterr().out
    assert "Results (from each run's results JSON" in printed and "tiny" in printed
    table = (tmp_path / "out" / "results.csv").read_text()
    assert table.splitlines()[1].startswith("tiny,7,")
