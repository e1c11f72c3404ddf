"""Run modes and the default knobs of every architecture notebook.

* ``quick`` — ``FUNDUS_QUICK=1`` (CI and the README's test command): the default sample
  set, small images, one or two epochs; the same code path as a full run.
* ``cpu`` — no GPU and no explicit request (or ``FUNDUS_BUDGET=cpu``): the default
  sample set at 128 px and a few epochs, so the whole course fits in about half an hour
  on two cores.
* ``full`` — a GPU is present (or ``FUNDUS_BUDGET=full``): 224 px, epoch counts in line
  with the published runs, on the real dataset if found, else the full 400/400 sample mirror.

Notebooks read these in their cell tagged ``parameters``; papermill can override any of them.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

from .config import ENV_BUDGET, ENV_QUICK, IMAGE_SIZE

__all__ = ["MODES", "RunSettings", "run_mode", "run_settings", "gpu_available"]

MODES = ("quick", "cpu", "full")

# (epochs, batch size, learning rate) per architecture and mode; image size and subset per mode.
_EPOCHS_BATCH_LR = {
    "lenet": {"quick": (2, 16, 1e-3), "cpu": (12, 16, 1e-3), "full": (20, 16, 1e-3)},
    "alexnet": {"quick": (2, 16, 1e-4), "cpu": (10, 16, 1e-4), "full": (20, 16, 1e-4)},
    "vgg16": {"quick": (1, 8, 1e-4), "cpu": (6, 8, 1e-4), "full": (15, 16, 1e-4)},
    "googlenet": {"quick": (2, 16, 1e-3), "cpu": (8, 16, 1e-3), "full": (20, 16, 1e-3)},
    "resnet18": {"quick": (2, 16, 1e-3), "cpu": (8, 16, 1e-3), "full": (20, 16, 1e-3)},
    "resnet50": {"quick": (1, 16, 1e-3), "cpu": (6, 16, 1e-3), "full": (20, 16, 1e-3)},
    "convmixer": {"quick": (2, 16, 1e-3), "cpu": (10, 16, 1e-3), "full": (30, 16, 1e-3)},
}
_IMAGE_SIZE = {"quick": 64, "cpu": 128, "full": IMAGE_SIZE}
_SAMPLE = {"quick": "default", "cpu": "default", "full": "full"}


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
    sample: str  # which sample set to fall back to: "default" or "full"

    def describe(self) -> str:
        return (
            f"Mode: {self.mode} — {self.epochs} epoch(s), batch {self.batch_size}, "
            f"{self.image_size}x{self.image_size} px, learning rate {self.learning_rate:g}"
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
    if arch not in _EPOCHS_BATCH_LR:
        raise ValueError(f"arch: expected one of {sorted(_EPOCHS_BATCH_LR)}, found {arch!r}")
    epochs, batch, lr = _EPOCHS_BATCH_LR[arch][mode]
    return RunSettings(arch, mode, epochs, batch, _IMAGE_SIZE[mode], lr, _SAMPLE[mode])
