"""The training loop: :func:`fit`, which every architecture notebook calls. Taught in 01_lenet, §4.

Reproducibility and resuming
----------------------------
At the start of epoch ``e`` (0-based) :func:`fit` seeds Python's ``random``, NumPy's global
generator and Paddle with ``epoch_seed(seed, e)``. NumPy's global generator is what
``DataLoader(shuffle=True)`` shuffles with (``DistributedBatchSampler`` gets the same number
through ``set_epoch``), and Paddle's is what dropout draws from, so epoch ``e`` sees the same
batches and masks whether the run went straight through or was resumed from a checkpoint
written after epoch ``e - 1``. On CPU a run interrupted after epoch k and resumed with
``resume=True`` therefore ends with the same weights as an uninterrupted run (GPU kernels may
be non-deterministic). A checkpoint also restores the optimizer (its state is stored under
structured parameter names, so it loads into a model rebuilt in the same process), the
GradScaler, the LR scheduler, the history and the Python/NumPy/Paddle generator states.
Random augmentations inside DataLoader worker processes are outside this guarantee.

The pieces live beside it: heads and losses (``heads``), one epoch (``epoch``), evaluation
(``evaluate``), checkpoints (``checkpoints``), multi-process loaders (``distributed``), the
per-epoch report (``logs``) and the results file (``results``).
"""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path
from typing import Sequence

import paddle

from ..core.atomic import write_file
from . import runtime
from .batchnorm import recalibrate_batchnorm, without_augmentation
from .checkpoints import checkpoint_path, resume_from, save_checkpoint
from .distributed import distributed_train_loader
from .epoch import (
    Run,
    build_optimizer,
    resolve_amp,
    seed_epoch,
    step_scheduler,
    train_one_epoch,
)
from .evaluate import evaluate, unwrap
from .history import MONITOR_DIRECTIONS, NAN, History
from .logs import format_epoch, log_scalars, open_scalar_writer
from .options import Checkpointing, Optimization, Reporting
from .results import results_file, write_results

__all__ = ["fit"]


