"""Run the whole course: every notebook top to bottom, executed copies + HTML + a results table.

``python -m fundus_utils course [--quick | --budget cpu|full] [--out DIR]`` (the README's
main command runs this after setting up). Sources in ``notebooks/`` are never written.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
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
    "cpu": {  # bash scripts/course.sh from a fresh clone, two lessons at a time (issue 9's note)
        "00_data": 0.55,
        "01_lenet": 0.9,
        "02_alexnet": 7.25,
        "03_vgg": 3.25,
        "04_googlenet": 3.5,
        "05_resnet": 6.3,
        "06_convmixer": 11.15,
        "07_compare": 0.25,
    },
}
UNMEASURED_MINUTES = {"quick": 1.0, "cpu": 4.0}
MAX_JOBS = 4  # notebooks at once on a CPU-only machine (each holds its data and model in memory)


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


def estimate_minutes(mode: str, notebooks: list[Path], jobs: int = 1) -> float | None:
    """Estimated wall-clock minutes on two CPU cores, ``jobs`` notebooks at a time within a stage,
    or ``None`` for a full run (GPU-dependent)."""
    if mode not in MEASURED_MINUTES:
        return None
    table = MEASURED_MINUTES[mode]
    total = 0.0
    for stage in stages(notebooks):
        finish = [0.0] * max(1, jobs)  # list scheduling, in the order the notebooks start
        for nb in stage:
            slot = finish.index(min(finish))
            finish[slot] += table.get(nb.stem, UNMEASURED_MINUTES[mode])
        total += max(finish)
    return total


def _announce(mode: str, notebooks: list[Path], out: Path, jobs: int) -> None:
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
    estimate = estimate_minutes(mode, notebooks, jobs)
    at_once = f"{jobs} notebooks at a time" if jobs > 1 else "one notebook at a time"
    if mode == "cpu":
        print(
            "No GPU: running the CPU budget (a 400/400 sample set, small images, a few epochs), "
            f"{at_once}: about {estimate:.0f} minutes on 2 cores. "
            "Full epochs on a CPU only with --budget full."
        )
    elif estimate is not None:
        print(f"Estimated time, {at_once}: about {estimate:.0f} minutes on 2 cores.")
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


def _execute(notebook: Path, out: Path, parameters: dict | None = None) -> None:
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    executed = out / notebook.name
    papermill.execute_notebook(
        str(notebook),
        str(executed),
        cwd=str(notebook.parent),
        parameters=parameters or {},
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


def _run_one(
    notebook: Path, out: Path, environ: dict[str, str], parameters: dict | None = None
) -> tuple[float, str | None]:
    """Execute one notebook (in a worker process); return (seconds, failure message or None)."""
    os.environ.update(environ)
    for noisy in (
        "papermill",
        "traitlets",
        "nbconvert",
    ):  # INFO lines per cell, HTML alt-text notes
        logging.getLogger(noisy).setLevel(logging.ERROR)
    t0 = time.perf_counter()
    try:
        with _stderr_to(out / "logs" / f"{notebook.stem}.log"):
            _execute(notebook, out, parameters)
    except Exception as exc:  # papermill's PapermillExecutionError carries the cell's error
        return time.perf_counter() - t0, _failure(notebook, exc)
    return time.perf_counter() - t0, None


def stages(notebooks: list[Path]) -> list[list[Path]]:
    """The data notebook first, the comparison last, the lessons between them in any order.

    The lessons read nothing of each other (07_compare reads them all), so they can run at the
    same time. Within a stage the longest measured ones start first.
    """
    first = [nb for nb in notebooks if nb.stem.startswith("00_")]
    last = [nb for nb in notebooks if nb.stem.startswith("07_")]
    middle = [nb for nb in notebooks if nb not in first and nb not in last]
    middle.sort(key=lambda nb: -MEASURED_MINUTES["cpu"].get(nb.stem, 0.0))
    return [stage for stage in (first, middle, last) if stage]


def default_jobs(mode: str) -> int:
    """Notebooks run at once: one per CPU core without a GPU, since Paddle's CPU kernels use
    one thread per process (``OMP_NUM_THREADS=1`` unless set); one at a time on a GPU."""
    if mode == "full":
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_JOBS))


def _report_failure(notebook: Path, seconds: float, failure: str, out: Path, running: dict) -> int:
    print(f"{notebook.name} failed after {_minutes(seconds)}: {failure}")
    log = out / "logs" / f"{notebook.stem}.log"
    print(f"The executed copy up to the failure is {out / notebook.name}; its log is {log}")
    if running:
        print("Waiting for " + ", ".join(nb.name for nb in running.values()) + " to finish …")
    return 1


def run_course(
    mode: str,
    out: Path,
    notebooks: list[Path] | None = None,
    jobs: int | None = None,
    seed: int | None = None,
) -> int:
    """Execute ``notebooks`` (default: all) in ``mode``, ``jobs`` at a time within a stage
    (:func:`stages`); ``seed`` sets every notebook's ``SEED`` parameter (papermill). Return a
    process exit code."""
    notebooks = notebooks or sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        print(f"No notebooks found in {NOTEBOOK_DIR}.")
        return 1
    jobs = jobs or default_jobs(mode)
    out = Path(out).resolve()  # the kernels run in notebooks/: a relative path would move there
    (out / "logs").mkdir(parents=True, exist_ok=True)
    os.environ.pop(ENV_QUICK, None)
    if mode == "quick":
        os.environ[ENV_QUICK] = "1"
    else:
        os.environ[ENV_BUDGET] = mode
    os.environ[ENV_RUNS] = str(out / "runs")  # kernels inherit these
    environ = {k: os.environ[k] for k in (ENV_QUICK, ENV_BUDGET, ENV_RUNS) if k in os.environ}
    parameters = {} if seed is None else {"SEED": int(seed)}
    _announce(mode, notebooks, out, jobs)
    started = time.perf_counter()
    done = 0
    context = multiprocessing.get_context(
        "spawn"
    )  # a fresh interpreter per worker, no forked Paddle
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        for stage in stages(notebooks):
            if len(stage) > 1 and jobs > 1:
                names = ", ".join(nb.stem for nb in stage)
                print(f"Running {names}: {min(jobs, len(stage))} at a time.", flush=True)
            waiting, running = list(stage), {}
            while waiting or running:
                while waiting and len(running) < jobs:  # submit no more than can start now
                    notebook = waiting.pop(0)
                    job = pool.submit(_run_one, notebook, out, environ, parameters)
                    running[job] = notebook
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    notebook = running.pop(future)
                    seconds, failure = future.result()
                    done += 1
                    if failure:
                        print(f"[{done}/{len(notebooks)}] {notebook.name} failed")
                        return _report_failure(notebook, seconds, failure, out, running)
                    elapsed = _minutes(time.perf_counter() - started)
                    print(
                        f"[{done}/{len(notebooks)}] {notebook.name} … done in {_minutes(seconds)} "
                        f"({elapsed} since the start)",
                        flush=True,
                    )
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
