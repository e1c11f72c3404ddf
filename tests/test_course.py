"""fundus_utils.course: the course runner (papermill on tiny notebooks) and its summary table."""

from __future__ import annotations

from pathlib import Path

from fundus_utils.course import (
    MEASURED_MINUTES,
    NOTEBOOK_DIR,
    course_notebooks,
    estimate_minutes,
    run_course,
    stages,
)

import nbformat
import pytest


def notebook(path, *sources):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


def test_course_runs_notebooks_and_stops_at_the_failing_cell(tmp_path, capfd):
    src = tmp_path / "src"
    src.mkdir()
    first = notebook(
        src / "00_ok.ipynb",
        "import os\nprint(os.environ['FUNDUS_QUICK'])",
        "os.write(2, b'kernel noise for the log\\n')",
    )  # the kernel's own stderr, like glog
    second = notebook(src / "01_bad.ipynb", "x = 1", "raise ValueError('broken on purpose')")
    third = notebook(src / "02_never.ipynb", "print('not reached')")
    before = {p: p.read_bytes() for p in (first, second, third)}
    out = tmp_path / "out"
    assert run_course("quick", out, [first, second, third], jobs=1) == 1
    printed, terminal_err = capfd.readouterr()
    assert "kernel noise" not in terminal_err
    assert "[1/3] 00_ok.ipynb … done" in printed
    assert "FAILED 01_bad.ipynb, cell [2]: ValueError: broken on purpose" in printed
    assert "02_never" not in printed.split("FAILED")[1]
    assert (out / "html" / "00_ok.html").is_file() and not (out / "02_never.ipynb").exists()
    assert (
        "kernel noise for the log" in (out / "logs" / "00_ok.log").read_text(encoding="utf-8")
        and "its log is" in printed
    )
    executed = nbformat.read(out / "00_ok.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"].strip() == "1"  # quick mode reached the kernel
    assert {p: p.read_bytes() for p in before} == before  # sources never written


def test_course_summary_table_from_results(tmp_path, capsys):
    nb = notebook(
        tmp_path / "00_write.ipynb",
        "import json, os, pathlib\n"
        "d = pathlib.Path(os.environ['FUNDUS_RUNS']) / 'tiny'\nd.mkdir(parents=True)\n"
        "(d / 'results.json').write_text(json.dumps({'architecture': 'tiny', 'parameters': 7,"
        " 'final_valid_auc': 0.75, 'history': {}}))",
    )
    assert run_course("quick", tmp_path / "out", [nb]) == 0
    printed = capsys.readouterr().out
    assert "Results (from each run's results JSON" in printed and "tiny" in printed
    table = (tmp_path / "out" / "results.csv").read_text(encoding="utf-8")
    assert table.splitlines()[1].startswith("tiny,tiny,7,")


def _record(order, text: str) -> str:
    return f"open({str(order)!r}, 'a').write({text} + '\\n')"


def _meet(me, other) -> str:
    """Announce ``me``, wait for ``other``: run one after the other, the first finds no partner
    and records "alone" (the 120 s wait is a safety net against hanging, not a timing)."""
    return (
        "import pathlib, time\n"
        f"me, other = pathlib.Path({str(me)!r}), pathlib.Path({str(other)!r})\n"
        "me.touch()\n"
        "deadline = time.monotonic() + 120\n"
        "while not other.exists() and time.monotonic() < deadline:\n"
        "    time.sleep(0.05)\n"
        "partner = 'met' if other.exists() else 'alone'"
    )


def test_lessons_run_at_the_same_time_between_data_and_compare(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    order, a, b = tmp_path / "order.txt", tmp_path / "a", tmp_path / "b"
    paths = [
        notebook(src / "00_data.ipynb", _record(order, "'00'")),
        notebook(src / "01_a.ipynb", _meet(a, b), _record(order, "'01 ' + partner")),
        notebook(src / "02_b.ipynb", _meet(b, a), _record(order, "'02 ' + partner")),
        notebook(src / "07_compare.ipynb", _record(order, "'07'")),
    ]
    assert [[p.stem for p in stage] for stage in stages(paths)] == [
        ["00_data"],
        ["01_a", "02_b"],
        ["07_compare"],
    ]
    assert run_course("quick", tmp_path / "out", paths, jobs=2) == 0
    lines = order.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "00" and lines[-1] == "07"
    assert sorted(lines[1:-1]) == ["01 met", "02 met"]
    printed = capsys.readouterr().out
    assert "Running 01_a, 02_b: 2 at a time." in printed and "[4/4] 07_compare.ipynb" in printed


def test_estimate_follows_the_stages():
    paths = [Path(f"{name}.ipynb") for name in ("00_data", "01_lenet", "02_alexnet", "07_compare")]
    table = MEASURED_MINUTES["cpu"]
    serial = estimate_minutes("cpu", paths, jobs=1)
    parallel = estimate_minutes("cpu", paths, jobs=2)
    assert serial == pytest.approx(sum(table[p.stem] for p in paths))
    assert parallel == pytest.approx(
        table["00_data"] + max(table["01_lenet"], table["02_alexnet"]) + table["07_compare"]
    )
    assert estimate_minutes("full", paths) is None


def test_seed_reaches_every_notebook_as_its_seed_parameter(tmp_path):
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("SEED = 0"), nbformat.v4.new_code_cell("print(SEED)")]
    )
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = tmp_path / "00_seeded.ipynb"
    nbformat.write(nb, path)
    assert run_course("quick", tmp_path / "out", [path], seed=3) == 0
    executed = nbformat.read(tmp_path / "out" / "00_seeded.ipynb", as_version=4)
    assert executed.cells[-1].outputs[0]["text"].strip() == "3"


def test_a_relative_output_folder_holds_the_runs_and_the_summary(tmp_path, monkeypatch, capsys):
    (tmp_path / "src").mkdir()  # the kernel runs in the notebook's folder, not in ours
    nb = notebook(
        tmp_path / "src" / "00_write.ipynb",
        "import json, os, pathlib\n"
        "d = pathlib.Path(os.environ['FUNDUS_RUNS']) / 'tiny'\nd.mkdir(parents=True)\n"
        "(d / 'results.json').write_text(json.dumps({'architecture': 'tiny', 'parameters': 7,"
        " 'history': {}}))",
    )
    monkeypatch.chdir(tmp_path)
    assert run_course("quick", Path("rel_out"), [nb]) == 0
    assert (tmp_path / "rel_out" / "runs" / "tiny" / "results.json").is_file()
    assert (tmp_path / "rel_out" / "results.csv").is_file()
    assert "No training results were written" not in capsys.readouterr().out


def test_each_edition_has_the_same_eight_notebooks():
    english, chinese = course_notebooks("en"), course_notebooks("zh")
    assert [nb.name for nb in english] == [nb.name for nb in chinese]
    assert len(english) == 8 and {nb.parent for nb in chinese} == {NOTEBOOK_DIR / "zh"}
    with pytest.raises(ValueError, match="lang: expected one of"):
        course_notebooks("fr")


def test_an_empty_edition_is_an_error_not_the_english_one(tmp_path, capsys):
    assert run_course("quick", tmp_path / "out", []) == 1
    assert "No notebooks to run" in capsys.readouterr().out
