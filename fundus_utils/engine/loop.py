"""The training and evaluation engine: :func:`fit`, :func:`evaluate` and :class:`History`.

Head and loss follow from the model's output width:

* 1 logit  -> ``BCEWithLogits``; probability ``sigmoid(logit)``; predicted PM when it is >= 0.5.
  (Never ``paddle.metric.accuracy`` on a 1-column output: it always picks index 0.)
* K logits -> cross-entropy; probabilities ``softmax``; prediction ``argmax``.

Models that return ``(main, aux1, aux2)`` in train mode (GoogLeNet) are trained on
``w0 * loss(main) + w1 * loss(aux1) + w2 * loss(aux2)`` with ``aux_weights``; evaluation
uses ``main`` only.

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

Checkpoints
-----------
With ``checkpoint_dir`` set, ``last.pdckpt`` is written after every epoch and ``best.pdckpt``
whenever the monitored validation metric improves. Each file is one ``paddle.save`` dict
(see :func:`load_checkpoint`), written to a hidden temporary file in the same folder and
moved into place with ``os.replace``: a reader sees the old complete file or the new
complete file, never a partial one. Use :func:`load_weights` to put the weights into a model.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import re
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np
import paddle
import paddle.distributed as dist
import paddle.nn.functional as F
from scipy.special import expit, softmax

from . import runtime
from ..core.atomic import write_file
from ..core.config import RESULTS_NAME
from ..core.paths import runs_dir
from .metrics import binary_metrics, multiclass_metrics
from ..core.progress import progress

CHECKPOINT_FORMAT = "fundus_utils.train/1"
CHECKPOINT_SUFFIX = ".pdckpt"
MONITOR_DIRECTIONS = {"auc": "max", "acc": "max", "loss": "min"}
NAN = float("nan")


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite."""

    def __init__(self, epoch: int, step: int, loss_value: float, learning_rate: float):
        self.epoch, self.step, self.loss_value, self.learning_rate = epoch, step, loss_value, learning_rate
        super().__init__(
            f"training diverged: the loss became {loss_value} at epoch {epoch}, step {step} "
            f"(learning rate {learning_rate:g}). Lower the learning rate (e.g. lr={learning_rate / 10:g}), "
            "add grad_clip=1.0, or check the inputs for NaN values. The weights in memory are no "
            "longer usable; the last checkpoint, if any, is intact.")


# --------------------------------------------------------------------------- history
@dataclasses.dataclass
class History:
    """Per-epoch records of one training run (one list entry per epoch, epoch 1 first).

    ``train_loss`` is the optimised loss (auxiliary-head terms included); ``valid_*`` are
    computed on the main head only (NaN when there is no validation loader).
    ``images_per_s`` counts training images of all processes per second of training.
    """

    monitor: str = "auc"
    train_loss: list = dataclasses.field(default_factory=list)
    train_acc: list = dataclasses.field(default_factory=list)
    valid_loss: list = dataclasses.field(default_factory=list)
    valid_acc: list = dataclasses.field(default_factory=list)
    valid_auc: list = dataclasses.field(default_factory=list)
    valid_sensitivity: list = dataclasses.field(default_factory=list)
    valid_specificity: list = dataclasses.field(default_factory=list)
    lr: list = dataclasses.field(default_factory=list)
    seconds: list = dataclasses.field(default_factory=list)
    images_per_s: list = dataclasses.field(default_factory=list)

    SERIES: ClassVar[tuple[str, ...]] = (
        "train_loss", "train_acc", "valid_loss", "valid_acc", "valid_auc", "valid_sensitivity",
        "valid_specificity", "lr", "seconds", "images_per_s")

    def __len__(self) -> int:
        return len(self.train_loss)

    @property
    def epochs(self) -> int:
        """Number of completed epochs."""
        return len(self)

    def append(self, **values: float) -> None:
        """Add one epoch; every series must be given."""
        missing = set(self.SERIES) - set(values)
        if missing:
            raise ValueError(f"History.append: missing {sorted(missing)}")
        for name in self.SERIES:
            getattr(self, name).append(float(values[name]))

    def row(self, epoch: int) -> dict:
        """All values of ``epoch`` (1-based) as a dict, with ``"epoch"``."""
        return {"epoch": epoch, **{name: getattr(self, name)[epoch - 1] for name in self.SERIES}}

    def _monitored(self) -> tuple[list, str]:
        """The series that decides the best epoch and its direction.

        ``valid_<monitor>``; if it holds no number at all (no validation loader, or AUC
        undefined on a single-class validation set), ``valid_loss``; if that is empty too,
        nothing (the last epoch then counts as best).
        """
        values = getattr(self, f"valid_{self.monitor}")
        if any(math.isfinite(v) for v in values):
            return values, MONITOR_DIRECTIONS[self.monitor]
        return self.valid_loss, "min"

    @property
    def best_epoch(self) -> int | None:
        """1-based epoch with the best monitored value; ``None`` before epoch 1.

        Ties (AUC often reaches 1.0 on easy data) go to the lower validation loss, then to
        the earlier epoch.
        """
        if not len(self):
            return None
        values, direction = self._monitored()
        sign = 1.0 if direction == "max" else -1.0
        scored = [(sign * v, -loss if math.isfinite(loss) else -math.inf, -i)
                  for i, (v, loss) in enumerate(zip(values, self.valid_loss)) if math.isfinite(v)]
        return -max(scored)[2] + 1 if scored else len(self)

    @property
    def best(self) -> dict | None:
        """The row of :attr:`best_epoch`."""
        return None if self.best_epoch is None else self.row(self.best_epoch)

    @property
    def last(self) -> dict | None:
        """The row of the last completed epoch."""
        return self.row(len(self)) if len(self) else None

    def as_dataframe(self):
        """A pandas DataFrame, one row per epoch, indexed by the 1-based epoch."""
        import pandas as pd

        frame = pd.DataFrame({name: getattr(self, name) for name in self.SERIES})
        frame.index = pd.RangeIndex(1, len(self) + 1, name="epoch")
        return frame

    def to_dict(self) -> dict:
        """Plain Python data (JSON-friendly apart from NaN)."""
        return {"monitor": self.monitor, **{name: list(getattr(self, name)) for name in self.SERIES}}

    @classmethod
    def from_dict(cls, data: dict) -> "History":
        """Inverse of :meth:`to_dict`; ``None`` entries (NaN in JSON) become NaN."""
        series = {name: [NAN if v is None else float(v) for v in data.get(name, [])] for name in cls.SERIES}
        return cls(monitor=data.get("monitor", "auc"), **series)


