"""fundus_utils.course: the course runner (papermill on tiny notebooks) and its summary table."""

from __future__ import annotations

from fundus_utils.course import run_course

import nbformat


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
    assert run_course("quick", out, [first, second, third]) == 1
    printed, terminal_err = capfd.readouterr()
    assert "kernel noise" not in terminal_err
    assert "[1/3] 00_ok.ipynb … done" in printed
    assert "FAILED 01_bad.ipynb, cell [2]: ValueError: broken on purpose" in printed
    assert "02_never" not in printed.split("FAILED")[1]
    assert (out / "html" / "00_ok.html").is_file() and not (out / "02_never.ipynb").exists()
    assert (
        "kernel noise for the log" in (out / "logs" / "00_ok.log").read_text()
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
        " 'best_valid_auc': 0.75, 'history': {}}))",
    )
    assert run_course("quick", tmp_path / "out", [nb]) == 0
    printed = capsys.readouterr().out
    assert "Results (from each run's results JSON" in printed and "tiny" in printed
    table = (tmp_path / "out" / "results.csv").read_text()
    assert table.splitlines()[1].startswith("tiny,7,")
