"""Spread of the CPU budget's results over seeds: one course run per seed, one table.

    bash scripts/course.sh                                   # seed 0 -> course_output/
    .venv/bin/python -m fundus_utils course --seed 1 --out course_seed1
    .venv/bin/python -m fundus_utils course --seed 2 --out course_seed2
    .venv/bin/python benchmarks/seed_spread.py course_output course_seed1 course_seed2

Reads each folder's ``results.csv`` (written by the course command; final-epoch numbers) and prints
a Markdown table: per run, the mean and the range over the seeds of validation accuracy, AUC and
the share of images called PM. The README's "Results of the CPU budget" is this script's output.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

METRICS = {
    "final_valid_acc": "accuracy",
    "final_valid_auc": "AUC",
    "predicted_pm_share": "called PM",
}


def spread_table(folders: list[Path]) -> pd.DataFrame:
    frames = []
    for seed_index, folder in enumerate(folders):
        table = pd.read_csv(folder / "results.csv")
        frames.append(table.assign(run_folder=folder.name, seed_index=seed_index))
    runs = pd.concat(frames, ignore_index=True)
    rows = []
    for (arch, model), group in runs.groupby(["arch", "model"], sort=False):
        row = {"run": arch, "model": model, "seeds": len(group)}
        for column, label in METRICS.items():
            values = group[column].dropna()
            if values.empty:
                row[label] = "-"
                continue
            fmt = "{:.0%}" if column == "predicted_pm_share" else "{:.3f}"
            row[label] = (
                f"{fmt.format(values.mean())} "
                f"[{fmt.format(values.min())}, {fmt.format(values.max())}]"
            )
        rows.append(row)
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame) -> str:
    """A GitHub Markdown table (pandas' to_markdown needs tabulate, which the course lacks)."""
    lines = ["| " + " | ".join(map(str, table.columns)) + " |"]
    lines.append("|" + "|".join("---" for _ in table.columns) + "|")
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    folders = [Path(a) for a in argv]
    missing = [str(f / "results.csv") for f in folders if not (f / "results.csv").is_file()]
    if missing:
        print(f"expected a results.csv from a course run in each folder; missing: {missing}")
        return 1
    table = spread_table(folders)
    print(f"Mean [min, max] over {len(folders)} seeds, final epoch, sample validation images:\n")
    print(markdown(table))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