# --------------------------------------------------------------------------- heads and losses
def _split_outputs(outputs) -> tuple[paddle.Tensor, list]:
    """``(main, [aux, ...])`` from a model output; a 1-D main output becomes ``[B, 1]``."""
    if isinstance(outputs, (tuple, list)):
        main, aux = outputs[0], list(outputs[1:])
    else:
        main, aux = outputs, []
    if main.ndim == 1:
        main = main.reshape([-1, 1])
    return main, aux


@dataclasses.dataclass(frozen=True)
class _Head:
    """Loss, accuracy and probabilities for a model with ``width`` output logits."""

    width: int

    @property
    def binary(self) -> bool:
        return self.width == 1

    def loss(self, logits: paddle.Tensor, labels: paddle.Tensor) -> paddle.Tensor:
        logits = logits.astype("float32")
        if self.binary:
            return F.binary_cross_entropy_with_logits(logits, labels.astype("float32").reshape([-1, 1]))
        return F.cross_entropy(logits, labels.astype("int64").reshape([-1]))

    def correct(self, logits: paddle.Tensor, labels: paddle.Tensor) -> paddle.Tensor:
        """Number of correct predictions in the batch (a tensor, to avoid a device sync)."""
        if self.binary:
            predicted = (logits.reshape([-1]) >= 0).astype("int64")  # sigmoid(logit) >= 0.5
        else:
            predicted = logits.argmax(axis=-1).astype("int64")
        return (predicted == labels.astype("int64").reshape([-1])).astype("int64").sum()

    def check_labels(self, labels: paddle.Tensor) -> None:
        top = int(labels.max())
        low = int(labels.min())
        limit = 1 if self.binary else self.width - 1
        if low < 0 or top > limit:
            raise ValueError(
                f"the model has {self.width} output(s), so labels must lie in 0..{limit}, "
                f"but a batch holds labels {low}..{top}; give the model one output per class "
                "(or 1 output for a binary task)")

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """Sigmoid of the single logit (shape [N]) or softmax over K logits (shape [N, K])."""
        return expit(logits[:, 0]) if self.binary else softmax(logits, axis=1)

    def metrics(self, probs: np.ndarray, labels: np.ndarray) -> dict:
        if self.binary:
            return binary_metrics(probs, labels)
        if self.width == 2:
            return binary_metrics(probs[:, 1], labels)
        return multiclass_metrics(probs, labels)


def _training_loss(head: _Head, outputs, labels, aux_weights: Sequence[float]) -> paddle.Tensor:
    """Loss of the main output, or the ``aux_weights``-weighted sum over (main, aux1, aux2)."""
    main, aux = _split_outputs(outputs)
    if not aux:
        return head.loss(main, labels)
    heads = [main] + aux
    if len(aux_weights) != len(heads):
        raise ValueError(f"the model returned {len(heads)} outputs but aux_weights has "
                         f"{len(aux_weights)} entries {tuple(aux_weights)}")
    terms = [float(w) * head.loss(_split_outputs(o)[0], labels)
             for w, o in zip(aux_weights, heads) if o is not None]
    return paddle.add_n(terms)


# --------------------------------------------------------------------------- loaders
def _batch_size_of(loader: paddle.io.DataLoader) -> int | None:
    sampler = getattr(loader, "batch_sampler", None)
    return getattr(sampler, "batch_size", None) or getattr(loader, "batch_size", None)


