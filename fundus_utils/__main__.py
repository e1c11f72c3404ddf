"""Command line: ``python -m fundus_utils prepare|sample|course|check|clean|predict …``."""

from __future__ import annotations

import argparse
import json
import sys

from .core.errors import FundusDataError


def _prepare(args: argparse.Namespace) -> int:
    from .data.prepare import prepare_data

    prepared = prepare_data(
        args.source,
        args.workdir,
        sample="full" if args.full_sample else "default",
        progress=not args.json,
        verbose=not args.json,
    )
    if args.json:
        print(json.dumps(prepared.to_json()))
    return 0


def _sample(args: argparse.Namespace) -> int:
    from .samples.pm import write_sample_source

    out = write_sample_source(args.out, full=args.full, seed=args.seed)
    print(f"Sample source written to {out}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from .export import predict_cli

    return predict_cli(args.model_dir, args.images)


def _course(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .core.modes import run_mode
    from .course import DEFAULT_OUT, course_notebooks, run_course

    mode = "quick" if args.quick else (args.budget or run_mode())
    out = Path(args.out) if args.out else DEFAULT_OUT
    notebooks = course_notebooks(args.lang)
    return run_course(mode, out, notebooks=notebooks, jobs=args.jobs, seed=args.seed)


def _check(args: argparse.Namespace) -> int:
    from .check import run_check

    return run_check(steps=args.steps)


def _clean(args: argparse.Namespace) -> int:
    from .core.cleanup import clean_runs, format_cleanup

    print(format_cleanup(clean_runs(dry_run=args.dry_run), args.dry_run))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fundus_utils",
        description="iChallenge-PM data preparation, sample set and prediction.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "prepare", help="find, unpack, label and check the dataset (or the sample set)"
    )
    p.add_argument(
        "--source",
        help="folder holding the three zips or the extracted folders "
        "(default: FUNDUS_DATA, AI Studio mounts, data/, else the sample set)",
    )
    p.add_argument("--workdir", help="writable folder for unpacked data and caches")
    p.add_argument(
        "--full-sample",
        action="store_true",
        help="if falling back to the sample set, use the full 400/400 mirror at 2124x2056",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.set_defaults(run=_prepare)
    s = sub.add_parser("sample", help="write the sample source (the three zips) to a folder")
    s.add_argument("--out", required=True, help="folder to create")
    s.add_argument(
        "--full", action="store_true", help="the full mirror: 400/400 images at 2124x2056"
    )
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(run=_sample)
    c = sub.add_parser("course", help="execute every notebook top to bottom into an output folder")
    c.add_argument("--quick", action="store_true", help="quick mode (as the tests run it)")
    c.add_argument(
        "--budget",
        choices=("cpu", "full"),
        help="cpu: a few epochs on the 400/400 sample set at 64-96 px "
        "(the default without a GPU); full: full epochs (the default with a GPU)",
    )
    c.add_argument(
        "--lang",
        choices=("en", "zh"),
        default="en",
        help="which edition to run: en (notebooks/) or zh, the Chinese one (notebooks/zh/)",
    )
    c.add_argument("--out", help="output folder (default: course_output/)")
    c.add_argument(
        "--jobs",
        type=int,
        help="lesson notebooks run at once (default: one per CPU core, up to 4; 1 on a GPU)",
    )
    c.add_argument(
        "--seed",
        type=int,
        help="every notebook's SEED (default: the notebooks' own, 0); for spread over seeds",
    )
    c.set_defaults(run=_course)
    h = sub.add_parser(
        "check",
        help="before class: mode and why, Paddle and device, GPU memory per notebook, data, "
        "estimated time; on a GPU one training step of every full-mode network",
    )
    h.add_argument(
        "--steps", action="store_true", help="measure the training steps on the CPU too (slow)"
    )
    h.set_defaults(run=_check)
    k = sub.add_parser(
        "clean", help="remove each run's exported model and checkpoints (results are kept)"
    )
    k.add_argument("--dry-run", action="store_true", help="list what would go, with sizes")
    k.set_defaults(run=_clean)
    r = sub.add_parser("predict", help="PM probability of each image with an exported model")
    r.add_argument("model_dir")
    r.add_argument("images", nargs="+")
    r.set_defaults(run=_predict)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except FundusDataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
