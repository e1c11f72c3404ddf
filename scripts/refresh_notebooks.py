"""Re-execute notebooks in quick mode and store their outputs, clean, for nbval to compare.

    python scripts/refresh_notebooks.py notebooks/03_vgg.ipynb [...]   (default: every notebook)

Runs each notebook with nbclient in notebooks/ under FUNDUS_QUICK=1 (exactly as the
README's test command does), then keeps only what is source: cell tags, sequential
execution counts, outputs; no timings, widget state or machine-specific metadata.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
KEEP_CELL_METADATA = ("tags",)
NOTEBOOK_METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Keep what is source; drop stderr (never compared by nbval; progress bars, machine paths)."""
    nb.metadata = nbformat.from_dict(NOTEBOOK_METADATA)
    for cell in nb.cells:
        cell.metadata = nbformat.from_dict({k: v for k, v in cell.metadata.items() if k in KEEP_CELL_METADATA})
        cell.pop("id", None)
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")]
    nb.nbformat, nb.nbformat_minor = 4, 4
    return nb


def refresh(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    nbformat.write(clean(nb), path)
    print(f"{path.name}: executed and stored in {time.perf_counter() - start:.0f} s", flush=True)


def main(argv: list[str]) -> None:
    os.environ["FUNDUS_QUICK"] = "1"
    paths = [Path(p) for p in argv] or sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        refresh(path.resolve())


if __name__ == "__main__":
    main(sys.argv[1:])