def fit(
    model: paddle.nn.Layer,
    train_loader: paddle.io.DataLoader,
    valid_loader: paddle.io.DataLoader | None,
    *,
    epochs: int,
    lr: float = 1e-3,
    seed: int | None = None,
    aux_weights: Sequence[float] = (1.0, 0.3, 0.3),
    run_name: str | None = None,
    monitor: str = "auc",
    verbose: bool = True,
    recalibrate_bn: int = 0,
    optimization: Optimization | None = None,
    checkpoints: Checkpointing | None = None,
    reporting: Reporting | None = None,
) -> History:
    """Train ``model`` for ``epochs`` epochs in total, evaluating on ``valid_loader`` after each.

    Taught in 01_lenet, §4; every architecture notebook calls it.

    * ``lr``: the learning rate of the default optimizer, ``Adam`` (``Momentum`` SGD with
      ``Optimization(momentum=...)``).
    * ``seed``: base of the per-epoch seeds; default the checkpoint's seed when resuming,
      else the last :func:`fundus_utils.engine.runtime.set_seed` value, else 0.
    * ``aux_weights``: loss weights of ``(main, aux1, aux2)`` for models that return three
      outputs in train mode (GoogLeNet, 04_googlenet).
    * ``run_name``: write a results JSON to ``runs_dir()/run_name/results.json``.
    * ``monitor``: ``"auc"``, ``"acc"`` (higher is better) or ``"loss"`` (lower is better) on
      the validation set; decides :attr:`History.best_epoch` and ``best.pdckpt``.
    * ``recalibrate_bn``: before every validation, re-estimate the BatchNorm running
      statistics over this many training batches, without augmentation
      (:func:`recalibrate_batchnorm`, taught in 05_resnet, §6); 0 keeps Paddle's moving
      averages.
    * ``optimization``, ``checkpoints``, ``reporting``: the option groups of
      :mod:`fundus_utils.engine.options` (optimizer, scheduler, clipping, AMP; checkpoint
      folder and resuming; results path, FLOPs input shape, VisualDL).

    Under ``python -m paddle.distributed.launch`` the model is wrapped in
    ``paddle.DataParallel``, the training batches are split with ``DistributedBatchSampler``
    and validation metrics are gathered from all ranks; only rank 0 prints and writes files.
    After fit the model is in eval mode, holding the weights of the last epoch.
    """
    if monitor not in MONITOR_DIRECTIONS:
        raise ValueError(f"monitor must be one of {sorted(MONITOR_DIRECTIONS)}, got {monitor!r}")
    opt, report = optimization or Optimization(), reporting or Reporting()
    checkpoint_dir = checkpoints.folder if checkpoints else None
    resume = bool(checkpoints and checkpoints.resume)
    optimizer, scheduler, grad_clip, amp = opt.optimizer, opt.scheduler, opt.grad_clip, opt.amp
    log_dir, results_path, input_shape = report.log_dir, report.results_path, report.input_shape
    device = runtime.pick_device()
    distributed = runtime.init_distributed()
    main_process = runtime.is_main_process()
    net = unwrap(model)
    use_amp = resolve_amp(amp, device, announce=verbose and main_process)
    optimizer = build_optimizer(
        net, optimizer, lr, scheduler, grad_clip, opt.momentum, opt.weight_decay
    )
    scaler = paddle.amp.GradScaler(init_loss_scaling=2.0**15) if use_amp else None
    history, seed_in_checkpoint = History(monitor=monitor), None
    if resume:
        history, seed_in_checkpoint = _resume_if_possible(
            checkpoint_path(checkpoint_dir, "last"),
            monitor,
            verbose and main_process,
            net=net,
            optimizer=optimizer,
            scaler=scaler,
            scheduler=scheduler,
        )
    base_seed = next(
        s for s in (seed, seed_in_checkpoint, runtime.current_seed(), 0) if s is not None
    )
    run = Run(
        model=paddle.DataParallel(net) if distributed else net,
        optimizer=optimizer,
        scaler=scaler,
        amp=use_amp,
        aux_weights=tuple(aux_weights),
        epochs=epochs,
        show_progress=verbose and main_process,
    )
    train_batches = distributed_train_loader(train_loader) if distributed else train_loader
    writer = open_scalar_writer(log_dir) if main_process else None
    final_metrics = None
    try:
        for epoch in range(history.epochs, epochs):
            seed_epoch(base_seed, epoch, train_batches)
            start = time.perf_counter()
            learning_rate = optimizer.get_lr()
            trained = train_one_epoch(run, train_batches, epoch)
            if recalibrate_bn:
                with without_augmentation(train_batches) as plain_batches:
                    recalibrate_batchnorm(run.model, plain_batches, recalibrate_bn)
            final_metrics = (
                evaluate(run.model, valid_loader, amp=use_amp) if valid_loader is not None else None
            )
            history.append(
                **_epoch_record(trained, final_metrics, learning_rate, time.perf_counter() - start)
            )
            step_scheduler(scheduler, history.valid_loss[-1] if final_metrics else trained["loss"])
            if main_process:
                _end_of_epoch_outputs(
                    history,
                    epochs,
                    verbose,
                    writer,
                    checkpoint_dir,
                    net=net,
                    optimizer=optimizer,
                    scaler=scaler,
                    scheduler=scheduler,
                    seed=base_seed,
                )
    finally:
        if writer is not None:
            writer.close()
    net.eval()
    results_json = results_file(results_path, run_name)
    if main_process and results_json is not None:
        write_results(
            results_json,
            net=net,
            run=run,
            history=history,
            run_name=run_name,
            device=device,
            train_loader=train_loader,
            input_shape=input_shape,
            final_metrics=final_metrics,
            model_name=report.model_name,
        )
    runtime.barrier()
    return history


def _resume_if_possible(
    path: Path, monitor: str, announce: bool, **state
) -> tuple[History, int | None]:
    """Restore from ``path`` if it exists; returns (history, base seed of the checkpoint)."""
    if not path.is_file():
        if announce:
            print(f"Note: no checkpoint at {path}; starting from scratch.")
        return History(monitor=monitor), None
    _, history, seed = resume_from(path, **state)
    history.monitor = monitor
    if announce:
        print(f"Resuming from {path} after epoch {history.epochs}.")
    return history, seed


def _epoch_record(trained: dict, valid: dict | None, learning_rate: float, seconds: float) -> dict:
    """One History row from the training pass and the evaluation (NaN without validation)."""
    valid = valid or {}
    return {
        "train_loss": trained["loss"],
        "train_acc": trained["acc"],
        "valid_loss": valid.get("loss", NAN),
        "valid_acc": valid.get("accuracy", NAN),
        "valid_auc": valid.get("auc", NAN),
        "valid_sensitivity": valid.get("sensitivity", NAN),
        "valid_specificity": valid.get("specificity", NAN),
        "lr": learning_rate,
        "seconds": seconds,
        "images_per_s": trained["images"] / max(trained["seconds"], 1e-9),
    }


def _end_of_epoch_outputs(
    history: History, epochs: int, verbose: bool, writer, checkpoint_dir, **state
) -> None:
    """Rank 0's per-epoch work: summary line, VisualDL scalars, last/best checkpoints."""
    if verbose:
        print(format_epoch(history.last, epochs), flush=True)
    log_scalars(writer, history)
    if checkpoint_dir is None:
        return
    last = checkpoint_path(checkpoint_dir, "last")
    save_checkpoint(last, history=history, **state)
    if history.best_epoch == history.epochs and math.isfinite(history.valid_loss[-1]):
        write_file(
            checkpoint_path(checkpoint_dir, "best"),
            lambda temporary: shutil.copyfile(last, temporary),
        )