def _is_map_style(loader: paddle.io.DataLoader) -> bool:
    dataset = loader.dataset
    return not isinstance(dataset, paddle.io.IterableDataset) and hasattr(dataset, "__len__")


def _rebuild_loader(loader: paddle.io.DataLoader, dataset, batch_sampler) -> paddle.io.DataLoader:
    """A DataLoader like ``loader`` (workers, collate_fn, ...) over ``dataset`` / ``batch_sampler``."""
    return paddle.io.DataLoader(
        dataset, batch_sampler=batch_sampler, num_workers=loader.num_workers,
        collate_fn=loader.collate_fn, use_shared_memory=loader.use_shared_memory,
        timeout=loader.timeout, worker_init_fn=loader.worker_init_fn, return_list=loader.return_list)


def _distributed_train_loader(loader: paddle.io.DataLoader) -> paddle.io.DataLoader:
    """``loader`` with a ``DistributedBatchSampler`` (same batch size, shuffle and drop_last)."""
    if isinstance(loader.batch_sampler, paddle.io.DistributedBatchSampler):
        return loader
    if not _is_map_style(loader):
        raise ValueError("data-parallel training needs a map-style dataset (with __len__ and __getitem__)")
    sampler = loader.batch_sampler
    distributed = paddle.io.DistributedBatchSampler(
        loader.dataset, batch_size=_batch_size_of(loader),
        shuffle=isinstance(getattr(sampler, "sampler", None), paddle.io.RandomSampler),
        drop_last=bool(getattr(sampler, "drop_last", False)))
    return _rebuild_loader(loader, loader.dataset, distributed)


def _eval_shard(loader: paddle.io.DataLoader) -> tuple[paddle.io.DataLoader, int | None]:
    """This rank's share of an evaluation set: samples ``rank, rank + world, ...`` in order.

    Returns ``(loader, total)``; ``total`` is ``None`` when no sharding applies
    (single process, iterable dataset, or fewer samples than processes): every rank
    then evaluates the whole loader.
    """
    if not (runtime.is_distributed() and dist.is_initialized() and _is_map_style(loader)):
        return loader, None
    total, world = len(loader.dataset), runtime.world_size()
    if total < world:
        return loader, None
    subset = paddle.io.Subset(loader.dataset, list(range(runtime.rank(), total, world)))
    sampler = paddle.io.BatchSampler(subset, batch_size=_batch_size_of(loader) or 1, shuffle=False)
    return _rebuild_loader(loader, subset, sampler), total


def _gather_rows(local: np.ndarray, total: int) -> np.ndarray:
    """Reassemble a sharded array: rank r holds rows r, r + world, ... of the ``total`` rows.

    Every shard is zero-padded to ``ceil(total / world)`` rows so that ``all_gather``
    sees equal shapes; the padding is dropped again using the known shard sizes.
    """
    world = runtime.world_size()
    per_rank = math.ceil(total / world)
    padded = np.zeros((per_rank,) + local.shape[1:], dtype=local.dtype)
    padded[: len(local)] = local
    parts: list = []
    dist.all_gather(parts, paddle.to_tensor(padded))
    gathered = np.empty((total,) + local.shape[1:], dtype=local.dtype)
    for shard_rank, part in enumerate(parts):
        count = len(range(shard_rank, total, world))
        gathered[shard_rank::world] = part.numpy()[:count]
    return gathered


def _sum_over_processes(values: Sequence[float]) -> list[float]:
    """Element-wise sum of ``values`` over all processes (identity in a single process)."""
    if not (runtime.is_distributed() and dist.is_initialized()):
        return list(values)
    tensor = paddle.to_tensor(np.asarray(values, dtype=np.float64))
    dist.all_reduce(tensor)
    return tensor.numpy().tolist()


def _loader_length(loader) -> int | None:
    try:
        return len(loader)
    except TypeError:
        return None


# --------------------------------------------------------------------------- evaluation
def _unwrap(model: paddle.nn.Layer) -> paddle.nn.Layer:
    """The plain Layer inside a ``paddle.DataParallel`` wrapper."""
    return model._layers if isinstance(model, paddle.DataParallel) else model


def _predict_logits(model: paddle.nn.Layer, loader, amp: bool) -> tuple[np.ndarray, np.ndarray]:
    """Main-head logits ``[N, K]`` (float32) and labels ``[N]`` (int64) over ``loader``."""
    logits, labels = [], []
    with paddle.no_grad():
        for batch in loader:
            images, batch_labels = batch[0], batch[1]
            with paddle.amp.auto_cast(enable=amp, level="O1"):
                main, _ = _split_outputs(model(images))
            logits.append(main.astype("float32").numpy())
            labels.append(np.asarray(batch_labels.numpy()).reshape(-1).astype(np.int64))
    if not logits:
        return np.zeros((0, 0), np.float32), np.zeros(0, np.int64)
    return np.concatenate(logits), np.concatenate(labels)


