"""The GPU-only branches of the engine, driven without a GPU.

No GPU is available where the course is developed and tested, so these tests stand in for one:
the GPU status (fundus_utils.core.hardware), ``paddle.set_device``, the device name and compute
capability, ``paddle.amp.auto_cast`` and ``paddle.amp.GradScaler`` are replaced by recording
fakes, and the arithmetic itself runs on the CPU. They check what ``fit``, ``evaluate`` and
``pick_device`` *do* on a GPU: which device they set, when float16 autocast and the loss scaler
are used, and what the results file records.
"""

from __future__ import annotations

import contextlib
import json

import fundus_utils as fu
from fundus_utils.core import hardware, modes
from fundus_utils.engine import runtime

import paddle
import pytest
from fit_helpers import loaders, seeded_model

V100 = hardware.GpuStatus(
    True,
    "simulated",
    name="Tesla V100",
    total_memory=16 * hardware.GIB,
    capability=(7, 0),
    device_count=1,
)


class FakeScaler:
    """Records what fit asks of paddle.amp.GradScaler; steps the optimizer like the real one."""

    made: list[FakeScaler] = []

    def __init__(self, init_loss_scaling: float = 1.0):
        self.init_loss_scaling, self.calls = init_loss_scaling, []
        FakeScaler.made.append(self)

    def scale(self, loss):
        self.calls.append("scale")
        return loss

    def step(self, optimizer):
        self.calls.append("step")
        optimizer.step()

    def update(self):
        self.calls.append("update")

    def state_dict(self):
        return {}


@pytest.fixture
def simulated_gpu(monkeypatch):
    """A working V100 as far as the package can tell; returns the list of autocast requests."""
    autocasts, devices = [], []
    real_set_device = paddle.set_device

    @contextlib.contextmanager
    def auto_cast(enable=True, **kwargs):
        autocasts.append(bool(enable))
        yield

    def set_device(device):
        devices.append(device)
        return real_set_device("cpu")

    FakeScaler.made.clear()
    monkeypatch.setattr(modes, "gpu_status", lambda: V100)
    monkeypatch.setattr(runtime, "gpu_available", lambda: True)
    monkeypatch.setattr(paddle, "set_device", set_device)
    monkeypatch.setattr(paddle.amp, "auto_cast", auto_cast)
    monkeypatch.setattr(paddle.amp, "GradScaler", FakeScaler)
    monkeypatch.setattr(paddle.device.cuda, "get_device_name", lambda index=0: "Tesla V100")
    monkeypatch.setattr(paddle.device.cuda, "get_device_capability", lambda index=0: (7, 0))
    monkeypatch.setitem(runtime._state, "announced", False)
    return {"autocasts": autocasts, "devices": devices}


def test_pick_device_chooses_and_announces_the_gpu(simulated_gpu, capsys):
    assert fu.pick_device() == "gpu:0"
    assert simulated_gpu["devices"] == ["gpu:0"]
    assert capsys.readouterr().out.startswith("Device: gpu:0 (Paddle ")
    assert runtime.device_description("gpu:0") == "gpu:0 (Tesla V100)"


def test_fit_on_a_gpu_trains_in_float32_by_default(simulated_gpu, tmp_path):
    results = tmp_path / "results.json"
    fu.fit(
        seeded_model(),
        *loaders(),
        epochs=1,
        verbose=False,
        reporting=fu.Reporting(results_path=results),
    )
    assert simulated_gpu["autocasts"] and not any(simulated_gpu["autocasts"])
    assert FakeScaler.made == []  # no loss scaling without float16
    written = json.loads(results.read_text(encoding="utf-8"))
    assert (written["amp"], written["device"]) == (False, "gpu:0 (Tesla V100)")


def test_fit_with_amp_on_a_gpu_autocasts_and_scales_every_step(simulated_gpu, tmp_path):
    train_loader, valid_loader = loaders()
    results = tmp_path / "results.json"
    fu.fit(
        seeded_model(),
        train_loader,
        valid_loader,
        epochs=1,
        verbose=False,
        optimization=fu.Optimization(amp=True),
        reporting=fu.Reporting(results_path=results),
    )
    steps = len(train_loader)
    training, evaluation = simulated_gpu["autocasts"][:steps], simulated_gpu["autocasts"][steps:]
    assert all(training) and evaluation and all(evaluation)  # evaluate(amp=True) autocasts too
    (scaler,) = FakeScaler.made
    assert scaler.init_loss_scaling == 2.0**15
    assert scaler.calls == ["scale", "step", "update"] * steps
    assert json.loads(results.read_text(encoding="utf-8"))["amp"] is True


def test_amp_is_switched_off_below_compute_capability_7(simulated_gpu, monkeypatch, capsys):
    monkeypatch.setattr(paddle.device.cuda, "get_device_capability", lambda index=0: (6, 1))
    fu.fit(seeded_model(), *loaders(), epochs=1, optimization=fu.Optimization(amp=True))
    assert "compute capability is 6.1, below the 7.0" in capsys.readouterr().out
    assert not any(simulated_gpu["autocasts"]) and FakeScaler.made == []


def test_evaluate_with_amp_autocasts(simulated_gpu):
    result = fu.evaluate(seeded_model(), loaders()[1], amp=True)
    assert simulated_gpu["autocasts"] and all(simulated_gpu["autocasts"])
    assert 0.0 <= result["accuracy"] <= 1.0


def test_release_gpu_memory_drops_networks_on_a_gpu_only(monkeypatch, capsys):
    namespace = {"model": seeded_model(), "images": paddle.ones([2]), "SEED": 0, "_hidden": None}
    assert fu.release_gpu_memory(namespace) == 0 and "model" in namespace  # CPU: nothing to do
    emptied = []
    monkeypatch.setattr(paddle.device, "get_device", lambda: "gpu:0")
    monkeypatch.setattr(paddle.device.cuda, "empty_cache", lambda: emptied.append(True))
    monkeypatch.setattr(paddle.device.cuda, "memory_allocated", lambda: 3 * 2**20)
    assert fu.release_gpu_memory(namespace) == 2
    assert set(namespace) == {"SEED", "_hidden"} and emptied == [True]
    assert "Released 2 network(s)" in capsys.readouterr().out
