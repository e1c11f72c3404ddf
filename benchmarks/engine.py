"""Engine overhead: one ``fit`` epoch vs the bare training loop, over the same batches, in one run.

Data: an in-memory uint8 NHWC array (random pixels: speed does not depend on content) turned
into normalised CHW float32 by ``fundus_utils.data.images.to_chw_float`` inside a
``paddle.io.Dataset`` — what the data layer's cached datasets do — behind one
``DataLoader(batch_size, shuffle=True)``.

Compared, like with like (training only; no validation pass on either side):
  (a) bare: ``opt = Adam(...)``, then ``for x, y in loader: loss = BCEWithLogits(model(x), y);
      loss.backward(); opt.step(); opt.clear_grad()`` — the loop a learner would write. A new
      optimizer per round, as fit makes one per call (its state is allocated at the first step);
  (b) fit:  ``fit(model, loader, None, epochs=1)`` — the whole call, wall clock, including
      its setup (device, optimizer), per-epoch seeding, progress bar (stderr), loss/accuracy
      bookkeeping, NaN check and the summary line; no checkpoints or results files.
Rounds alternate (a), (b) — and which of them goes first — so that machine noise hits both
alike; medians are reported. ``*_s`` are wall-clock seconds (``ratio`` = fit_s / bare_s);
``*_cpu_s`` are this process's CPU seconds, less sensitive to other programs on a busy machine.
The last line printed is JSON: {"bare_s", "fit_s", "ratio", "bare_cpu_s", "fit_cpu_s",
"cpu_ratio", ...}.

    python benchmarks/engine.py [--model resnet18|small] [--images 128] [--size 64]
                                [--batch 32] [--rounds 6]
    python benchmarks/engine.py --smoke    # a few seconds: the small CNN, one step, one round
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fundus_utils.data.images import to_chw_float  # noqa: E402
from fundus_utils.engine import loop as train  # noqa: E402
from fundus_utils.engine import runtime

import paddle  # noqa: E402


class InMemoryImages(paddle.io.Dataset):
    """uint8 NHWC images + labels in memory; CHW float32 on access (like the cached datasets)."""

    source_kind = "sample"

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        return to_chw_float(self.images[index]), np.int64(self.labels[index])


def small_cnn() -> paddle.nn.Layer:
    """Three conv-BN-ReLU-pool blocks and a 1-logit linear head."""
    blocks = []
    for c_in, c_out in ((3, 16), (16, 32), (32, 64)):
        blocks += [
            paddle.nn.Conv2D(c_in, c_out, 3, padding=1),
            paddle.nn.BatchNorm2D(c_out),
            paddle.nn.ReLU(),
            paddle.nn.MaxPool2D(2),
        ]
    return paddle.nn.Sequential(
        *blocks, paddle.nn.AdaptiveAvgPool2D(1), paddle.nn.Flatten(), paddle.nn.Linear(64, 1)
    )


MODELS = {"resnet18": lambda: paddle.vision.models.resnet18(num_classes=1), "small": small_cnn}
# --smoke: the same code path on tiny sizes (one batch = one step per epoch, one round), so that
# a moved name fails a test, not a benchmark nobody runs. Its numbers say nothing about speed.
SMOKE = {"model": "small", "images": 4, "size": 32, "batch": 4, "rounds": 1}


def make_loader(n: int, size: int, batch_size: int) -> paddle.io.DataLoader:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    labels = rng.integers(0, 2, n)
    return paddle.io.DataLoader(InMemoryImages(images, labels), batch_size=batch_size, shuffle=True)


def timed(run) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of ``run()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def bare_epoch(model: paddle.nn.Layer, loader: paddle.io.DataLoader) -> None:
    optimizer = paddle.optimizer.Adam(learning_rate=1e-3, parameters=model.parameters())
    model.train()
    for images, labels in loader:
        logits = model(images)
        loss = paddle.nn.functional.binary_cross_entropy_with_logits(
            logits, labels.astype("float32").reshape([-1, 1])
        )
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()


def fit_epoch(model: paddle.nn.Layer, loader: paddle.io.DataLoader) -> None:
    train.fit(model, loader, None, epochs=1, lr=1e-3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=128)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--model", choices=sorted(MODELS), default="resnet18")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes, one step, one round: the code path only"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        for name, value in SMOKE.items():
            setattr(args, name, value)
    for name in ("images", "size", "batch", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name}: expected >= 1, found {getattr(args, name)}")

    runtime.set_seed(0)
    device = runtime.pick_device()
    model = MODELS[args.model]()
    loader = make_loader(args.images, args.size, args.batch)
    print(
        f"{args.model} (1 logit), {args.images} images of {args.size}x{args.size}, "
        f"batch {args.batch}, {len(loader)} steps per epoch, "
        f"{args.rounds} rounds after one warm-up round"
    )
    runs = {"bare": lambda: bare_epoch(model, loader), "fit": lambda: fit_epoch(model, loader)}
    for run in runs.values():  # warm-up: first-call allocations, kernel selection
        run()
    times = {name: [] for name in runs}
    for round_index in range(args.rounds):
        for name in ("bare", "fit") if round_index % 2 == 0 else ("fit", "bare"):
            times[name].append(timed(runs[name]))
    wall = {name: statistics.median(t[0] for t in times[name]) for name in runs}
    cpu = {name: statistics.median(t[1] for t in times[name]) for name in runs}
    for name in runs:
        print(
            f"{name:>4} epochs, wall s: {[round(t[0], 3) for t in times[name]]}  "
            f"CPU s: {[round(t[1], 3) for t in times[name]]}"
        )
    print(
        f"fit epoch {wall['fit'] / wall['bare']:.2f}x the bare loop (wall), "
        f"{cpu['fit'] / cpu['bare']:.2f}x (CPU); medians of {args.rounds} round(s)"
        + (" [smoke: tiny sizes, not a measurement]" if args.smoke else "")
    )
    print(
        json.dumps(
            {
                "bare_s": round(wall["bare"], 4),
                "fit_s": round(wall["fit"], 4),
                "ratio": round(wall["fit"] / wall["bare"], 4),
                "bare_cpu_s": round(cpu["bare"], 4),
                "fit_cpu_s": round(cpu["fit"], 4),
                "cpu_ratio": round(cpu["fit"] / cpu["bare"], 4),
                "model": args.model,
                "rounds": args.rounds,
                "images": args.images,
                "size": args.size,
                "batch": args.batch,
                "device": device,
                "paddle": paddle.__version__,
                "smoke": args.smoke,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
