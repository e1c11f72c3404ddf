"""The option groups of :func:`fit`, so that a call reads as what it asks for.

Taught in 01_lenet, §4 (``Reporting``); 02_alexnet and 03_vgg, §6, suggest ``Optimization``.

``fit(model, train, valid, epochs=8, lr=1e-3, run_name="resnet50")`` is the whole call in most
notebooks; the groups below are for what only some runs need::

    fu.fit(model, train, valid, epochs=20,
           optimization=fu.Optimization(scheduler=schedule, grad_clip=1.0),
           checkpoints=fu.Checkpointing("runs/resnet50/ckpt", resume=True),
           reporting=fu.Reporting(log_dir="runs/resnet50/vdl"))
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence

__all__ = ["Optimization", "Checkpointing", "Reporting"]

DEFAULT_INPUT_SHAPE = (1, 3, 224, 224)


@dataclass(frozen=True)
class Optimization:
    """How the weights are updated.

    Taught in 05_resnet, §4 (a cosine schedule); the ``optimization=`` option of fu.fit, also
    used by 06_convmixer, §5.

    * ``optimizer``: default ``Adam(learning_rate=lr)``. With ``scheduler`` (a
      ``paddle.optimizer.lr.LRScheduler``) the default optimizer uses the scheduler as its
      learning rate and ``lr`` is ignored; a scheduler is stepped once per epoch
      (``ReduceOnPlateau`` with the validation loss). With your own optimizer, build it with
      ``learning_rate=scheduler`` and pass the same scheduler here, so that it is stepped and
      checkpointed, and give it ``grad_clip`` yourself.
    * ``momentum``: build ``Momentum`` SGD with this momentum instead of the default ``Adam``
      (the published recipes of 03_vgg, 04_googlenet and 05_resnet's ResNet-50 use 0.9);
      ``fu.Optimization(**SETTINGS.optimizer_options())`` takes it from a notebook's settings.
    * ``weight_decay``: L2 weight decay of the default optimizer (``None``: none).
    * ``grad_clip``: clip gradients to this global norm (``ClipGradByGlobalNorm``).
    * ``amp``: float16 autocast + GradScaler, on a GPU only. Off by default: no run of this
      course has shown float16 equal to float32 yet; the results file records what ran.
    """

    optimizer: Any = None
    scheduler: Any = None
    grad_clip: float | None = None
    amp: bool = False
    momentum: float | None = None
    weight_decay: float | None = None


@dataclass(frozen=True)
class Checkpointing:
    """``last.pdckpt`` after every epoch and ``best.pdckpt`` (by ``fit``'s ``monitor``) in
    ``folder``.

    Not used in the notebooks; the ``checkpoints=`` option of fu.fit.

    With ``resume=True`` a run continues from ``last.pdckpt`` when it exists; ``epochs``
    counts the epochs already in the checkpoint, so ``epochs=10`` after 4 trains 6 more.
    """

    folder: str | os.PathLike
    resume: bool = False


@dataclass(frozen=True)
class Reporting:
    """Where a run's numbers go besides the printed epoch lines.

    Taught in 01_lenet, §4.

    * ``results_path``: the results JSON (default ``runs_dir()/run_name/results.json``);
    * ``input_shape``: the input its FLOPs are counted at;
    * ``log_dir``: VisualDL scalars, when ``visualdl`` is installed;
    * ``model_name``: what was trained, for the results tables (e.g. ``SETTINGS.model_name``,
      "VGG-16-BN, 1/4 width, fc 512"); default the run name.
    """

    results_path: str | os.PathLike | None = None
    input_shape: Sequence[int] = DEFAULT_INPUT_SHAPE
    log_dir: str | os.PathLike | None = None
    model_name: str | None = None
