"""The benchmark scripts keep working: each one's smoke mode runs here, as a subprocess.

A benchmark nobody runs breaks silently when a name moves (benchmarks/loader.py did); its
``--smoke`` mode takes the same code path on tiny sizes in a few seconds, so the test command
catches it. Only what the scripts print and write is checked, never a timing.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "benchmarks"
# Generous: the machine may be busy; a hang must still end the test run.
SMOKE_TIMEOUT_S = 600
REHEARSAL_TIMEOUT_S = 1800
# The variables that would point a subprocess at other data or at a mode (tests/conftest.py
# clears them for in-process tests; a subprocess needs them cleared in its own environment).
FROM_ENV = ("FUNDUS_DATA", "FUNDUS_QUICK", "FUNDUS_BUDGET", "FUNDUS_WORKDIR", "FUNDUS_RUNS")


def _script(name: str) -> ModuleType:
    """A benchmark script as a module (for its constants), without running its ``main``."""
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench_env(tmp_path_factory) -> dict[str, str]:
    """One work and runs folder shared by every benchmark run of this module."""
    root = tmp_path_factory.mktemp("benchmarks")
    env = {k: v for k, v in os.environ.items() if k not in FROM_ENV}
    env["FUNDUS_WORKDIR"] = str(root / "work")
    env["FUNDUS_RUNS"] = str(root / "runs")
    return env


@pytest.fixture(scope="module")
def prepared_env(bench_env) -> dict[str, str]:
    """``bench_env`` with the default sample set generated and prepared once (the rehearsal's
    two parallel processes would otherwise both generate it), and named in FUNDUS_DATA, so that
    real data in data/ or on AI Studio is not picked up instead."""
    env = dict(bench_env)
    source = Path(env["FUNDUS_WORKDIR"]).parent / "sample-source"
    _run([sys.executable, "-m", "fundus_utils", "sample", "--out", str(source)], env, 900)
    env["FUNDUS_DATA"] = str(source)
    lines = _run([sys.executable, "-m", "fundus_utils", "prepare", "--json"], env, 900)
    prepared = json.loads(lines[-1])
    assert prepared["source_kind"] == "sample", prepared
    return env


def _run(command: list[str], env: dict[str, str], timeout: float) -> list[str]:
    """Run ``command`` in the repository; its stdout lines, or a failure with its output."""
    done = subprocess.run(
        command,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
    )
    assert done.returncode == 0, (
        f"{' '.join(command[1:])}: exit {done.returncode}\n"
        f"stdout (tail):\n{done.stdout[-3000:]}\nstderr (tail):\n{done.stderr[-3000:]}"
    )
    lines = done.stdout.strip().splitlines()
    assert lines, f"{' '.join(command[1:])}: printed nothing"
    return lines


def _smoke(name: str, env: dict[str, str], *args: str) -> tuple[list[str], dict]:
    """Run ``benchmarks/<name>.py --smoke``; its stdout lines and its last line, parsed as JSON."""
    command = [sys.executable, str(BENCHMARKS / f"{name}.py"), "--smoke", *args]
    lines = _run(command, env, SMOKE_TIMEOUT_S)
    try:
        summary = json.loads(lines[-1])
    except json.JSONDecodeError as error:
        pytest.fail(
            f"{name}.py --smoke: expected JSON as the last line, found {lines[-1]!r}: {error}"
        )
    assert isinstance(summary, dict), f"{name}.py: expected a JSON object, found {summary!r}"
    return lines, summary


def _positive(summary: dict, *keys: str) -> None:
    for key in keys:
        value = summary[key]
        assert isinstance(value, (int, float)) and value > 0 and math.isfinite(value), (key, value)


def _finite_ratio(summary: dict, *keys: str) -> None:
    for key in keys:
        value = summary[key]
        assert isinstance(value, (int, float)) and math.isfinite(value) and value >= 0, (key, value)


@pytest.mark.slow
def test_loader_smoke(bench_env):
    lines, summary = _smoke("loader", bench_env)
    assert set(summary) >= {
        "seed_img_s",
        "first_pass_img_s",
        "cached_img_s",
        "first_pass_ratio",
        "cached_ratio",
    }
    _positive(summary, "seed_img_s", "first_pass_img_s", "cached_img_s")
    _finite_ratio(summary, "first_pass_ratio", "cached_ratio")
    smoke = _script("loader").SMOKE
    assert summary["smoke"] is True
    assert summary["images"] == smoke["images"] and summary["rounds"] == smoke["rounds"]
    assert sum(line.startswith("round ") for line in lines) == smoke["rounds"]
    assert any("x the seed loader" in line for line in lines), lines


@pytest.mark.slow
def test_engine_smoke(bench_env):
    lines, summary = _smoke("engine", bench_env)
    assert set(summary) >= {"bare_s", "fit_s", "ratio", "bare_cpu_s", "fit_cpu_s", "cpu_ratio"}
    _positive(summary, "bare_s", "fit_s", "bare_cpu_s", "fit_cpu_s")
    _finite_ratio(summary, "ratio", "cpu_ratio")
    assert summary["smoke"] is True and summary["device"] == "cpu"
    smoke = _script("engine").SMOKE
    assert {k: summary[k] for k in smoke} == smoke
    assert any("x the bare loop" in line for line in lines), lines


@pytest.mark.slow
def test_seed_spread_smoke(bench_env):
    lines, summary = _smoke("seed_spread", bench_env)
    script = _script("seed_spread")
    assert summary["seeds"] == script.SMOKE_SEEDS == len(summary["folders"])
    assert sorted(r["run"] for r in summary["runs"]) == sorted(a for a, _, _ in script.SMOKE_RUNS)
    classes = {arch: n for arch, _, n in script.SMOKE_RUNS}
    for run in summary["runs"]:
        assert run["seeds"] == script.SMOKE_SEEDS, run
        for column in script.METRICS:
            stats = run[column]
            if column == "predicted_pm_share" and classes[run["run"]] != 2:
                assert stats is None, run  # no share called PM for a five-grade run
                continue
            assert 0 <= stats["min"] <= stats["mean"] <= stats["max"] <= 1, (column, run)
    header = "| " + " | ".join(["run", "model", "seeds", *script.METRICS.values()]) + " |"
    assert header in lines
    table_rows = [line for line in lines if line.startswith("| ") and line != header]
    assert len(table_rows) == len(script.SMOKE_RUNS)


def _course_output(folder: Path, rows: list[dict]) -> Path:
    folder.mkdir(parents=True)
    with open(folder / "results.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder


def test_seed_spread_reads_course_tables(tmp_path, capsys):
    """The real mode on hand-made results.csv files: known means and ranges, "-" where a metric
    is missing in every seed, the JSON line last."""
    script = _script("seed_spread")
    folders = [
        _course_output(
            tmp_path / f"seed{seed}",
            [
                {
                    "arch": "lenet",
                    "model": "LeNet",
                    "final_valid_acc": acc,
                    "final_valid_auc": 0.9,
                    "predicted_pm_share": 0.5,
                },
                {
                    "arch": "grades",
                    "model": "five grades",
                    "final_valid_acc": 0.4,
                    "final_valid_auc": 0.8,
                    "predicted_pm_share": "",
                },
            ],
        )
        for seed, acc in enumerate((0.85, 0.95, 0.9))
    ]
    assert script.main([str(f) for f in folders]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert (
        "| lenet | LeNet | 3 | 0.900 [0.850, 0.950] | 0.900 [0.900, 0.900] | 50% [50%, 50%] |"
        in (lines)
    )
    assert "| grades | five grades | 3 | 0.400 [0.400, 0.400] | 0.800 [0.800, 0.800] | - |" in lines
    summary = json.loads(lines[-1])
    assert summary["seeds"] == 3
    lenet = next(r for r in summary["runs"] if r["run"] == "lenet")
    assert lenet["final_valid_acc"] == pytest.approx({"mean": 0.9, "min": 0.85, "max": 0.95})
    assert next(r for r in summary["runs"] if r["run"] == "grades")["predicted_pm_share"] is None


def test_seed_spread_names_a_table_without_its_columns(tmp_path, capsys):
    script = _script("seed_spread")
    folder = _course_output(tmp_path / "course_output", [{"arch": "lenet", "accuracy": 0.9}])
    assert script.main([str(folder)]) == 1
    message = capsys.readouterr().out
    assert str(folder / "results.csv") in message
    assert (
        "missing ['model', 'final_valid_acc'" in message and "found ['arch', 'accuracy']" in message
    )
    assert script.main([str(tmp_path / "nowhere")]) == 1
    assert "missing: [" in capsys.readouterr().out


@pytest.mark.slow
def test_full_rehearsal_smoke_writes_every_run(prepared_env, tmp_path):
    """Every rehearsed run trains (one step at 64 px) and lands in the CSV and the JSON."""
    script = _script("full_rehearsal")
    out = tmp_path / "rehearsal"
    command = [sys.executable, str(BENCHMARKS / "full_rehearsal.py"), "--smoke", "--out", str(out)]
    lines = _run(command, prepared_env, REHEARSAL_TIMEOUT_S)
    runs = [r.run for r in script.REHEARSALS]
    assert json.loads(lines[-1])["runs"] == len(runs)

    text = (out / "full_rehearsal.csv").read_text(encoding="utf-8")
    table = list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))
    assert table, f"{out / 'full_rehearsal.csv'}: no rows"
    assert list(table[0]) == list(script.COLUMNS)
    assert [row["run"] for row in table] == runs
    for row in table:
        assert int(row["epochs_rehearsed"]) == script.SMOKE["epochs"], row
        assert int(row["image_size"]) == script.SMOKE["image_size"], row
        assert 0 <= float(row["valid_accuracy"]) <= 1, row
        assert row["data"].startswith("sample"), row

    payload = json.loads((out / "full_rehearsal.json").read_text(encoding="utf-8"))
    assert payload["smoke"] is True
    assert [r["run"] for r in payload["runs"]] == runs
    for run in payload["runs"]:
        history = run["history"]
        assert len(history["train_loss"]) == run["epochs_rehearsed"] == script.SMOKE["epochs"]
        assert len(history["valid_acc"]) == len(history["train_loss"]), run["run"]
        assert all(math.isfinite(loss) for loss in history["train_loss"]), run["run"]
