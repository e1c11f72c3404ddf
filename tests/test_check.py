"""python -m fundus_utils check: the pre-class report, on this CPU and on a simulated GPU."""

from __future__ import annotations

import io

from fundus_utils import check
from fundus_utils.core import hardware, modes

import pytest


def test_check_on_this_cpu_machine(capsys):
    out = io.StringIO()
    assert check.run_check(out=out) == 0
    text = out.getvalue()
    assert "Mode: cpu (no usable GPU: this Paddle" in text
    assert "Data: iChallenge-PM not found" in text  # the tests hide every real source
    assert "Course time: about " in text and "cpu mode, " in text
    for notebook in modes.NOTEBOOK_ARCHS:
        assert f"  {notebook}" in text
    assert "one-step GPU measurement is skipped" in text


def test_check_on_a_small_gpu_says_what_each_notebook_does(monkeypatch):
    small = hardware.GpuStatus(
        True,
        "simulated",
        name="GTX 1650",
        total_memory=4 * hardware.GIB,
        capability=(7, 5),
        device_count=1,
    )
    monkeypatch.setattr(check, "gpu_status", lambda: small)
    monkeypatch.setattr(modes, "gpu_status", lambda: small)
    monkeypatch.setattr(check, "measure_steps", lambda: iter([("lenet", 16, 0.05, 2**30)]))
    monkeypatch.setattr(
        check.paddle if hasattr(check, "paddle") else __import__("paddle"),
        "set_device",
        lambda device: None,
    )
    out = io.StringIO()
    check.run_check(out=out)
    text = out.getvalue()
    assert "Mode: full (GPU GTX 1650, 4.0 GiB, compute capability 7.5" in text
    assert "03_vgg" in text and "batch 5 instead" in text  # 4.1 GiB at batch 10
    assert "02_alexnet      1.4 GiB  (alexnet, batch 10)  -> fits" in text
    assert "lenet      batch 16:   0.05 s per step, peak 1.00 GiB allocated" in text


@pytest.mark.parametrize("arch", ["lenet", "resnet18"])
def test_measure_steps_runs_the_notebooks_network(arch):
    ((name, batch, seconds, peak),) = list(check.measure_steps([arch], image_size=32, batch_size=2))
    assert (name, batch, peak) == (arch, 2, None) and seconds > 0
