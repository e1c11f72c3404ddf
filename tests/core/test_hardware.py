"""fundus_utils.core.hardware: a GPU that works (not just one that is seen), usable CPU cores."""

from __future__ import annotations

from fundus_utils.core import hardware

import paddle
import pytest


def test_the_cpu_build_is_no_gpu():
    status = hardware.probe_gpu()
    assert not status.works and "CPU build" in status.reason
    assert status.describe().startswith("no usable GPU: this Paddle")


def test_a_gpu_whose_first_convolution_fails_is_not_used(monkeypatch):
    # PyPI's paddlepaddle-gpu 2.6.2 without a local CUDA: the device is counted, then fails.
    monkeypatch.setattr(paddle.device, "is_compiled_with_cuda", lambda: True)
    monkeypatch.setattr(paddle.device.cuda, "device_count", lambda: 1)
    real_set_device = paddle.set_device

    def set_device(device):
        if device.startswith("gpu"):
            raise OSError("libcudnn.so.8: cannot open shared object file")
        return real_set_device(device)

    monkeypatch.setattr(paddle, "set_device", set_device)
    status = hardware.probe_gpu()
    assert not status.works and status.device_count == 1
    assert "test convolution failed" in status.reason and "libcudnn.so.8" in status.reason
    assert "\n" not in status.reason  # one line
    assert paddle.device.get_device() == "cpu"  # the device is restored


def test_a_gpu_build_that_sees_no_gpu(monkeypatch):
    monkeypatch.setattr(paddle.device, "is_compiled_with_cuda", lambda: True)
    monkeypatch.setattr(paddle.device.cuda, "device_count", lambda: 0)
    assert "sees no GPU" in hardware.probe_gpu().reason


@pytest.mark.parametrize(
    ("affinity", "cpu_max", "expected"),
    [
        (range(8), None, 8),
        (range(8), "200000 100000", 2),  # a container limited to 2 CPUs on an 8-core host
        (range(8), "max 100000", 8),
        (range(2), "400000 100000", 2),  # the affinity mask is the tighter limit
        (range(4), "50000 100000", 1),  # half a CPU still gets one worker
    ],
)
def test_usable_cpu_count(monkeypatch, tmp_path, affinity, cpu_max, expected):
    monkeypatch.setattr(hardware.os, "sched_getaffinity", lambda pid: set(affinity), raising=False)
    cpu_max_file = tmp_path / "cpu.max"
    if cpu_max is not None:
        cpu_max_file.write_text(cpu_max + "\n", encoding="utf-8")
    monkeypatch.setattr(hardware, "CGROUP_CPU_MAX", cpu_max_file)
    monkeypatch.setattr(hardware, "CGROUP_V1_QUOTA", tmp_path / "absent")
    assert hardware.usable_cpu_count() == expected


def test_distributed_training_is_unavailable_on_windows_only():
    assert "unsupported on Windows" in hardware.distributed_unavailable("win32")
    assert hardware.distributed_unavailable("linux") is None
    assert hardware.distributed_unavailable("darwin") is None
