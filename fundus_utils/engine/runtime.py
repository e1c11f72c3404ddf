"""Process-level settings: random seeds, the compute device and multi-process (data-parallel) facts.

Multi-process runs are started with ``python -m paddle.distributed.launch --nproc_per_node N
script.py``; the launcher sets ``PADDLE_TRAINERS_NUM`` (world size) and ``PADDLE_TRAINER_ID``
(rank) for every process, which is what the helpers below read.
"""

from __future__ import annotations

import gc
import os
import random

import numpy as np
import paddle
import paddle.distributed as dist

from ..core.modes import gpu_available

__all__ = [
    "set_seed",
    "pick_device",
    "world_size",
    "rank",
    "is_main_process",
    "release_gpu_memory",
]

_state = {"seed": None, "announced": False}


def set_seed(seed: int) -> int:
    """Seed Python's ``random``, NumPy's global generator and Paddle (CPU and GPU); returns
    ``seed``.

    Taught in 00_data, §7.

    The seed is remembered (:func:`current_seed`): :func:`fundus_utils.fit` derives its
    per-epoch seeds from it.
    """
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    paddle.seed(seed)
    _state["seed"] = seed
    return seed


def current_seed() -> int | None:
    """The seed last given to :func:`set_seed` in this process, or ``None``."""
    return _state["seed"]


def world_size() -> int:
    """Number of training processes (1 unless started by ``paddle.distributed.launch``).

    Taught in 07_compare, §5.
    """
    return int(os.environ.get("PADDLE_TRAINERS_NUM", "1"))


def rank() -> int:
    """This process's index among the training processes (0 in a single-process run).

    Not used in the notebooks; used by fu.is_main_process and the distributed loaders.
    """
    return int(os.environ.get("PADDLE_TRAINER_ID", "0"))


def is_distributed() -> bool:
    """True when several processes train together."""
    return world_size() > 1


def is_main_process() -> bool:
    """True on rank 0, the process that prints, shows progress bars and writes files.

    Taught in 07_compare, §5.
    """
    return rank() == 0


def init_distributed() -> bool:
    """Initialise Paddle's parallel environment once when world size > 1; True if distributed."""
    if not is_distributed():
        return False
    if not dist.is_initialized():
        dist.init_parallel_env()
    return True


def barrier() -> None:
    """Wait for all processes (no-op in a single-process run)."""
    if is_distributed() and dist.is_initialized():
        dist.barrier()


def _local_gpu_id() -> int:
    """The GPU the launcher assigned to this process (``FLAGS_selected_gpus``), else 0."""
    selected = os.environ.get("FLAGS_selected_gpus", "")
    return int(selected.split(",")[0]) if selected.strip() else 0


def pick_device() -> str:
    """Use the GPU when Paddle has CUDA and sees one, else the CPU; set it and return its name.

    Taught in 00_data, setup cells (before §1); every notebook calls it there.

    Returns ``"gpu:0"`` (``"gpu:<assigned id>"`` in a multi-process run) or ``"cpu"``.
    Announces the choice once per process, on the main process only,
    e.g. ``Device: cpu (Paddle 3.3.1)``.
    """
    device = f"gpu:{_local_gpu_id() if is_distributed() else 0}" if gpu_available() else "cpu"
    paddle.set_device(device)
    if not _state["announced"] and is_main_process():
        print(f"Device: {device} (Paddle {paddle.__version__})")
    _state["announced"] = True
    return device


def gpu_capability(device: str) -> tuple[int, int] | None:
    """The compute capability ``(major, minor)`` of a GPU device, or None when unknown."""
    try:
        index = int(device.split(":")[1]) if ":" in device else 0
        major, minor = paddle.device.cuda.get_device_capability(index)
        return int(major), int(minor)
    except Exception:  # noqa: BLE001 - unknown is an answer: the caller keeps its default
        return None


def device_description(device: str) -> str:
    """``device`` with the GPU model when it is a GPU, for results files."""
    if device.startswith("gpu"):
        try:
            return f"{device} ({paddle.device.cuda.get_device_name(int(device.split(':')[1]))})"
        except Exception:  # noqa: BLE001 - the name is a nicety, never worth a crash
            return device
    return device


def release_gpu_memory(namespace: dict | None = None) -> int:
    """On a GPU, drop the networks, optimizers and tensors named in ``namespace`` (a notebook's
    ``globals()``) and return Paddle's cached blocks to the driver; returns how many names went.

    Taught in 01_lenet (its last cell); 02_alexnet to 06_convmixer end with it too: Paddle's
    allocator keeps its peak, so an open kernel would starve the next notebook of GPU memory.
    Does nothing on a CPU (the memory is the process's and goes with the kernel), so a learner
    can keep exploring there.
    """
    if not paddle.device.get_device().startswith("gpu"):
        return 0
    held = (paddle.nn.Layer, paddle.optimizer.Optimizer, paddle.Tensor, paddle.io.DataLoader)
    names = [
        k for k, v in (namespace or {}).items() if not k.startswith("_") and isinstance(v, held)
    ]
    for name in names:
        del namespace[name]
    gc.collect()
    paddle.device.cuda.empty_cache()
    allocated = paddle.device.cuda.memory_allocated() / 2**20
    print(
        f"Released {len(names)} network(s), optimizer(s) and tensor(s); {allocated:.0f} MiB "
        "of GPU memory still allocated."
    )
    return len(names)
