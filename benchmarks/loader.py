"""Loader speed: the seed-style loader vs our first pass vs a cached epoch, measured in one run.

Makes full-size (2124 x 2056) JPEGs from the sample renderer, then times, alternating
rounds so that machine noise hits all three alike:
  (a) seed: ``cv2.imread`` full decode + ``cv2.resize`` (bilinear), one process — how the
      public course loads images, every epoch;
  (b) first pass: ``fundus_utils.data.cache.cached_images`` — reduced-resolution decode, INTER_AREA,
      parallel threads, written to the on-disk cache;
  (c) cached epoch: one pass over a ``FundusImages`` dataset reading that cache (uint8 ->
      normalised CHW float32, exactly what training receives).
The last line printed is JSON: {"seed_img_s", "first_pass_img_s", "cached_img_s", ...}.

    python benchmarks/loader.py [--images 24] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fundus_utils.core.config import IMAGE_SIZE  # noqa: E402
from fundus_utils.data.cache import cached_images  # noqa: E402
from fundus_utils.data.datasets import FundusImages  # noqa: E402
from fundus_utils.samples.pm import FULL_IMAGE_SIZE, render_sample_image  # noqa: E402


def make_jpegs(folder: Path, n: int) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        rgb, _ = render_sample_image("PHN"[i % 3], rng, FULL_IMAGE_SIZE)
        path = folder / f"{'PHN'[i % 3]}{i:04d}.jpg"
        cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
        paths.append(path)
    return paths


def seed_loader(paths: list[Path]) -> float:
    start = time.perf_counter()
    for p in paths:
        bgr = cv2.imread(str(p))
        cv2.cvtColor(cv2.resize(bgr, (IMAGE_SIZE, IMAGE_SIZE)), cv2.COLOR_BGR2RGB)
    return len(paths) / (time.perf_counter() - start)


def first_pass(paths: list[Path], cache_dir: Path) -> float:
    shutil.rmtree(cache_dir, ignore_errors=True)
    start = time.perf_counter()
    cached_images(paths, IMAGE_SIZE, cache_dir, "bench", progress=False)
    return len(paths) / (time.perf_counter() - start)


def cached_epoch(paths: list[Path], cache_dir: Path, repeats: int = 20) -> float:
    images = cached_images(paths, IMAGE_SIZE, cache_dir, "bench", progress=False)
    data = FundusImages(images, [0] * len(paths), [p.name for p in paths])
    start = time.perf_counter()
    for _ in range(repeats):
        for i in range(len(data)):
            data[i]
    return repeats * len(paths) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(
            f"rendering {args.images} JPEGs of {FULL_IMAGE_SIZE[0]}x{FULL_IMAGE_SIZE[1]} …",
            flush=True,
        )
        paths = make_jpegs(folder, args.images)
        seed_loader(paths[:3])  # warm the page cache and OpenCV
        rates: dict[str, list[float]] = {"seed": [], "first_pass": [], "cached": []}
        for r in range(args.rounds):
            rates["seed"].append(seed_loader(paths))
            rates["first_pass"].append(first_pass(paths, folder / "cache"))
            rates["cached"].append(cached_epoch(paths, folder / "cache"))
            print(
                f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.1f} img/s" for k, v in rates.items()),
                flush=True,
            )
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(
        f"first pass {med['first_pass'] / med['seed']:.1f}x the seed loader (target >= 5x); "
        f"cached epoch {med['cached'] / med['seed']:.0f}x (target >= 100x)"
    )
    print(
        json.dumps(
            {
                "seed_img_s": round(med["seed"], 1),
                "first_pass_img_s": round(med["first_pass"], 1),
                "cached_img_s": round(med["cached"], 1),
                "first_pass_ratio": round(med["first_pass"] / med["seed"], 2),
                "cached_ratio": round(med["cached"] / med["seed"], 1),
            }
        )
    )


if __name__ == "__main__":
    main()
