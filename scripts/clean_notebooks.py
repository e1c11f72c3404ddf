"""Keep committed notebooks clean: only what is source, in one canonical form.

    python scripts/clean_notebooks.py            clean every notebook in place
    python scripts/clean_notebooks.py --check    change nothing; exit 1 and name what is not clean

Clean means: the notebook metadata of NOTEBOOK_METADATA and nothing else (no widget state, no
machine-specific kernel names), cell metadata reduced to tags, execution counts 1, 2, 3, ... in
order, no stored stderr (progress bars, machine paths; nbval never compares it), no widget
outputs, nbformat 4.5 with a unique id on every cell (the Chinese edition's catalogues are keyed
by it: scripts/i18n.py), and the JSON layout nbformat writes. CI runs the check, as nbdev's does.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
KEEP_CELL_METADATA = ("tags",)
NOTEBOOK_METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _is_noise(output: dict) -> bool:
    """stderr streams and widget views: never source, never compared."""
    if output.get("output_type") == "stream" and output.get("name") == "stderr":
        return True
    return WIDGET_MIME in output.get("data", {})


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The canonical, clean form of ``nb`` (changed in place and returned)."""
    nb.metadata = nbformat.from_dict(NOTEBOOK_METADATA)
    count, ids = 0, set()
    for cell in nb.cells:
        if not cell.get("id") or cell.id in ids:  # new in an editor without ids, or a copy
            cell.id = uuid.uuid4().hex[:8]
        ids.add(cell.id)
        cell.metadata = nbformat.from_dict(
            {k: v for k, v in cell.metadata.items() if k in KEEP_CELL_METADATA}
        )
        if cell.cell_type != "code":
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
            continue
        cell.outputs = [o for o in cell.outputs if not _is_noise(o)]
        executed = cell.execution_count is not None or bool(cell.outputs)
        count += executed
        cell.execution_count = count if executed else None
        for output in cell.outputs:
            if "execution_count" in output:
                output.execution_count = cell.execution_count
    nb.nbformat, nb.nbformat_minor = 4, 5
    return nb


def canonical_text(path: Path) -> str:
    """The text ``path`` has once cleaned."""
    nb = clean(nbformat.read(path, as_version=4))
    return nbformat.writes(nb) + "\n"


def _first_difference(old: str, new: str) -> str:
    """Where ``old`` and ``new`` first differ, as a line number and the two lines."""
    for number, (a, b) in enumerate(zip(old.splitlines(), new.splitlines()), 1):
        if a != b:
            return f"line {number}: {a.strip()[:80]!r} -> {b.strip()[:80]!r}"
    return "length differs (trailing content)"


def notebooks() -> list[Path]:
    return sorted((REPO / "notebooks").rglob("*.ipynb"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report, change nothing")
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: all)")
    args = parser.parse_args(argv)
    dirty = []
    for path in [p.resolve() for p in args.paths] or notebooks():
        old, new = path.read_text(encoding="utf-8"), canonical_text(path)
        if old == new:
            continue
        dirty.append(path)
        if args.check:
            print(f"not clean: {path.relative_to(REPO)}: {_first_difference(old, new)}")
        else:
            path.write_text(new, encoding="utf-8")
            print(f"cleaned: {path.relative_to(REPO)}")
    if args.check and dirty:
        print(f"{len(dirty)} notebook(s) not clean: run python scripts/clean_notebooks.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