def evaluate(model: paddle.nn.Layer, loader: paddle.io.DataLoader, *, amp: bool = False) -> dict:
    """Evaluate ``model`` on ``loader`` in eval mode, without gradients.

    Returns the metrics of :func:`fundus_utils.engine.metrics.binary_metrics` (1 or 2 outputs) or
    :func:`~fundus_utils.engine.metrics.multiclass_metrics` (K > 2 outputs), plus ``"loss"`` (mean
    loss of the main head), ``"probs"`` (``[N]`` positive-class probabilities for 1 output,
    ``[N, K]`` softmax otherwise) and ``"labels"`` (``[N]`` int64).
    In a multi-process run every rank evaluates its shard and the logits are gathered, so
    every rank returns the metrics of the whole set.
    """
    was_training = model.training
    model.eval()
    try:
        shard, total = _eval_shard(loader)
        logits, labels = _predict_logits(model, shard, amp)
    finally:
        if was_training:
            model.train()
    if total is not None:  # every rank holds >= 1 sample here (total >= world size)
        logits, labels = _gather_rows(logits, total), _gather_rows(labels, total)
    if not len(labels):
        raise ValueError("evaluate: the loader yielded no samples")
    head = _Head(logits.shape[1])
    loss = float(head.loss(paddle.to_tensor(logits), paddle.to_tensor(labels)))
    probs = head.probabilities(logits)
    return {**head.metrics(probs, labels), "loss": loss, "probs": probs, "labels": labels}


# --------------------------------------------------------------------------- optimizer state
def _structured_names(net: paddle.nn.Layer) -> dict[str, str]:
    """Paddle's unique parameter name (``linear_3.w_0``) -> structured name (``fc.weight``)."""
    return {param.name: name for name, param in net.named_parameters()}


def _split_state_key(key: str, param_names: Sequence[str]) -> tuple[str, str] | None:
    """``"linear_3.w_0_moment1_0"`` -> ``("linear_3.w_0", "moment1")`` (longest matching name)."""
    for name in param_names:
        if key.startswith(name + "_"):
            return name, re.sub(r"_\d+$", "", key[len(name) + 1:])
    return None


def _portable_optimizer_state(optimizer, net: paddle.nn.Layer) -> dict:
    """The optimizer's state keyed by structured parameter names.

    Paddle keys optimizer state by generated names (``linear_3.w_0_moment1_0``) that differ
    for a model rebuilt in the same process, so a raw ``set_state_dict`` would fail there.
    """
    names = _structured_names(net)
    by_length = sorted(names, key=len, reverse=True)
    portable: dict[str, Any] = {"accumulators": {}, "master_weights": {}, "other": {}}
    for key, value in optimizer.state_dict().items():
        if key == "LR_Scheduler":
            portable["LR_Scheduler"] = value
        elif key == "master_weights":
            portable["master_weights"] = {names[k]: v for k, v in value.items() if k in names}
        else:
            parsed = _split_state_key(key, by_length)
            if parsed is None:
                portable["other"][key] = value
            else:
                portable["accumulators"].setdefault(names[parsed[0]], {})[parsed[1]] = value
    return portable


def _materialise_optimizer_state(optimizer, net: paddle.nn.Layer) -> None:
    """Make the optimizer create its accumulators with one step on all-zero gradients.

    Paddle creates optimizer state lazily at the first step; only existing state can be
    overwritten by name. The weights this step may touch are loaded afterwards anyway.
    """
    trainable = [p for p in net.parameters() if not p.stop_gradient]
    if not trainable:
        return
    paddle.add_n([(p * 0).sum() for p in trainable]).backward()
    optimizer.step()
    optimizer.clear_grad()
    net.clear_gradients()


def _restore_optimizer_state(optimizer, net: paddle.nn.Layer, portable: dict) -> None:
    """Load :func:`_portable_optimizer_state` output into ``optimizer`` (after the weights are loaded)."""
    names = _structured_names(net)
    by_length = sorted(names, key=len, reverse=True)
    state = {}
    for key, value in optimizer.state_dict().items():
        parsed = _split_state_key(key, by_length) if key not in ("LR_Scheduler", "master_weights") else None
        saved = portable["accumulators"].get(names[parsed[0]], {}).get(parsed[1]) if parsed else None
        state[key] = saved if saved is not None else value
    saved_masters = portable.get("master_weights", {})
    masters = {p.name: saved_masters[names[p.name]] for p in net.parameters() if names[p.name] in saved_masters}
    if masters:
        state["master_weights"] = masters
    if "LR_Scheduler" in portable:
        state["LR_Scheduler"] = portable["LR_Scheduler"]
    state.update({k: v for k, v in portable.get("other", {}).items() if k in state})
    optimizer.set_state_dict(state)


