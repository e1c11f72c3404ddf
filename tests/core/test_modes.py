"""fundus_utils.core.modes: the run mode from the environment, and each mode's settings."""

from __future__ import annotations

from fundus_utils.core import hardware, modes
from fundus_utils.core.config import ENV_BUDGET, ENV_QUICK
from fundus_utils.core.modes import MODES, run_mode, run_settings

import pytest


def test_run_mode_from_environment(monkeypatch):
    monkeypatch.setenv(ENV_QUICK, "1")
    monkeypatch.setenv(ENV_BUDGET, "full")
    assert run_mode() == "quick"  # quick wins: the tests must stay quick
    monkeypatch.delenv(ENV_QUICK)
    assert run_mode() == "full"
    monkeypatch.setenv(ENV_BUDGET, "cpu")
    assert run_mode() == "cpu"
    monkeypatch.setenv(ENV_BUDGET, "huge")
    with pytest.raises(ValueError, match="FUNDUS_BUDGET: expected 'cpu' or 'full', found 'huge'"):
        run_mode()
    monkeypatch.delenv(ENV_BUDGET)
    assert run_mode() == "cpu"  # this machine has no GPU


def test_run_settings_per_mode():
    quick, cpu, full = (run_settings("vgg16", m) for m in MODES)
    assert (quick.image_size, cpu.image_size, full.image_size) == (64, 96, 224)
    assert quick.epochs <= cpu.epochs and full.epochs == 5  # full: the published 5 epochs
    assert (quick.sample, cpu.sample, full.sample) == ("default", "cpu", "full")
    assert "1 epoch(s)" in quick.describe() and "64x64 px" in quick.describe()


def test_quick_and_cpu_train_the_same_variant_full_the_real_network():
    quick, cpu, full = (run_settings("vgg16", m) for m in MODES)
    assert quick.model_name == cpu.model_name == "VGG-16-BN, 1/4 width, fc 512"
    assert (
        quick.model_options
        == cpu.model_options
        == {
            "width": 0.25,
            "batch_norm": True,
            "hidden": 512,
        }
    )
    assert (full.model_name, full.model_options) == ("VGG-16", {})
    assert "trains VGG-16-BN, 1/4 width" in cpu.describe()
    resnet = run_settings("resnet18", "cpu")
    assert (resnet.model_name, resnet.model_options) == ("ResNet-18", {})
    cpu.model_options["width"] = 1.0  # a copy: the table itself is not changed
    assert run_settings("vgg16", "cpu").model_options["width"] == 0.25
    with pytest.raises(ValueError, match="arch: expected one of"):
        run_settings("transformer", "quick")


def _gpu(memory_gib: float) -> hardware.GpuStatus:
    return hardware.GpuStatus(
        True,
        "simulated",
        name="GPU",
        total_memory=int(memory_gib * hardware.GIB),
        capability=(8, 6),
        device_count=1,
    )


def test_a_working_gpu_selects_full_mode_a_broken_one_the_cpu_budget(monkeypatch):
    monkeypatch.setattr(modes, "gpu_status", lambda: _gpu(16))
    assert modes.mode_and_reason()[0] == "full"
    broken = hardware.GpuStatus(False, "a test convolution failed on the GPU, ...")
    monkeypatch.setattr(modes, "gpu_status", lambda: broken)
    mode, reason = modes.mode_and_reason()
    assert mode == "cpu" and "test convolution failed" in reason


def test_full_mode_lowers_the_batch_to_fit_the_gpu(monkeypatch, capsys):
    monkeypatch.setattr(modes, "gpu_status", lambda: _gpu(16))
    assert run_settings("vgg16", "full").batch_size == modes._RECIPES["vgg16"]["full"].batch_size
    assert capsys.readouterr().out == ""
    monkeypatch.setattr(modes, "gpu_status", lambda: _gpu(4))
    small = run_settings("vgg16", "full")
    assert small.mode == "full" and small.batch_size < modes._RECIPES["vgg16"]["full"].batch_size
    assert modes.full_memory_need("vgg16", small.batch_size) <= 0.9 * 4 * hardware.GIB
    assert f"batch {small.batch_size} instead" in capsys.readouterr().out


def test_full_mode_falls_back_to_the_cpu_budget_when_nothing_fits(monkeypatch, capsys):
    monkeypatch.setattr(modes, "gpu_status", lambda: _gpu(1))
    settings = run_settings("vgg16", "full")
    assert settings.mode == "cpu" and settings.model_name.startswith("VGG-16-BN")
    assert "running the CPU budget instead" in capsys.readouterr().out


def test_memory_estimate_grows_with_the_batch_and_the_optimizer_state():
    assert modes.full_memory_need("resnet50", 20) > modes.full_memory_need("resnet50", 10)
    weights_only = modes.full_memory_need("vgg16", 0) - modes.CUDA_CONTEXT_BYTES
    assert weights_only == 134_264_641 * 4 * 3  # weights, gradients, one Momentum slot


def test_full_recipes_name_their_optimizer():
    vgg = run_settings("vgg16", "full")
    assert (vgg.momentum, vgg.augment, vgg.batch_size) == (0.9, False, 10)
    assert "learning rate 0.001, Momentum 0.9, no augmentation" in vgg.describe()
    assert vgg.optimizer_options() == {"momentum": 0.9, "weight_decay": None}
    assert run_settings("vgg16", "cpu").optimizer_name == "Adam"
