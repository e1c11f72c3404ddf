"""Run the whole course: every notebook top to bottom, executed copies + HTML + a results table.

``python -m fundus_utils course [--quick | --budget cpu|full] [--out DIR]`` (the README's
main command runs this after setting up). Sources in ``notebooks/`` are never written.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .core.config import ENV_BUDGET, ENV_QUICK, ENV_RUNS
from .core.paths import REPO_DIR

__all__: list[str] = []  # internal: nothing here is part of the flat API (fu.<name>)

NOTEBOOK_DIR = REPO_DIR / "notebooks"
DEFAULT_OUT = REPO_DIR / "course_output"

# Wall-clock minutes per notebook on the 2-core development machine, measured with
# `bash scripts/course.sh --quick` and `bash scripts/course.sh --budget cpu` (see the issue notes);
# used only for the estimate printed before a run starts.
MEASURED_MINUTES = {
    "quick": {
        "00_data": 0.2,
        "01_lenet": 0.15,
        "02_alexnet": 0.5,
        "03_vgg": 0.7,
        "04_googlenet": 0.25,
        "05_resnet": 0.3,
        "06_convmixer": 0.5,
        "07_compare": 0.3,
    },
    "cpu": {
        "00_data": 0.2,
        "01_lenet": 0.6,
        "02_alexnet": 2.0,
        "03_vgg": 4.8,
        "04_googlenet": 0.9,
        "05_resnet": 1.1,
        "06_convmixer": 5.1,
        "07_compare": 0.3,
    },
}
UNMEASURED_MINUTES = {"quick": 1.0, "cpu": 4.0}


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


def estimate_minutes(mode: str, notebooks: list[Path]) -> float | None:
    """Estimated wall-clock minutes on two CPU cores, or ``None`` for a full run (GPU-dependent)."""
    if mode not in MEASURED_MINUTES:
        return None
    table = MEASURED_MINUTES[mode]
    return sum(table.get(nb.stem, UNMEASURED_MINUTES[mode]) for nb in notebooks)


def _announce(mode: str, notebooks: list[Path], out: Path) -> None:
    from .core.modes import gpu_available
    from .data.source import find_source

    source = find_source()
    data = (
        f"real iChallenge-PM data ({source.path})"
        if source and not source.is_sample
        else "the sample set"
    )
    device = "GPU" if gpu_available() else "CPU"
    print(f"Course run: {len(notebooks)} notebooks, mode {mode}, on {device}, with {data}.")
    print(f"Executed notebooks, HTML and the results table go to {out}")
    estimate = estimate_minutes(mode, notebooks)
    if mode == "cpu":
        print(
            "No GPU: running the CPU budget (the default sample set, a few epochs at 128 px), "
            f"about {estimate:.0f} minutes on 2 cores. "
            "Full epochs on a CPU only with --budget full."
        )
    elif estimate is not None:
        print(f"Estimated time: about {estimate:.0f} minutes on 2 cores.")
    print(flush=True)


@contextmanager
def _stderr_to(log: Path) -> Iterator[None]:
    """Send this process's stderr, and so the kernel's (it inherits it), to ``log`` for a while.

    Paddle's start-up lines, kernel warnings and progress bars go there, so the terminal
    shows one line per notebook.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with open(log, "ab") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def _execute(notebook: Path, out: Path) -> None:
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    executed = out / notebook.name
    papermill.execute_notebook(
        str(notebook),
        str(executed),
        cwd=str(notebook.parent),
        progress_bar=False,
        log_output=False,
        request_save_on_cell_execute=False,
    )
    body, _ = HTMLExporter().from_notebook_node(nbformat.read(executed, as_version=4))
    (out / "html").mkdir(exist_ok=True)
    (out / "html" / f"{notebook.stem}.html").write_text(body, encoding="utf-8")


def _failure(notebook: Path, exc: Exception) -> str:
    cell = getattr(exc, "exec_count", None)
    ename, evalue = getattr(exc, "ename", type(exc).__name__), getattr(exc, "evalue", str(exc))
    where = f", cell [{cell}]" if cell is not None else ""
    return f"FAILED {notebook.name}{where}: {ename}: {evalue}"


def run_course(mode: str, out: Path, notebooks: list[Path] | None = None) -> int:
    """Execute ``notebooks`` (default: all, in order) in ``mode``; return a process exit code."""
    notebooks = notebooks or sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        print(f"No notebooks found in {NOTEBOOK_DIR}.")
        return 1
    (out / "logs").mkdir(parents=True, exist_ok=True)
    for noisy in (
        "papermill",
        "traitlets",
        "nbconvert",
    ):  # INFO lines per cell, HTML alt-text notes
        logging.getLogger(noisy).setLevel(logging.ERROR)
    os.environ.pop(ENV_QUICK, None)
    if mode == "quick":
        os.environ[ENV_QUICK] = "1"
    else:
        os.environ[ENV_BUDGET] = mode
    os.environ[ENV_RUNS] = str(out / "runs")  # kernels inherit these
    _announce(mode, notebooks, out)
    started = time.perf_counter()
    for i, notebook in enumerate(notebooks, 1):
        t0 = time.perf_counter()
        print(f"[{i}/{len(notebooks)}] {notebook.name} …", end=" ", flush=True)
        log = out / "logs" / f"{notebook.stem}.log"
        try:
            with _stderr_to(log):
                _execute(notebook, out)
        except Exception as exc:  # papermill's PapermillExecutionError carries the cell's error
            print(f"failed after {_minutes(time.perf_counter() - t0)}")
            print(_failure(notebook, exc))
            print(f"The executed copy up to the failure is {out / notebook.name}; its log is {log}")
            return 1
        print(f"done in {_minutes(time.perf_counter() - t0)}", flush=True)
    _write_summary(out)
    print(f"Course finished in {_minutes(time.perf_counter() - started)}; outputs in {out}")
    return 0


def _write_summary(out: Path) -> None:
    from .engine.results import load_results

    table = load_results(out / "runs")
    if table.empty:
        print("No training results were written.")
        return
    table.to_csv(out / "results.csv", index=False)
    print(f"\nResults (from each run's results JSON; also in {out / 'results.csv'}):")
    print(table.to_string(index=False))
