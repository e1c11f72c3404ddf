"""Run modes and the default knobs of every architecture notebook.

* ``quick`` — ``FUNDUS_QUICK=1`` (CI and the README's test command): the default sample
  set, small images, one or two epochs; the same code as the CPU budget.
* ``cpu`` — no GPU and no explicit request (or ``FUNDUS_BUDGET=cpu``): a 400/400 sample
  set, 64–96 px, a few epochs, and a BatchNorm (or narrower) variant where the real network
  does not learn that fast, so the whole course fits in about 25 minutes on two cores.
* ``full`` — a GPU is present (or ``FUNDUS_BUDGET=full``): 224 px, epoch counts in line
  with the published runs, on the real dataset if found, else the full 400/400 sample mirror.

Notebooks read these in their cell tagged ``parameters``; papermill can override any of them.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

from .config import ENV_BUDGET, ENV_QUICK, IMAGE_SIZE

__all__ = ["MODES", "RunSettings", "run_mode", "run_settings", "gpu_available"]

MODES = ("quick", "cpu", "full")


@dataclass(frozen=True)
class _Recipe:
    epochs: int
    batch_size: int
    learning_rate: float
    image_size: int


# Per architecture and mode. The CPU budget's recipes were measured on the 2-core machine with
# three seeds each on the 400/400 sample (issue 9 of the course's tracker; numbers in 07_compare);
# quick mode runs the same code for one or two epochs; full mode follows the published runs.
_RECIPES = {
    "lenet": {
        "quick": _Recipe(2, 16, 1e-3, 64),
        "cpu": _Recipe(10, 16, 1e-3, 96),
        "full": _Recipe(20, 16, 1e-3, IMAGE_SIZE),
    },
    "alexnet": {
        "quick": _Recipe(2, 16, 3e-4, 64),
        "cpu": _Recipe(20, 32, 3e-4, 64),
        "full": _Recipe(20, 16, 1e-4, IMAGE_SIZE),
    },
    "vgg16": {
        "quick": _Recipe(1, 16, 3e-4, 64),
        "cpu": _Recipe(8, 32, 3e-4, 96),
        "full": _Recipe(15, 16, 1e-4, IMAGE_SIZE),
    },
    "googlenet": {
        "quick": _Recipe(2, 16, 1e-3, 64),
        "cpu": _Recipe(6, 32, 1e-3, 96),
        "full": _Recipe(20, 16, 1e-3, IMAGE_SIZE),
    },
    "resnet18": {
        "quick": _Recipe(2, 16, 1e-3, 64),
        "cpu": _Recipe(6, 32, 1e-3, 96),
        "full": _Recipe(20, 16, 1e-3, IMAGE_SIZE),
    },
    "resnet50": {
        "quick": _Recipe(1, 16, 1e-3, 64),
        "cpu": _Recipe(1, 32, 1e-3, 64),
        "full": _Recipe(20, 16, 1e-3, IMAGE_SIZE),
    },
    "convmixer": {
        "quick": _Recipe(2, 16, 1e-3, 64),
        "cpu": _Recipe(40, 32, 1e-3, 96),
        "full": _Recipe(30, 16, 1e-3, IMAGE_SIZE),
    },
}
# What quick and CPU runs train where the real architecture does not learn within a CPU budget:
# (name, keyword arguments of the notebook's model builder). Full mode trains the real one, and
# every notebook builds, walks and asserts the real architecture whatever the mode.
_VARIANTS = {
    "alexnet": ("AlexNet-BN, fc 512", {"batch_norm": True, "hidden": 512}),
    "vgg16": ("VGG-16-BN, 1/4 width, fc 512", {"width": 0.25, "batch_norm": True, "hidden": 512}),
    "googlenet": ("GoogLeNet-BN", {"batch_norm": True}),
    "convmixer": ("ConvMixer-128/4, patch 8", {"hidden": 128, "depth": 4, "patch": 8}),
}
_NAMES = {
    "lenet": "LeNet (repaired)",
    "alexnet": "AlexNet",
    "vgg16": "VGG-16",
    "googlenet": "GoogLeNet",
    "resnet18": "ResNet-18",
    "resnet50": "ResNet-50",
    "convmixer": "ConvMixer-256/8",
}
_SAMPLE = {"quick": "default", "cpu": "cpu", "full": "full"}


def run_mode() -> str:
    """``quick`` if FUNDUS_QUICK=1; else FUNDUS_BUDGET (cpu/full) if set; else ``full`` on a GPU,
    ``cpu`` without.

    Not used in the notebooks; used by fu.run_settings.
    """
    if os.environ.get(ENV_QUICK) == "1":
        return "quick"
    budget = os.environ.get(ENV_BUDGET, "").strip().lower()
    if budget:
        if budget not in ("cpu", "full"):
            raise ValueError(f"{ENV_BUDGET}: expected 'cpu' or 'full', found {budget!r}")
        return budget
    return "full" if gpu_available() else "cpu"


def gpu_available() -> bool:
    """True when this Paddle build has CUDA and at least one GPU is visible.

    Taught in 07_compare, §5.
    """
    import paddle  # only here: ``import fundus_utils`` and the run modes stay Paddle-free otherwise

    return bool(paddle.device.is_compiled_with_cuda()) and paddle.device.cuda.device_count() > 0


@dataclass(frozen=True)
class RunSettings:
    """The knobs of one training run.

    Not used in the notebooks; fu.run_settings returns one (``SETTINGS``).
    """

    arch: str
    mode: str
    epochs: int
    batch_size: int
    image_size: int
    learning_rate: float
    sample: str  # which sample set to fall back to: "default", "cpu" or "full"
    model_name: str  # what is trained, e.g. "VGG-16-BN, 1/4 width, fc 512"
    model_options: dict = field(default_factory=dict)  # the builder's keywords for that model

    def describe(self) -> str:
        return (
            f"Mode: {self.mode} — trains {self.model_name}: {self.epochs} epoch(s), batch "
            f"{self.batch_size}, {self.image_size}x{self.image_size} px, learning rate "
            f"{self.learning_rate:g}"
        )

    def as_dict(self) -> dict:
        return asdict(self)


def run_settings(arch: str, mode: str | None = None) -> RunSettings:
    """Default settings of ``arch`` (lenet, alexnet, vgg16, googlenet, resnet18, resnet50,
    convmixer).

    Taught in 00_data, setup cells (before §1), and 03_vgg, §6.
    """
    mode = mode or run_mode()
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {MODES}, found {mode!r}")
    if arch not in _RECIPES:
        raise ValueError(f"arch: expected one of {sorted(_RECIPES)}, found {arch!r}")
    recipe = _RECIPES[arch][mode]
    name, options = (
        (_NAMES[arch], {}) if mode == "full" else _VARIANTS.get(arch, (_NAMES[arch], {}))
    )
    return RunSettings(
        arch,
        mode,
        recipe.epochs,
        recipe.batch_size,
        recipe.image_size,
        recipe.learning_rate,
        _SAMPLE[mode],
        name,
        dict(options),
    )
