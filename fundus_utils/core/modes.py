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
from dataclasses import asdict, dataclass, field, replace

from .config import ENV_BUDGET, ENV_QUICK, IMAGE_SIZE
from .hardware import GIB, gpu_status

__all__ = [
    "MODES",
    "RunSettings",
    "run_mode",
    "run_settings",
    "gpu_available",
    "full_memory_need",
]

MODES = ("quick", "cpu", "full")


@dataclass(frozen=True)
class _Recipe:
    epochs: int
    batch_size: int
    learning_rate: float
    image_size: int
    momentum: float | None = None  # None: Adam; a number: Momentum SGD with that momentum
    weight_decay: float | None = None
    augment: bool = True


# Per architecture and mode. The CPU budget's recipes were measured on the 2-core machine with
# three seeds each on the 400/400 sample (issue 9 of the course's tracker; numbers in 07_compare);
# quick mode runs the same code for one or two epochs.
#
# Full mode: where the official PaddlePaddle course published a real-data run, its recipe, as
# published (PaddlePaddle/awesome-DeepLearning, junior_class/chapter-3-Computer_Vision/notebook/
# 3-2-CV-Image_Classification.ipynb: 224 px, batch 10, 5 epochs, no augmentation, from scratch;
# final validation accuracy in its stored outputs AlexNet 0.925, VGG-16 0.9475, GoogLeNet 0.8575,
# ResNet-50 0.93). Elsewhere a recipe of ours, with the full-mode rehearsal on the CPU as its
# evidence (benchmarks/full_rehearsal.py, results in benchmarks/results/full_rehearsal.csv).
PUBLISHED = "the official PaddlePaddle course's recipe (see above)"
_RECIPES = {
    "lenet": {  # 01 trains without augmentation in every mode
        "quick": _Recipe(2, 16, 1e-3, 64, augment=False),
        "cpu": _Recipe(10, 16, 1e-3, 96, augment=False),
        # Ours: the repaired LeNet has BatchNorm and learns with Adam at 1e-3 (the published
        # LeNet run is the original network's plateau, which 01 reproduces on purpose).
        "full": _Recipe(20, 16, 1e-3, IMAGE_SIZE, augment=False),
    },
    "alexnet": {
        "quick": _Recipe(2, 16, 3e-4, 64),
        "cpu": _Recipe(20, 32, 3e-4, 64),
        # The published recipe's batch, rate and epochs, but Momentum SGD instead of its Adam:
        # in the rehearsal Adam at 1e-3 gave one constant prediction from the first epoch on
        # (02, section 4.1, shows why), Momentum learned (chosen on the sample's validation set).
        "full": _Recipe(5, 10, 1e-3, IMAGE_SIZE, momentum=0.9, augment=False),
    },
    "vgg16": {
        "quick": _Recipe(1, 16, 3e-4, 64),
        "cpu": _Recipe(8, 32, 3e-4, 96),
        "full": _Recipe(5, 10, 1e-3, IMAGE_SIZE, momentum=0.9, augment=False),  # PUBLISHED
    },
    "googlenet": {
        "quick": _Recipe(2, 16, 1e-3, 64),
        "cpu": _Recipe(6, 32, 1e-3, 96),
        # PUBLISHED (trained there without the auxiliary heads; 04 trains with them)
        "full": _Recipe(5, 10, 1e-3, IMAGE_SIZE, momentum=0.9, weight_decay=1e-3, augment=False),
    },
    "resnet18": {
        "quick": _Recipe(2, 16, 1e-3, 64),
        "cpu": _Recipe(6, 32, 1e-3, 96),
        # Ours (no published ResNet-18 run): the CPU budget's recipe at 224 px.
        "full": _Recipe(10, 16, 1e-3, IMAGE_SIZE),
    },
    "resnet50": {
        "quick": _Recipe(1, 16, 1e-3, 64),
        "cpu": _Recipe(1, 32, 1e-3, 64),
        "full": _Recipe(5, 10, 1e-3, IMAGE_SIZE, momentum=0.9, weight_decay=1e-3, augment=False),
    },
    "convmixer": {
        "quick": _Recipe(2, 16, 1e-3, 64),
        "cpu": _Recipe(40, 32, 1e-3, 96),
        # Ours (no published run on this task): Adam 1e-3 with augmentation, as the CPU budget.
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
    """``quick`` if FUNDUS_QUICK=1; else FUNDUS_BUDGET (cpu/full) if set; else ``full`` on a GPU
    that works (a test convolution ran on it, fu.gpu_status), ``cpu`` without.

    Not used in the notebooks; used by fu.run_settings.
    """
    return mode_and_reason()[0]


def mode_and_reason() -> tuple[str, str]:
    """The run mode and one line saying why (for the check command and the course runner)."""
    if os.environ.get(ENV_QUICK) == "1":
        return "quick", f"{ENV_QUICK}=1 (the tests' quick mode)"
    budget = os.environ.get(ENV_BUDGET, "").strip().lower()
    if budget:
        if budget not in ("cpu", "full"):
            raise ValueError(f"{ENV_BUDGET}: expected 'cpu' or 'full', found {budget!r}")
        return budget, f"{ENV_BUDGET}={budget}"
    status = gpu_status()
    if status.works:
        return "full", f"{status.describe()}: {status.reason}"
    return "cpu", status.describe()


def gpu_available() -> bool:
    """True when this Paddle build has CUDA, sees a GPU and a test convolution ran on it.

    Taught in 07_compare, §5.
    """
    return gpu_status().works


# GPU memory of each architecture's full-mode run, estimated (no GPU was available to measure
# it): float32 weights, their gradients and the optimizer's state (Adam keeps 2 values per
# weight, Momentum 1), plus the activations kept for the backward pass, counted as twice
# fu.activation_memory of one 224 px image (the outputs and their gradients) times the batch,
# plus CUDA's own context. Parameter counts and activation sizes are the notebooks' networks'
# (tests/core/test_modes.py recomputes them). `python -m fundus_utils check` measures the real
# peak of one training step on a GPU.
_PARAMETERS = {
    "lenet": 44_387,
    "alexnet": 71_916_929,
    "vgg16": 134_264_641,
    "googlenet": 10_306_355,
    "resnet18": 11_186_625,
    "resnet50": 23_563_201,
    "convmixer": 749_825,
}
_ACTIVATION_MIB_PER_IMAGE = {  # fu.activation_memory(model, (1, 3, 224, 224)) / 2**20, train mode
    "lenet": 9.26,
    "alexnet": 6.08,
    "vgg16": 109.48,
    "googlenet": 30.03,
    "resnet18": 28.52,
    "resnet50": 122.23,
    "convmixer": 51.00,
}
CUDA_CONTEXT_BYTES = 2**29  # about 0.5 GiB that CUDA and cuDNN take before any tensor
GPU_MEMORY_SHARE = 0.9  # leave a tenth of the card for the allocator's fragmentation
MIN_FULL_BATCH = 4  # below this, batch statistics (BatchNorm) get too noisy: use the CPU budget
NOTEBOOK_ARCHS = {  # the full-mode runs of each architecture notebook
    "01_lenet": ("lenet",),
    "02_alexnet": ("alexnet",),
    "03_vgg": ("vgg16",),
    "04_googlenet": ("googlenet",),
    "05_resnet": ("resnet18", "resnet50"),
    "06_convmixer": ("convmixer",),
}


def full_memory_need(arch: str, batch_size: int | None = None) -> int:
    """Estimated GPU bytes of ``arch``'s full-mode training run (see the comment above).

    Not used in the notebooks; used by fu.run_settings and the check command.
    """
    recipe = _RECIPES[arch]["full"]
    batch = recipe.batch_size if batch_size is None else batch_size
    slots = 2 if recipe.momentum is None else 1
    weights = _PARAMETERS[arch] * 4 * (2 + slots)
    activations = 2 * _ACTIVATION_MIB_PER_IMAGE[arch] * 2**20 * batch
    return int(weights + activations + CUDA_CONTEXT_BYTES)


def fitting_batch(arch: str, total_memory: int) -> int | None:
    """The recipe's batch size, halved until the estimate fits ``total_memory``; None when not
    even MIN_FULL_BATCH fits."""
    batch = _RECIPES[arch]["full"].batch_size
    while batch >= MIN_FULL_BATCH:
        if full_memory_need(arch, batch) <= GPU_MEMORY_SHARE * total_memory:
            return batch
        batch //= 2
    return None


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
    momentum: float | None = None  # None: Adam; else Momentum SGD
    weight_decay: float | None = None
    augment: bool = True  # training augmentation (fu.train_augmentation)

    @property
    def optimizer_name(self) -> str:
        name = "Adam" if self.momentum is None else f"Momentum {self.momentum:g}"
        return name + (f", weight decay {self.weight_decay:g}" if self.weight_decay else "")

    def optimizer_options(self) -> dict:
        """Keywords of fu.Optimization for this recipe's optimizer."""
        return {"momentum": self.momentum, "weight_decay": self.weight_decay}

    def describe(self) -> str:
        return (
            f"Mode: {self.mode} — trains {self.model_name}: {self.epochs} epoch(s), batch "
            f"{self.batch_size}, {self.image_size}x{self.image_size} px, learning rate "
            f"{self.learning_rate:g}, {self.optimizer_name}"
            + ("" if self.augment else ", no augmentation")
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
    if mode == "full" and gpu_status().works:
        memory = gpu_status().total_memory
        batch = fitting_batch(arch, memory)
        if batch is None:
            print(
                f"Note: {_NAMES[arch]} in full mode needs about "
                f"{full_memory_need(arch, MIN_FULL_BATCH) / GIB:.1f} GiB of GPU memory even at "
                f"batch {MIN_FULL_BATCH}; this GPU has {memory / GIB:.1f} GiB: running the CPU "
                "budget instead."
            )
            return run_settings(arch, "cpu")
        if batch != recipe.batch_size:
            print(
                f"Note: {_NAMES[arch]} at batch {recipe.batch_size} needs about "
                f"{full_memory_need(arch) / GIB:.1f} GiB of GPU memory, this GPU has "
                f"{memory / GIB:.1f} GiB: batch {batch} instead."
            )
            recipe = replace(recipe, batch_size=batch)
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
        recipe.momentum,
        recipe.weight_decay,
        recipe.augment,
    )