# --------------------------------------------------------------------------- checkpoints
def checkpoint_path(checkpoint_dir: str | os.PathLike, which: str = "last") -> Path:
    """``<checkpoint_dir>/last.pdckpt`` or ``<checkpoint_dir>/best.pdckpt``."""
    return Path(checkpoint_dir) / f"{which}{CHECKPOINT_SUFFIX}"


def _rng_state() -> dict | None:
    """Python, NumPy and Paddle generator states (stored for inspection; ``None`` if unavailable)."""
    try:
        name, keys, position, has_gauss, cached = np.random.get_state()
        return {"python": random.getstate(),
                "numpy": [name, keys.astype(np.int64).tolist(), position, has_gauss, cached],
                "paddle": paddle.get_rng_state()}
    except Exception:  # noqa: BLE001 - RNG state is a nicety; determinism comes from per-epoch seeds
        return None


def _restore_rng_state(state: dict | None) -> None:
    if not state:
        return
    try:
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
        name, keys, position, has_gauss, cached = state["numpy"]
        np.random.set_state((name, np.asarray(keys, dtype=np.uint32), position, has_gauss, cached))
        paddle.set_rng_state(state["paddle"])
    except Exception:  # noqa: BLE001
        pass


def _scaler_state(scaler) -> dict:
    """GradScaler state with arrays as lists (``load_state_dict`` reads ``state["scale"][0]``)."""
    if scaler is None:
        return {}
    return {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in scaler.state_dict().items()}


