"""Re-execute notebooks in quick mode and store their outputs, clean, for nbval to compare.

    python scripts/refresh_notebooks.py notebooks/03_vgg.ipynb [...]   (default: every notebook)

Runs each notebook with nbclient in notebooks/ under FUNDUS_QUICK=1 (exactly as the
README's test command does), then keeps only what is source (scripts/clean_notebooks.py): cell tags,
sequential execution counts, outputs; no timings, widget state or machine-specific metadata.
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


def main(argv: list[str]) -> None:
    os.environ["FUNDUS_QUICK"] = "1"
    paths = [Path(p) for p in argv] or sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        refresh(path.resolve())


if __name__ == "__main__":
    main(sys.argv[1:])
