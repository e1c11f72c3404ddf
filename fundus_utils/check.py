"""The pre-class check for teachers: ``python -m fundus_utils check``.

In under a minute on any machine it says which mode the course would run in and why, the Paddle
build and device, the GPU's memory against each notebook's estimated need, where the data was
found, and the estimated course time. On a GPU (or with ``--steps``) it also runs one training
step of every full-mode network at its full batch size and reports the time per step and the
peak memory: the first GPU measurement a teacher can send back to the course's maintainers.
"""

from __future__ import annotations

import resource
import sys
import time

from .core.hardware import GIB, gpu_status, usable_cpu_count
from .core.modes import (
    _RECIPES,
    NOTEBOOK_ARCHS,
    fitting_batch,
    full_memory_need,
    mode_and_reason,
)

__all__: list[str] = []  # internal: the check command


def _data_line() -> str:
    from .core.errors import FundusDataError
    from .data.source import find_source

    try:
        source = find_source()
    except FundusDataError as error:
        return f"Data: {error}"
    if source is None:
        return (
            "Data: iChallenge-PM not found (FUNDUS_DATA, AI Studio's mounts, data/): the course "
            "generates the sample set (clearly labelled; sample results, not iChallenge-PM ones)"
        )
    kind = "the sample set" if source.is_sample else "real iChallenge-PM data"
    return f"Data: {kind} at {source.path} (as {source.layout}, found by {source.found_by})"


def _memory_lines(total_memory: int | None) -> list[str]:
    lines = ["GPU memory each notebook's full mode needs (estimate: weights, gradients, optimizer"]
    lines.append("state, activations of the batch, CUDA's context; its largest run):")
    for notebook, archs in NOTEBOOK_ARCHS.items():
        arch = max(archs, key=full_memory_need)
        need, batch = full_memory_need(arch), _RECIPES[arch]["full"].batch_size
        line = f"  {notebook:<13} {need / GIB:5.1f} GiB  ({arch}, batch {batch})"
        if total_memory:
            fitting = fitting_batch(arch, total_memory)
            verdict = (
                "fits"
                if fitting == batch
                else f"batch {fitting} instead"
                if fitting
                else "too large: that notebook runs the CPU budget"
            )
            line += f"  -> {verdict}"
        lines.append(line)
    return lines


def _time_line(mode: str) -> str:
    from .course import NOTEBOOK_DIR, course_notebooks, default_jobs, estimate_minutes

    if not NOTEBOOK_DIR.is_dir():
        return "Course time: unknown (no notebooks/ folder beside the package)"
    jobs = default_jobs(mode)
    minutes = estimate_minutes(mode, course_notebooks("en"), jobs)
    if minutes is None:
        return (
            "Course time: not measured for full mode (no GPU was available to the course's "
            "developers); the step times below are the first measurement"
        )
    return f"Course time: about {minutes:.0f} minutes ({mode} mode, {jobs} notebook(s) at a time)"


def measure_steps(archs=None, image_size: int | None = None, batch_size: int | None = None):
    """One training step of each full-mode network on the current device: yields
    (arch, batch, seconds of the step after one warm-up step, peak memory in bytes or None)."""
    import numpy as np
    import paddle
    import paddle.nn.functional as F

    from .inspection import main_output
    from .notebook_code import FULL_NETWORKS, build_network

    on_gpu = paddle.device.get_device().startswith("gpu")
    for arch in archs or FULL_NETWORKS:
        recipe = _RECIPES[arch]["full"]
        size, batch = image_size or recipe.image_size, batch_size or recipe.batch_size
        notebook, expression = FULL_NETWORKS[arch]
        model = build_network(notebook, expression, size)
        model.train()
        optimizer = paddle.optimizer.Momentum(recipe.learning_rate, parameters=model.parameters())
        images = paddle.randn([batch, 3, size, size])
        labels = paddle.to_tensor((np.arange(batch) % 2).reshape(-1, 1), dtype="float32")
        if on_gpu and hasattr(paddle.device.cuda, "reset_max_memory_allocated"):
            paddle.device.cuda.reset_max_memory_allocated()
        seconds = 0.0
        for _ in range(2):  # a warm-up step (allocations, cuDNN's algorithm search), then one
            start = time.perf_counter()
            loss = F.binary_cross_entropy_with_logits(main_output(model(images)), labels)
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
            float(loss)  # waits for the device
            seconds = time.perf_counter() - start
        peak = int(paddle.device.cuda.max_memory_allocated()) if on_gpu else None
        del model, optimizer, images, loss
        if on_gpu:
            paddle.device.cuda.empty_cache()
        yield arch, batch, seconds, peak


def run_check(steps: bool = False, out=sys.stdout) -> int:
    """Print the report; returns 0."""
    import paddle

    started = time.perf_counter()

    def say(line: str = "") -> None:
        print(line, file=out, flush=True)

    say("Course check (python -m fundus_utils check)")
    mode, reason = mode_and_reason()
    status = gpu_status()
    cuda = " with CUDA" if paddle.device.is_compiled_with_cuda() else " (CPU build)"
    say(f"Paddle {paddle.__version__}{cuda}, Python {sys.version.split()[0]}")
    say(f"Device: {'gpu:0, ' + status.describe() if status.works else 'cpu'}")
    if not status.works:
        say(f"GPU: {status.describe()}")
    say(f"CPU cores this process may use: {usable_cpu_count()}")
    say(f"Mode: {mode} ({reason})")
    say(_data_line())
    say(_time_line(mode))
    for line in _memory_lines(status.total_memory if status.works else None):
        say(line)
    if status.works or steps:
        if status.works:
            paddle.set_device("gpu:0")
        say("One training step of each full-mode network at its full batch, 224 px:")
        for arch, batch, seconds, peak in measure_steps():
            process_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
            memory = (
                f"peak {peak / GIB:.2f} GiB allocated"
                if peak is not None
                else f"process peak {process_peak:.1f} GiB (CPU)"
            )
            say(f"  {arch:<10} batch {batch:>2}: {seconds:6.2f} s per step, {memory}")
        say("Please send these lines to the course's maintainers: no GPU was available to them.")
    else:
        say("No GPU: the one-step GPU measurement is skipped (--steps runs it on the CPU).")
    say(f"(check took {time.perf_counter() - started:.0f} s)")
    return 0