def _save_checkpoint(path: Path, *, net, optimizer, scaler, scheduler, history: History, seed: int) -> None:
    state = {
        "format": CHECKPOINT_FORMAT,
        "epoch": history.epochs,
        "seed": seed,
        "model": net.state_dict(),
        "optimizer": _portable_optimizer_state(optimizer, net),
        "scaler": _scaler_state(scaler),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "history": history.to_dict(),
        "rng": _rng_state(),
        "paddle_version": paddle.__version__,
    }
    write_file(path, lambda temporary: paddle.save(state, temporary))


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read a checkpoint written by :func:`fit`.

    Keys: ``format``, ``epoch`` (completed epochs), ``seed`` (base seed), ``model`` (state
    dict), ``optimizer`` (state keyed by structured parameter names), ``scaler``
    (GradScaler state), ``scheduler`` (LRScheduler state or None), ``history``
    (:meth:`History.to_dict`), ``rng`` (Python/NumPy/Paddle generator states) and
    ``paddle_version``.
    """
    state = paddle.load(str(path))
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: expected a fundus_utils.engine.loop checkpoint ({CHECKPOINT_FORMAT}), "
                         "found something else (a weights-only .pdparams file?)")
    return state


def load_weights(model: paddle.nn.Layer, path: str | os.PathLike) -> paddle.nn.Layer:
    """Load weights from a :func:`fit` checkpoint or a plain ``.pdparams`` state dict into ``model``."""
    state = paddle.load(str(path))
    if isinstance(state, dict) and state.get("format") == CHECKPOINT_FORMAT:
        state = state["model"]
    _set_weights(_unwrap(model), state, path)
    return model


def _check_weights_fit(net: paddle.nn.Layer, state: dict, source) -> None:
    expected, found = set(net.state_dict()), set(state)
    if expected != found:
        raise ValueError(f"{source}: weights do not fit {type(net).__name__}: missing "
                         f"{sorted(expected - found)[:5]}, unexpected {sorted(found - expected)[:5]}")


def _set_weights(net: paddle.nn.Layer, state: dict, source) -> None:
    _check_weights_fit(net, state, source)
    net.set_state_dict(state)


def _resume_from(path: Path, *, net, optimizer, scaler, scheduler) -> tuple[int, History, int | None]:
    """Restore everything from ``path``; returns (completed epochs, history, base seed)."""
    state = load_checkpoint(path)
    _check_weights_fit(net, state["model"], path)
    _materialise_optimizer_state(optimizer, net)
    _set_weights(net, state["model"], path)
    _restore_optimizer_state(optimizer, net, state["optimizer"])
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.set_state_dict(state["scheduler"])
    _restore_rng_state(state.get("rng"))
    return int(state["epoch"]), History.from_dict(state["history"]), state.get("seed")


# --------------------------------------------------------------------------- fit helpers
def epoch_seed(base_seed: int, epoch: int) -> int:
    """The seed of 0-based ``epoch`` in a run with ``base_seed`` (independent streams per epoch)."""
    return int(np.random.SeedSequence([int(base_seed), int(epoch)]).generate_state(1)[0] % 2**31)


def _seed_epoch(base_seed: int, epoch: int, loader) -> None:
    seed = epoch_seed(base_seed, epoch)
    random.seed(seed)
    np.random.seed(seed)
    paddle.seed(seed)
    if isinstance(getattr(loader, "batch_sampler", None), paddle.io.DistributedBatchSampler):
        loader.batch_sampler.set_epoch(seed)


def _build_optimizer(net, optimizer, lr: float, scheduler, grad_clip):
    """Adam(lr or scheduler) unless an optimizer is given; checks the scheduler/clip wiring."""
    clip = paddle.nn.ClipGradByGlobalNorm(float(grad_clip)) if grad_clip is not None else None
    if optimizer is None:
        return paddle.optimizer.Adam(learning_rate=scheduler if scheduler is not None else lr,
                                     parameters=net.parameters(), grad_clip=clip)
    if scheduler is not None and getattr(optimizer, "_learning_rate", None) is not scheduler:
        raise ValueError("fit(scheduler=...) with your own optimizer: build the optimizer with "
                         "learning_rate=scheduler (the same object) so that stepping it changes the rate")
    if grad_clip is not None:
        raise ValueError("fit(grad_clip=...) with your own optimizer: pass "
                         f"grad_clip=paddle.nn.ClipGradByGlobalNorm({grad_clip}) to the optimizer instead")
    return optimizer


def _resolve_amp(amp: bool | None, device: str, announce: bool) -> bool:
    on_gpu = device.startswith("gpu")
    if amp and not on_gpu:
        if announce:
            print("Note: amp=True ignored: float16 mixed precision needs a GPU; training in float32 on CPU.")
        return False
    return on_gpu if amp is None else bool(amp)


def _step_scheduler(scheduler, loss: float) -> None:
    if scheduler is None:
        return
    if isinstance(scheduler, paddle.optimizer.lr.ReduceOnPlateau):
        scheduler.step(loss)
    else:
        scheduler.step()


def _open_scalar_writer(log_dir):
    """A VisualDL LogWriter, or None (with one printed note) when VisualDL is not installed."""
    if log_dir is None:
        return None
    try:
        from visualdl import LogWriter
    except ImportError:
        print(f"Note: VisualDL is not installed, so no scalars are logged to {log_dir} (pip install visualdl).")
        return None
    return LogWriter(logdir=str(log_dir))


def _log_scalars(writer, history: History) -> None:
    if writer is None:
        return
    row = history.last
    for tag, key in (("train/loss", "train_loss"), ("train/acc", "train_acc"), ("valid/loss", "valid_loss"),
                     ("valid/acc", "valid_acc"), ("valid/auc", "valid_auc"), ("lr", "lr")):
        if math.isfinite(row[key]):
            writer.add_scalar(tag=tag, value=row[key], step=row["epoch"])


def _format_epoch(row: dict, epochs: int) -> str:
    width = len(str(epochs))
    valid = ("valid -" if not math.isfinite(row["valid_loss"]) else
             f"valid loss {row['valid_loss']:.4f} acc {row['valid_acc']:.4f} AUC {row['valid_auc']:.4f}")
    return (f"epoch {row['epoch']:>{width}}/{epochs}  train loss {row['train_loss']:.4f} "
            f"acc {row['train_acc']:.4f} | {valid} | {row['seconds']:.1f} s, {row['images_per_s']:.1f} img/s")


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
class _Run:
    """What one fit call trains with."""

    model: paddle.nn.Layer          # what forward is called on (DataParallel in a multi-process run)
    optimizer: Any
    scaler: Any
    amp: bool
    aux_weights: Sequence[float]
    epochs: int
    show_progress: bool
    head: _Head | None = None
    image_shape: list | None = None


def _train_one_epoch(run: _Run, loader, epoch: int) -> dict:
    """One pass over ``loader``; returns loss/acc summed over processes, and timing."""
    run.model.train()
    loss_sum, seen, correct = 0.0, 0, []
    start = time.perf_counter()
    with progress(total=_loader_length(loader), desc=f"epoch {epoch + 1}/{run.epochs}", leave=False,
                  disable=not run.show_progress, unit="batch") as bar:
        for step, batch in enumerate(loader, start=1):
            images, labels = batch[0], batch[1]
            with paddle.amp.auto_cast(enable=run.amp, level="O1"):
                outputs = run.model(images)
            if run.head is None:
                run.head = _Head(int(_split_outputs(outputs)[0].shape[-1]))
                run.head.check_labels(labels)
                run.image_shape = list(images.shape[1:])
            loss = _training_loss(run.head, outputs, labels, run.aux_weights)
            _backward_and_step(loss, run.optimizer, run.scaler)
            loss_value = float(loss)
            if not math.isfinite(loss_value):
                raise TrainingDiverged(epoch + 1, step, loss_value, run.optimizer.get_lr())
            batch_size = int(labels.shape[0])
            loss_sum += loss_value * batch_size
            seen += batch_size
            correct.append(run.head.correct(_split_outputs(outputs)[0], labels))
            bar.update(1)
            bar.set_postfix_str(f"loss {loss_sum / seen:.4f}", refresh=False)
    seconds = time.perf_counter() - start
    correct_total = int(paddle.add_n(correct)) if correct else 0
    loss_sum, correct_total, seen = _sum_over_processes([loss_sum, correct_total, seen])
    if not seen:
        raise ValueError("fit: the training loader yielded no batches")
    return {"loss": loss_sum / seen, "acc": correct_total / seen, "images": seen, "seconds": seconds}


def _results_file(results_path, run_name) -> Path | None:
    if results_path is not None:
        return Path(results_path)
    if run_name is not None:
        return runs_dir() / run_name / RESULTS_NAME
    return None


def _model_size(net: paddle.nn.Layer, input_shape) -> tuple[int, int | None]:
    """(parameter count, FLOPs or None): a results file records both."""
    from .. import inspection
    params = inspection.count_params(net)
    try:
        flops = inspection.count_flops(net, tuple(input_shape))
    except Exception as error:  # noqa: BLE001 - a FLOPs count must not cost a finished training run
        print(f"Note: FLOPs not counted ({type(error).__name__}: {error}).")
        flops = None
    return int(params), (None if flops is None else int(flops))


def _json_safe(value):
    """NaN/inf -> None, NumPy scalars/arrays -> Python, recursively (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _write_results(path: Path, *, net, run: _Run, history: History, run_name, device: str,
                   train_loader, input_shape, final_metrics: dict | None) -> None:
    params, flops = _model_size(net, input_shape)
    image_shape = run.image_shape or list(input_shape[1:])
    results = {
        "architecture": run_name or type(net).__name__,
        "model_class": type(net).__name__,
        "parameters": params,
        "flops": flops,
        "flops_input_shape": list(input_shape),
        "epochs": history.epochs,
        "seconds_per_epoch": float(np.mean(history.seconds)) if history.epochs else None,
        "monitor": history.monitor,
        "best_epoch": history.best_epoch,
        "best_valid_acc": (history.best or {}).get("valid_acc"),
        "best_valid_auc": (history.best or {}).get("valid_auc"),
        "final_valid_acc": (history.last or {}).get("valid_acc"),
        "final_valid_auc": (history.last or {}).get("valid_auc"),
        "best": history.best,
        "final": history.last,
        "final_metrics": {k: v for k, v in (final_metrics or {}).items() if k not in ("probs", "labels")},
        "device": runtime.device_description(device),
        "amp": run.amp,
        "world_size": runtime.world_size(),
        "paddle_version": paddle.__version__,
        "data_kind": getattr(getattr(train_loader, "dataset", None), "source_kind", "unknown"),
        "image_size": image_shape[-1] if image_shape[-1] == image_shape[-2] else image_shape[-2:],
        "batch_size": _batch_size_of(train_loader),
        "history": history.to_dict(),
        "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    text = json.dumps(_json_safe(results), indent=2, allow_nan=False)
    write_file(path, lambda temporary: Path(temporary).write_text(text + "\n", encoding="utf-8"))


# --------------------------------------------------------------------------- fit
def fit(model: paddle.nn.Layer, train_loader: paddle.io.DataLoader,
        valid_loader: paddle.io.DataLoader | None, *, epochs: int, optimizer=None, lr: float = 1e-3,
        scheduler: paddle.optimizer.lr.LRScheduler | None = None, grad_clip: float | None = None,
        aux_weights: Sequence[float] = (1.0, 0.3, 0.3), amp: bool | None = None,
        checkpoint_dir: str | os.PathLike | None = None, resume: bool = False, monitor: str = "auc",
        log_dir: str | os.PathLike | None = None, run_name: str | None = None,
        results_path: str | os.PathLike | None = None, input_shape: Sequence[int] = (1, 3, 224, 224),
        verbose: bool = True, seed: int | None = None) -> History:
    """Train ``model`` for ``epochs`` epochs in total, evaluating on ``valid_loader`` after each.

    * ``optimizer``: default ``Adam(learning_rate=lr)``. With ``scheduler`` (an
      ``paddle.optimizer.lr.LRScheduler``) the default optimizer uses the scheduler as its
      learning rate and ``lr`` is ignored; a scheduler is stepped once per epoch
      (``ReduceOnPlateau`` with the validation loss). With your own optimizer, build it with
      ``learning_rate=scheduler`` and pass the same scheduler here, so that it is stepped and
      checkpointed, and give it ``grad_clip`` yourself.
    * ``grad_clip``: clip gradients to this global norm (``ClipGradByGlobalNorm``).
    * ``amp``: float16 autocast + GradScaler; default on for GPU, off for CPU.
    * ``checkpoint_dir``/``resume``: see the module docstring; ``epochs`` counts the epochs
      already in the checkpoint, so ``fit(..., epochs=10, resume=True)`` after 4 trains 6.
    * ``monitor``: ``"auc"``, ``"acc"`` (higher is better) or ``"loss"`` (lower is better) on
      the validation set; decides ``best.pdckpt`` and :attr:`History.best_epoch`.
    * ``log_dir``: VisualDL scalars, when ``visualdl`` is installed.
    * ``run_name``/``results_path``: write a results JSON to ``results_path``, or to
      ``runs_dir()/run_name/results.json``; ``input_shape`` is what FLOPs are counted at.
    * ``seed``: base of the per-epoch seeds; default the checkpoint's seed when resuming,
      else the last :func:`fundus_utils.engine.runtime.set_seed` value, else 0.

    Under ``python -m paddle.distributed.launch`` the model is wrapped in
    ``paddle.DataParallel``, the training batches are split with ``DistributedBatchSampler``
    and validation metrics are gathered from all ranks; only rank 0 prints and writes files.
    After fit the model is in eval mode, holding the weights of the last epoch.
    """
    if monitor not in MONITOR_DIRECTIONS:
        raise ValueError(f"monitor must be one of {sorted(MONITOR_DIRECTIONS)}, got {monitor!r}")
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs checkpoint_dir (the folder holding last.pdckpt)")
    device = runtime.pick_device()
    distributed = runtime.init_distributed()
    main_process = runtime.is_main_process()
    net = _unwrap(model)
    use_amp = _resolve_amp(amp, device, announce=verbose and main_process)
    optimizer = _build_optimizer(net, optimizer, lr, scheduler, grad_clip)
    scaler = paddle.amp.GradScaler(init_loss_scaling=2.0 ** 15) if use_amp else None
    history, seed_in_checkpoint = History(monitor=monitor), None
    if resume:
        history, seed_in_checkpoint = _resume_if_possible(
            checkpoint_path(checkpoint_dir, "last"), monitor, verbose and main_process,
            net=net, optimizer=optimizer, scaler=scaler, scheduler=scheduler)
    base_seed = next(s for s in (seed, seed_in_checkpoint, runtime.current_seed(), 0) if s is not None)
    run = _Run(model=paddle.DataParallel(net) if distributed else net, optimizer=optimizer, scaler=scaler,
               amp=use_amp, aux_weights=tuple(aux_weights), epochs=epochs,
               show_progress=verbose and main_process)
    train_batches = _distributed_train_loader(train_loader) if distributed else train_loader
    writer = _open_scalar_writer(log_dir) if main_process else None
    final_metrics = None
    try:
        for epoch in range(history.epochs, epochs):
            _seed_epoch(base_seed, epoch, train_batches)
            start = time.perf_counter()
            learning_rate = optimizer.get_lr()
            trained = _train_one_epoch(run, train_batches, epoch)
            final_metrics = evaluate(run.model, valid_loader, amp=use_amp) if valid_loader is not None else None
            history.append(**_epoch_record(trained, final_metrics, learning_rate, time.perf_counter() - start))
            _step_scheduler(scheduler, history.valid_loss[-1] if final_metrics else trained["loss"])
            if main_process:
                _end_of_epoch_outputs(history, epochs, verbose, writer, checkpoint_dir, net=net,
                                      optimizer=optimizer, scaler=scaler, scheduler=scheduler, seed=base_seed)
    finally:
        if writer is not None:
            writer.close()
    net.eval()
    results_file = _results_file(results_path, run_name)
    if main_process and results_file is not None:
        _write_results(results_file, net=net, run=run, history=history, run_name=run_name, device=device,
                       train_loader=train_loader, input_shape=input_shape, final_metrics=final_metrics)
    runtime.barrier()
    return history


def _resume_if_possible(path: Path, monitor: str, announce: bool, **state) -> tuple[History, int | None]:
    """Restore from ``path`` if it exists; returns (history, base seed of the checkpoint)."""
    if not path.is_file():
        if announce:
            print(f"Note: no checkpoint at {path}; starting from scratch.")
        return History(monitor=monitor), None
    _, history, seed = _resume_from(path, **state)
    history.monitor = monitor
    if announce:
        print(f"Resuming from {path} after epoch {history.epochs}.")
    return history, seed


def _epoch_record(trained: dict, valid: dict | None, learning_rate: float, seconds: float) -> dict:
    """One History row from the training pass and the evaluation (NaN without validation)."""
    valid = valid or {}
    return {"train_loss": trained["loss"], "train_acc": trained["acc"], "valid_loss": valid.get("loss", NAN),
            "valid_acc": valid.get("accuracy", NAN), "valid_auc": valid.get("auc", NAN),
            "valid_sensitivity": valid.get("sensitivity", NAN),
            "valid_specificity": valid.get("specificity", NAN), "lr": learning_rate, "seconds": seconds,
            "images_per_s": trained["images"] / max(trained["seconds"], 1e-9)}


def _end_of_epoch_outputs(history: History, epochs: int, verbose: bool, writer, checkpoint_dir, **state) -> None:
    """Rank 0's per-epoch work: summary line, VisualDL scalars, last/best checkpoints."""
    if verbose:
        print(_format_epoch(history.last, epochs), flush=True)
    _log_scalars(writer, history)
    if checkpoint_dir is None:
        return
    last = checkpoint_path(checkpoint_dir, "last")
    _save_checkpoint(last, history=history, **state)
    if history.best_epoch == history.epochs and math.isfinite(history.valid_loss[-1]):
        write_file(checkpoint_path(checkpoint_dir, "best"), lambda temporary: shutil.copyfile(last, temporary))
