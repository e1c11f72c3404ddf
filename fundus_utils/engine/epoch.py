"""One training epoch and what it needs: per-epoch seeds, the optimizer, AMP, the scheduler step."""

from __future__ import annotations

import dataclasses
import math
import random
import time
from typing import Any, Sequence

import numpy as np
import paddle

from ..core.progress import progress
from . import runtime
from .distributed import loader_length, sum_over_processes
from .heads import Head, split_outputs, training_loss

__all__ = ["TrainingDiverged"]


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite. Taught in 02_alexnet, §6."""

    def __init__(self, epoch: int, step: int, loss_value: float, learning_rate: float):
        self.epoch, self.step, self.loss_value, self.learning_rate = (
            epoch,
            step,
            loss_value,
            learning_rate,
        )
        super().__init__(
            f"training diverged: the loss became {loss_value} at epoch {epoch}, step {step} "
            f"(learning rate {learning_rate:g}). Lower the learning rate (Adam trains these "
            "networks at 1e-4 to 1e-3), add optimization=fu.Optimization(grad_clip=1.0), or check "
            "the inputs for NaN values. The weights in memory are no longer usable; the last "
            "checkpoint, if any, is intact."
        )


def epoch_seed(base_seed: int, epoch: int) -> int:
    """The seed of 0-based ``epoch`` in a run with ``base_seed`` (independent streams per epoch)."""
    return int(np.random.SeedSequence([int(base_seed), int(epoch)]).generate_state(1)[0] % 2**31)


def seed_epoch(base_seed: int, epoch: int, loader) -> None:
    seed = epoch_seed(base_seed, epoch)
    random.seed(seed)
    np.random.seed(seed)
    paddle.seed(seed)
    if isinstance(getattr(loader, "batch_sampler", None), paddle.io.DistributedBatchSampler):
        loader.batch_sampler.set_epoch(seed)


def build_optimizer(
    net, optimizer, lr: float, scheduler, grad_clip, momentum=None, weight_decay=None
):
    """Adam (or Momentum SGD when ``momentum`` is given) at lr or the scheduler, unless an
    optimizer is given; checks the scheduler/clip wiring."""
    clip = paddle.nn.ClipGradByGlobalNorm(float(grad_clip)) if grad_clip is not None else None
    if optimizer is None:
        common = {
            "learning_rate": scheduler if scheduler is not None else lr,
            "parameters": net.parameters(),
            "grad_clip": clip,
            "weight_decay": weight_decay,
        }
        if momentum is not None:
            return paddle.optimizer.Momentum(momentum=float(momentum), **common)
        return paddle.optimizer.Adam(**common)
    if momentum is not None or weight_decay is not None:
        raise ValueError(
            "fit(momentum=/weight_decay=...) with your own optimizer: give them to the "
            "optimizer you built instead"
        )
    if scheduler is not None and getattr(optimizer, "_learning_rate", None) is not scheduler:
        raise ValueError(
            "fit(scheduler=...) with your own optimizer: build the optimizer with "
            "learning_rate=scheduler (the same object) so that stepping it changes the rate"
        )
    if grad_clip is not None:
        raise ValueError(
            "fit(grad_clip=...) with your own optimizer: pass "
            f"grad_clip=paddle.nn.ClipGradByGlobalNorm({grad_clip}) to the optimizer instead"
        )
    return optimizer


def resolve_amp(amp: bool | None, device: str, announce: bool) -> bool:
    """Whether float16 autocast really runs: asked for, on a GPU that computes float16 fast
    (compute capability 7.0 or newer; below it Paddle switches float16 off with a warning)."""
    if not amp:
        return False
    if not device.startswith("gpu"):
        if announce:
            print(
                "Note: amp=True ignored: float16 mixed precision needs a GPU; "
                "training in float32 on CPU."
            )
        return False
    capability = runtime.gpu_capability(device)
    if capability is not None and capability < (7, 0):
        if announce:
            print(
                f"Note: amp=True ignored: this GPU's compute capability is "
                f"{capability[0]}.{capability[1]}, below the 7.0 that float16 needs; "
                "training in float32."
            )
        return False
    return True


def step_scheduler(scheduler, loss: float) -> None:
    if scheduler is None:
        return
    if isinstance(scheduler, paddle.optimizer.lr.ReduceOnPlateau):
        scheduler.step(loss)
    else:
        scheduler.step()


def _backward_and_step(loss, optimizer, scaler) -> None:
    if scaler is None:
        loss.backward()
        optimizer.step()
    else:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    optimizer.clear_grad()


@dataclasses.dataclass
class Run:
    """What one fit call trains with."""

    model: paddle.nn.Layer  # what forward is called on (DataParallel in a multi-process run)
    optimizer: Any
    scaler: Any
    amp: bool
    aux_weights: Sequence[float]
    epochs: int
    show_progress: bool
    head: Head | None = None
    image_shape: list | None = None


def train_one_epoch(run: Run, loader, epoch: int) -> dict:
    """One pass over ``loader``; returns loss/acc summed over processes, and timing."""
    run.model.train()
    loss_sum, seen, correct = 0.0, 0, []
    start = time.perf_counter()
    with progress(
        total=loader_length(loader),
        desc=f"epoch {epoch + 1}/{run.epochs}",
        leave=False,
        disable=not run.show_progress,
        unit="batch",
    ) as bar:
        for step, batch in enumerate(loader, start=1):
            images, labels = batch[0], batch[1]
            with paddle.amp.auto_cast(enable=run.amp, level="O1"):
                outputs = run.model(images)
            if run.head is None:
                run.head = Head(int(split_outputs(outputs)[0].shape[-1]))
                run.head.check_labels(labels)
                run.image_shape = list(images.shape[1:])
            loss = training_loss(run.head, outputs, labels, run.aux_weights)
            _backward_and_step(loss, run.optimizer, run.scaler)
            loss_value = float(loss)
            if not math.isfinite(loss_value):
                raise TrainingDiverged(epoch + 1, step, loss_value, run.optimizer.get_lr())
            batch_size = int(labels.shape[0])
            loss_sum += loss_value * batch_size
            seen += batch_size
            correct.append(run.head.correct(split_outputs(outputs)[0], labels))
            bar.update(1)
            bar.set_postfix_str(f"loss {loss_sum / seen:.4f}", refresh=False)
    seconds = time.perf_counter() - start
    correct_total = int(paddle.add_n(correct)) if correct else 0
    loss_sum, correct_total, seen = sum_over_processes([loss_sum, correct_total, seen])
    if not seen:
        raise ValueError("fit: the training loader yielded no batches")
    return {
        "loss": loss_sum / seen,
        "acc": correct_total / seen,
        "images": seen,
        "seconds": seconds,
    }
