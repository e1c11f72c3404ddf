"""Store notebook outputs, clean, for learners to read and for nbval to compare.

    python scripts/refresh_notebooks.py --from course_output [NB ...]   (the stored outputs)
    python scripts/refresh_notebooks.py notebooks/03_vgg.ipynb [...]    (quick mode, for checks)

``--from DIR`` takes the executed copies of a course run (``bash scripts/course.sh``, the CPU
budget on a machine without a GPU: what the stored outputs are), checks that each has the same
code cells as its source (markdown may have been edited since), and stores its outputs.
Without it, each notebook is executed with nbclient
in notebooks/ under FUNDUS_QUICK=1, exactly as the README's test command does. Either way only
what is source is kept (scripts/clean_notebooks.py): cell tags, sequential execution counts,
outputs; no timings, widget state, papermill or machine-specific metadata.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
from clean_notebooks import clean  # noqa: E402  (the one definition of a clean notebook)


def refresh(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(
        nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    path.write_text(nbformat.writes(clean(nb)) + "\n", encoding="utf-8")
    print(f"{path.name}: executed and stored in {time.perf_counter() - start:.0f} s", flush=True)


def store_from(executed_dir: Path, path: Path) -> None:
    """Copy the outputs of ``executed_dir/<name>`` into the source notebook ``path``."""
    source = nbformat.read(path, as_version=4)
    executed = nbformat.read(executed_dir / path.name, as_version=4)
    executed.cells = [
        c for c in executed.cells if "injected-parameters" not in c.metadata.get("tags", [])
    ]

    def code(cells: list) -> list:
        return [(c.cell_type, c.source if c.cell_type == "code" else "") for c in cells]

    if code(executed.cells) != code(source.cells):  # prose may have been edited since the run
        raise SystemExit(
            f"{executed_dir / path.name}: expected the code cells of {path}, found others "
            "(the code changed after that run; run the course again)"
        )
    for mine, theirs in zip(source.cells, executed.cells):
        if mine.cell_type == "code":
            mine.outputs, mine.execution_count = theirs.outputs, theirs.execution_count
    path.write_text(nbformat.writes(clean(source)) + "\n", encoding="utf-8")
    print(f"{path.name}: outputs stored from {executed_dir}", flush=True)


def main(argv: list[str]) -> None:
    executed_dir = None
    if argv[:1] == ["--from"]:
        executed_dir, argv = Path(argv[1]), argv[2:]
    paths = [Path(p) for p in argv] or sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if executed_dir is not None:
        for path in paths:
            store_from(executed_dir, path.resolve())
        return
    os.environ["FUNDUS_QUICK"] = "1"
    for path in paths:
        refresh(path.resolve())


if __name__ == "__main__":
    main(sys.argv[1:])
