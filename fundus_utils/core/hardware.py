"""What this machine offers the course: usable CPU cores, and a GPU that really works.

A GPU that Paddle *sees* is not a GPU that works: PyPI's ``paddlepaddle-gpu`` 2.6.2 needs a
locally installed CUDA toolkit and cuDNN, and without them the first GPU operation fails (or no
device is counted). :func:`gpu_status` therefore runs one small convolution on the GPU before the
course chooses full mode, and says in one line why not when it fails. Inside a container,
``os.cpu_count()`` reports the host's cores; :func:`usable_cpu_count` reads the process's CPU
affinity and its cgroup quota instead.

Taught in 07_compare, §5 (devices); ``python -m fundus_utils check`` prints all of it.
"""

from __future__ import annotations

import functools
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["GpuStatus", "gpu_status", "usable_cpu_count", "distributed_unavailable"]

GIB = 2**30
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # cgroup v2: "<quota> <period>" or "max <period>"
CGROUP_V1_QUOTA = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
CGROUP_V1_PERIOD = Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")


@dataclass(frozen=True)
class GpuStatus:
    """The first GPU as Paddle sees it, and whether a convolution ran on it.

    Not used in the notebooks; returned by fu.gpu_status.
    """

    works: bool
    reason: str  # one line: why the GPU is used, or why not
    name: str = ""
    total_memory: int = 0  # bytes
    capability: tuple[int, int] | None = None
    device_count: int = 0

    def describe(self) -> str:
        if not self.works:
            return f"no usable GPU: {self.reason}"
        capability = (
            f", compute capability {self.capability[0]}.{self.capability[1]}"
            if (self.capability)
            else ""
        )
        return f"GPU {self.name}, {self.total_memory / GIB:.1f} GiB{capability}"


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:200]


def probe_gpu() -> GpuStatus:
    """Query Paddle, then run one 3x3 convolution on ``gpu:0``; never raises."""
    import paddle  # only here: the core layer stays Paddle-free on import

    try:
        if not paddle.device.is_compiled_with_cuda():
            return GpuStatus(False, f"this Paddle {paddle.__version__} is the CPU build")
        count = int(paddle.device.cuda.device_count())
    except Exception as error:  # noqa: BLE001 - a broken CUDA install must not stop the course
        return GpuStatus(False, f"Paddle cannot query its GPUs ({_first_line(error)})")
    if count < 1:
        return GpuStatus(
            False, "the GPU build of Paddle sees no GPU (driver, CUDA_VISIBLE_DEVICES?)"
        )
    previous = paddle.device.get_device()
    try:
        paddle.set_device("gpu:0")
        image = paddle.ones([1, 3, 8, 8])
        kernel = paddle.ones([4, 3, 3, 3])
        value = float(paddle.nn.functional.conv2d(image, kernel).sum())
        if not math.isclose(value, 4 * 6 * 6 * 27):
            raise RuntimeError(f"a test convolution gave {value}, expected {4 * 6 * 6 * 27}")
        properties = paddle.device.cuda.get_device_properties(0)
    except Exception as error:  # noqa: BLE001
        return GpuStatus(
            False,
            "a test convolution failed on the GPU, so this Paddle cannot use it (PyPI's "
            "paddlepaddle-gpu 2.6.2 needs a local CUDA toolkit and cuDNN; Paddle 3.x GPU wheels "
            f"from Paddle's own index bring them): {_first_line(error)}",
            device_count=count,
        )
    finally:
        paddle.set_device(previous)
    return GpuStatus(
        True,
        "a test convolution ran on it",
        name=str(properties.name),
        total_memory=int(properties.total_memory),
        capability=(int(properties.major), int(properties.minor)),
        device_count=count,
    )


@functools.lru_cache(maxsize=1)
def gpu_status() -> GpuStatus:
    """The GPU's status, probed once per process (see :func:`probe_gpu`).

    Not used in the notebooks; used by fu.run_mode, fu.pick_device and the check command.
    """
    return probe_gpu()


def _cgroup_quota() -> float | None:
    """CPUs allowed by the cgroup's quota (e.g. 2.0), or None when unlimited or unknown."""
    try:
        if CGROUP_CPU_MAX.is_file():
            quota, period = CGROUP_CPU_MAX.read_text(encoding="utf-8").split()[:2]
            return None if quota == "max" else int(quota) / int(period)
        if CGROUP_V1_QUOTA.is_file() and CGROUP_V1_PERIOD.is_file():
            quota = int(CGROUP_V1_QUOTA.read_text(encoding="utf-8"))
            period = int(CGROUP_V1_PERIOD.read_text(encoding="utf-8"))
            return None if quota <= 0 else quota / period
    except (OSError, ValueError):
        return None
    return None


def usable_cpu_count() -> int:
    """CPU cores this process may use: its affinity mask, capped by a cgroup quota.

    Not used in the notebooks; used by the course runner, the image cache and data preparation.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS, Windows
        cores = os.cpu_count() or 1
    quota = _cgroup_quota()
    if quota is not None:
        cores = min(cores, max(1, math.floor(quota)))
    return max(1, cores)


def distributed_unavailable(platform: str = sys.platform) -> str | None:
    """Why ``paddle.distributed.launch`` cannot run here (one line), or None when it can.

    Taught in 07_compare, §5, which skips its scale-out run with this reason.
    """
    if platform.startswith("win"):
        return (
            "Paddle documents paddle.distributed (the launcher, DataParallel) as unsupported on "
            "Windows"
        )
    return None
