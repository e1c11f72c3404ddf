"""Loader speed: the seed-style loader vs our first pass vs a cached epoch, measured in one run.

Makes full-size (2124 x 2056) JPEGs from the sample renderer, then times, alternating
rounds so that machine noise hits all three alike:
  (a) seed: ``cv2.imread`` full decode + ``cv2.resize`` (bilinear), one process — how the
      public course loads images, every epoch;
  (b) first pass: ``fundus_utils.data.cache.cached_images`` — reduced-resolution decode, INTER_AREA,
      parallel threads, written to the on-disk cache;
  (c) cached epoch: one pass over a ``FundusImages`` dataset reading that cache (uint8 ->
      normalised CHW float32, exactly what training receives).
The last line printed is JSON: {"seed_img_s", "first_pass_img_s", "cached_img_s",
"first_pass_ratio", "cached_ratio", ...}.

    python benchmarks/loader.py [--images 24] [--rounds 3]
    python benchmarks/loader.py --smoke     # a few seconds: 6 small JPEGs, one round (the tests)
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
from fundus_utils.samples.camera import render_sample_image  # noqa: E402
from fundus_utils.samples.retina import FULL_IMAGE_SIZE  # noqa: E402

CACHED_REPEATS = 20  # passes over the cache per timing: one pass is too short to time
# --smoke: the same code path on tiny sizes, so that a moved name fails a test, not a benchmark
# nobody runs. Its numbers say nothing about speed.
SMOKE = {"images": 6, "rounds": 1, "source_size": (354, 343), "cached_repeats": 2}


def make_jpegs(folder: Path, n: int, size: tuple[int, int] = FULL_IMAGE_SIZE) -> list[Path]:
    """``n`` sample JPEGs (q95) of ``size`` (w, h), cycling through the classes P, H, N."""
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        kind = "PHN"[i % 3]
        rgb, _ = render_sample_image(kind, rng, size)
        path = folder / f"{kind}{i:04d}.jpg"
        ok, encoded = cv2.imencode(
            ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95]
        )
        if not ok:
            raise RuntimeError(f"{path}: cv2.imencode could not encode a {rgb.shape} image")
        encoded.tofile(str(path))
        paths.append(path)
    return paths


def seed_loader(paths: list[Path]) -> float:
    """Images per second of the public course's loader: full decode, bilinear resize, BGR->RGB."""
    start = time.perf_counter()
    for p in paths:
        bgr = cv2.imread(str(p))  # noqa: TID251 - the seed baseline, on purpose; ASCII paths
        if bgr is None:
            raise RuntimeError(f"{p}: cv2.imread could not read it (expected a JPEG)")
        cv2.cvtColor(cv2.resize(bgr, (IMAGE_SIZE, IMAGE_SIZE)), cv2.COLOR_BGR2RGB)
    return len(paths) / (time.perf_counter() - start)


def first_pass(paths: list[Path], cache_dir: Path) -> float:
    """Images per second of building the cache from nothing (what a first epoch pays)."""
    shutil.rmtree(cache_dir, ignore_errors=True)
    start = time.perf_counter()
    cached_images(paths, IMAGE_SIZE, cache_dir, "bench", progress=False)
    return len(paths) / (time.perf_counter() - start)


def cached_epoch(paths: list[Path], cache_dir: Path, repeats: int = CACHED_REPEATS) -> float:
    """Images per second of reading the cache as training does (every later epoch)."""
    images = cached_images(paths, IMAGE_SIZE, cache_dir, "bench", progress=False)
    data = FundusImages(images, [0] * len(paths), [p.name for p in paths])
    start = time.perf_counter()
    for _ in range(repeats):
        for i in range(len(data)):
            data[i]
    return repeats * len(paths) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes, one round: checks the code path only"
    )
    args = parser.parse_args(argv)
    if args.images < 1 or args.rounds < 1:
        parser.error(f"--images and --rounds: expected >= 1, found {args.images}, {args.rounds}")
    images, rounds = args.images, args.rounds
    size, repeats = FULL_IMAGE_SIZE, CACHED_REPEATS
    if args.smoke:
        images, rounds = SMOKE["images"], SMOKE["rounds"]
        size, repeats = SMOKE["source_size"], SMOKE["cached_repeats"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"rendering {images} JPEGs of {size[0]}x{size[1]} …", flush=True)
        paths = make_jpegs(folder, images, size)
        seed_loader(paths[:3])  # warm the page cache and OpenCV
        rates: dict[str, list[float]] = {"seed": [], "first_pass": [], "cached": []}
        for r in range(rounds):
            rates["seed"].append(seed_loader(paths))
            rates["first_pass"].append(first_pass(paths, folder / "cache"))
            rates["cached"].append(cached_epoch(paths, folder / "cache", repeats))
            print(
                f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.1f} img/s" for k, v in rates.items()),
                flush=True,
            )
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(
        f"first pass {med['first_pass'] / med['seed']:.1f}x the seed loader (target >= 5x); "
        f"cached epoch {med['cached'] / med['seed']:.0f}x (target >= 100x)"
        + (" [smoke: tiny sizes, not a measurement]" if args.smoke else "")
    )
    print(
        json.dumps(
            {
                "seed_img_s": round(med["seed"], 1),
                "first_pass_img_s": round(med["first_pass"], 1),
                "cached_img_s": round(med["cached"], 1),
                "first_pass_ratio": round(med["first_pass"] / med["seed"], 2),
                "cached_ratio": round(med["cached"] / med["seed"], 1),
                "images": images,
                "rounds": rounds,
                "source_size": list(size),
                "smoke": args.smoke,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
