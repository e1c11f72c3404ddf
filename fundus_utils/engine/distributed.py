"""Loaders and reductions for data-parallel training under ``paddle.distributed.launch``:
the training batches are split with ``DistributedBatchSampler``, the validation set is sharded
and its rows gathered back. Taught in 07_compare, section on scale-out."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import paddle
import paddle.distributed as dist

from . import runtime

__all__: list[str] = []  # internal: nothing here is part of the flat API (fu.<name>)


def batch_size_of(loader: paddle.io.DataLoader) -> int | None:
    sampler = getattr(loader, "batch_sampler", None)
    return getattr(sampler, "batch_size", None) or getattr(loader, "batch_size", None)


def _is_map_style(loader: paddle.io.DataLoader) -> bool:
    dataset = loader.dataset
    return not isinstance(dataset, paddle.io.IterableDataset) and hasattr(dataset, "__len__")


def _rebuild_loader(loader: paddle.io.DataLoader, dataset, batch_sampler) -> paddle.io.DataLoader:
    """A DataLoader like ``loader`` (workers, collate_fn, ...) over ``dataset`` /
    ``batch_sampler``."""
    return paddle.io.DataLoader(
        dataset,
        batch_sampler=batch_sampler,
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        use_shared_memory=loader.use_shared_memory,
        timeout=loader.timeout,
        worker_init_fn=loader.worker_init_fn,
        return_list=loader.return_list,
    )


def distributed_train_loader(loader: paddle.io.DataLoader) -> paddle.io.DataLoader:
    """``loader`` with a ``DistributedBatchSampler`` (same batch size, shuffle and drop_last)."""
    if isinstance(loader.batch_sampler, paddle.io.DistributedBatchSampler):
        return loader
    if not _is_map_style(loader):
        raise ValueError(
            "data-parallel training needs a map-style dataset (with __len__ and __getitem__)"
        )
    sampler = loader.batch_sampler
    distributed = paddle.io.DistributedBatchSampler(
        loader.dataset,
        batch_size=batch_size_of(loader),
        shuffle=isinstance(getattr(sampler, "sampler", None), paddle.io.RandomSampler),
        drop_last=bool(getattr(sampler, "drop_last", False)),
    )
    return _rebuild_loader(loader, loader.dataset, distributed)


def eval_shard(loader: paddle.io.DataLoader) -> tuple[paddle.io.DataLoader, int | None]:
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
    sampler = paddle.io.BatchSampler(subset, batch_size=batch_size_of(loader) or 1, shuffle=False)
    return _rebuild_loader(loader, subset, sampler), total


def gather_rows(local: np.ndarray, total: int) -> np.ndarray:
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


def sum_over_processes(values: Sequence[float]) -> list[float]:
    """Element-wise sum of ``values`` over all processes (identity in a single process)."""
    if not (runtime.is_distributed() and dist.is_initialized()):
        return list(values)
    tensor = paddle.to_tensor(np.asarray(values, dtype=np.float64))
    dist.all_reduce(tensor)
    return tensor.numpy().tolist()


def loader_length(loader) -> int | None:
    try:
        return len(loader)
    except TypeError:
        return None
