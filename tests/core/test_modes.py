"""fundus_utils.core.modes: the run mode from the environment, and each mode's settings."""

from __future__ import annotations

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
    assert quick.epochs <= cpu.epochs <= full.epochs
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
