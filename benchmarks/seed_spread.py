"""Spread of the CPU budget's results over seeds: one course run per seed, one table.

    bash scripts/course.sh                                   # seed 0 -> course_output/
    .venv/bin/python -m fundus_utils course --seed 1 --out course_seed1
    .venv/bin/python -m fundus_utils course --seed 2 --out course_seed2
    .venv/bin/python benchmarks/seed_spread.py course_output course_seed1 course_seed2
    .venv/bin/python benchmarks/seed_spread.py --smoke   # on three tiny synthetic runs (tests)

Reads each folder's ``results.csv`` (written by the course command; final-epoch numbers) and prints
a Markdown table: per run, the mean and the range over the seeds of validation accuracy, AUC and
the share of images called PM. The README's "Results of the CPU budget" is this script's output.
The last line printed is JSON: {"seeds", "folders", "runs": [{"run", "model", "seeds",
"final_valid_acc": {"mean", "min", "max"} or null, ...}]}.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

METRICS = {
    "final_valid_acc": "accuracy",
    "final_valid_auc": "AUC",
    "predicted_pm_share": "called PM",
}
GROUP_COLUMNS = ("arch", "model")
# --smoke: course-output folders of three seeds, each with these runs (architecture, model name,
# classes), written the way the course command writes them; the numbers are made up.
SMOKE_SEEDS = 3
SMOKE_RUNS = (
    ("lenet", "LeNet (repaired)", 2),
    ("resnet18", "ResNet-18", 2),
    ("convmixer_grades", "ConvMixer-128/4, five grades", 5),
)
SMOKE_VALID = 400


def read_runs(folders: list[Path]) -> pd.DataFrame:
    """Every folder's ``results.csv`` in one table, with the folder it came from."""
    frames = []
    for seed_index, folder in enumerate(folders):
        path = folder / "results.csv"
        try:
            table = pd.read_csv(path)
        except pd.errors.EmptyDataError:
            raise ValueError(
                f"{path}: expected a course run's results table; found an empty file"
            ) from None
        missing = [c for c in (*GROUP_COLUMNS, *METRICS) if c not in table.columns]
        if missing:
            raise ValueError(
                f"{path}: expected the columns {[*GROUP_COLUMNS, *METRICS]} of a course run's "
                f"results.csv; missing {missing}, found {list(table.columns)}"
            )
        frames.append(table.assign(run_folder=folder.name, seed_index=seed_index))
    return pd.concat(frames, ignore_index=True)


def spread(folders: list[Path]) -> list[dict]:
    """Per run (architecture, model): the number of seeds and each metric's mean, min and max
    (None where no seed has the metric, e.g. the share called PM of a five-grade run)."""
    rows = []
    for (arch, model), group in read_runs(folders).groupby(list(GROUP_COLUMNS), sort=False):
        row = {"run": arch, "model": model, "seeds": len(group)}
        for column in METRICS:
            values = group[column].dropna()
            row[column] = (
                None
                if values.empty
                else {k: float(getattr(values, k)()) for k in ("mean", "min", "max")}
            )
        rows.append(row)
    return rows


def format_spread(rows: list[dict]) -> pd.DataFrame:
    """The table the README shows: "mean [min, max]" per metric, "-" where there is none."""
    table = []
    for row in rows:
        line = {"run": row["run"], "model": row["model"], "seeds": row["seeds"]}
        for column, label in METRICS.items():
            stats = row[column]
            fmt = "{:.0%}" if column == "predicted_pm_share" else "{:.3f}"
            line[label] = (
                "-"
                if stats is None
                else f"{fmt.format(stats['mean'])} "
                f"[{fmt.format(stats['min'])}, {fmt.format(stats['max'])}]"
            )
        table.append(line)
    return pd.DataFrame(table)


def spread_table(folders: list[Path]) -> pd.DataFrame:
    return format_spread(spread(folders))


def markdown(table: pd.DataFrame) -> str:
    """A GitHub Markdown table (pandas' to_markdown needs tabulate, which the course lacks)."""
    lines = ["| " + " | ".join(map(str, table.columns)) + " |"]
    lines.append("|" + "|".join("---" for _ in table.columns) + "|")
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def write_smoke_runs(root: Path, seeds: int = SMOKE_SEEDS) -> list[Path]:
    """Tiny course-output folders, one per seed: each run's ``runs/<arch>/results.json`` with the
    keys ``fit`` writes, then ``results.csv`` from them as the course command writes it
    (``load_results(out / "runs").to_csv(...)``, fundus_utils/course.py), so a renamed column
    breaks the smoke run."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from fundus_utils.engine.results import load_results

    folders = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        folder = root / ("course_output" if seed == 0 else f"course_seed{seed}")
        for arch, model, classes in SMOKE_RUNS:
            confusion = _made_up_confusion(rng, classes)
            correct = sum(confusion[i][i] for i in range(classes))
            result = {
                "architecture": arch,
                "model": model,
                "parameters": int(rng.integers(10_000, 1_000_000)),
                "flops": int(rng.integers(10**6, 10**8)),
                "flops_input_shape": [1, 3, 96, 96],
                "epochs": 1,
                "seconds_per_epoch": float(rng.uniform(1, 10)),
                "final_valid_acc": correct / SMOKE_VALID,
                "final_valid_auc": float(rng.uniform(0.5, 1.0)),
                "final_metrics": {"confusion": confusion},
                "device": "cpu",
                "world_size": 1,
                "data_kind": "sample",
                "image_size": 96,
            }
            run_folder = folder / "runs" / arch
            run_folder.mkdir(parents=True)
            (run_folder / "results.json").write_text(json.dumps(result), encoding="utf-8")
        load_results(folder / "runs").to_csv(folder / "results.csv", index=False)
        folders.append(folder)
    return folders


def _made_up_confusion(rng: np.random.Generator, classes: int) -> list[list[int]]:
    """A ``classes`` x ``classes`` confusion matrix over SMOKE_VALID images, mostly diagonal."""
    per_class = SMOKE_VALID // classes
    matrix = []
    for true in range(classes):
        wrong = rng.multinomial(int(rng.integers(0, per_class // 4)), [1 / classes] * classes)
        wrong[true] = 0
        row = [int(n) for n in wrong]
        row[true] = per_class - int(wrong.sum())
        matrix.append(row)
    return matrix


def report(folders: list[Path]) -> int:
    """Print the Markdown table, then the JSON line; 1 with a message if a table is unreadable."""
    try:
        rows = spread(folders)
    except ValueError as error:
        print(error)
        return 1
    print(f"Mean [min, max] over {len(folders)} seeds, final epoch, sample validation images:\n")
    print(markdown(format_spread(rows)))
    summary = {"seeds": len(folders), "folders": [str(f) for f in folders], "runs": rows}
    print(json.dumps(summary, default=str))
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folders", nargs="*", type=Path, help="course output folders, one a seed")
    parser.add_argument(
        "--smoke", action="store_true", help="run on tiny synthetic course outputs (the tests)"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        if args.folders:
            parser.error("--smoke writes its own course outputs; expected no folders")
        with tempfile.TemporaryDirectory(prefix="seed-spread-smoke-") as tmp:
            return report(write_smoke_runs(Path(tmp)))
    if not args.folders:
        print(__doc__)
        return 2
    missing = [str(f / "results.csv") for f in args.folders if not (f / "results.csv").is_file()]
    if missing:
        print(f"expected a results.csv from a course run in each folder; missing: {missing}")
        return 1
    return report(args.folders)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
