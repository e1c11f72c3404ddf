"""The Chinese edition (中文版): notebooks/zh/ generated from the English notebooks and a catalogue.

    python scripts/i18n.py update   add new or changed English markdown cells to the catalogues
    python scripts/i18n.py build    write notebooks/zh/*.ipynb from English notebooks + catalogues
    python scripts/i18n.py check    change nothing; exit 1 naming each notebook and cell adrift

One catalogue per notebook, ``notebooks/i18n/zh/NN_name.po``, in gettext's PO format (what Sphinx,
Jupyter Book and translation tools such as Poedit and Weblate read). Each entry is one markdown
cell: ``msgctxt`` is the cell's id, ``msgid`` its English text, ``msgstr`` the Chinese, and the
comment ``#. en-sha256: …`` the hash of the English it translates. When the English changes,
``update`` keeps the old translation but marks it ``fuzzy`` (gettext's "needs review") with the
old English as ``#| msgid``; ``check`` fails on a fuzzy, empty, missing or stale entry and on a
generated notebook that is not what ``build`` writes. Code cells and their stored outputs are
copied unchanged, so nbval compares the Chinese notebooks against the same outputs.
The terms of ``notebooks/i18n/zh/glossary.csv`` are checked too: an English cell that uses a term
must use its Chinese rendering. Never edit ``notebooks/zh/`` by hand.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import re
import sys
from pathlib import Path

import nbformat
import polib

REPO = Path(__file__).resolve().parents[1]
LANG = "zh"
HASH_PREFIX = "en-sha256: "
HASH_CHARS = 16  # of the SHA-256 hex digest: enough to tell any two texts of this course apart
GENERATED_NOTE = (
    "本笔记本由 `scripts/i18n.py build` 从英文版 `../{name}` 和译文目录 "
    "`../i18n/zh/{stem}.po` 生成，请勿手工编辑。English edition: [`../{name}`](../{name})."
)


def english_notebooks(repo: Path = REPO) -> list[Path]:
    return sorted((repo / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def catalogue_path(notebook: Path) -> Path:
    return notebook.parent / "i18n" / LANG / f"{notebook.stem}.po"


def generated_path(notebook: Path) -> Path:
    return notebook.parent / LANG / notebook.name


def glossary_path(repo: Path = REPO) -> Path:
    return repo / "notebooks" / "i18n" / LANG / "glossary.csv"


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:HASH_CHARS]


def markdown_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in nb.cells if cell.cell_type == "markdown"]


def read_notebook(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    missing = [i for i, cell in enumerate(nb.cells) if not cell.get("id")]
    if missing:
        raise SystemExit(
            f"{path.name}: cells {missing} have no id; run python scripts/clean_notebooks.py "
            "(it gives every cell an id, which the catalogue is keyed by)"
        )
    return nb


def stored_hash(entry: polib.POEntry) -> str | None:
    for line in entry.comment.splitlines():
        if line.startswith(HASH_PREFIX):
            return line[len(HASH_PREFIX) :].strip()
    return None


def load_catalogue(path: Path) -> polib.POFile:
    if path.exists():
        return polib.pofile(str(path), wrapwidth=0)
    po = polib.POFile(wrapwidth=0)
    po.metadata = {
        "Project-Id-Version": "fundus course",
        "Language": LANG,
        "MIME-Version": "1.0",
        "Content-Type": "text/plain; charset=UTF-8",
        "Content-Transfer-Encoding": "8bit",
    }
    return po


# ----------------------------------------------------------------------------- update
def update_catalogue(notebook: Path) -> list[str]:
    """Bring ``notebook``'s catalogue in line with its markdown cells; return what changed."""
    nb = read_notebook(notebook)
    path = catalogue_path(notebook)
    po = load_catalogue(path)
    by_id = {entry.msgctxt: entry for entry in po}
    changes, entries = [], []
    for cell in markdown_cells(nb):
        text, digest = cell.source, text_hash(cell.source)
        entry = by_id.pop(cell.id, None)
        if entry is None:
            entry = polib.POEntry(msgctxt=cell.id, msgid=text, msgstr="")
            changes.append(f"new: {notebook.name} cell {cell.id}")
        elif stored_hash(entry) != digest:
            note = ""
            if entry.msgstr:
                entry.previous_msgid = entry.msgid
                if "fuzzy" not in entry.flags:
                    entry.flags.append("fuzzy")
                note = " (marked fuzzy)"
            entry.msgid = text
            changes.append(f"changed: {notebook.name} cell {cell.id}{note}")
        entry.comment = HASH_PREFIX + digest
        entries.append(entry)
    changes += [f"removed: {notebook.name} cell {cell_id}" for cell_id in by_id]
    po[:] = entries
    if changes or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        po.save(str(path))
    return changes


# ----------------------------------------------------------------------------- build
def translated(notebook: Path) -> nbformat.NotebookNode:
    """The Chinese notebook: ``notebook`` with every markdown cell replaced by its translation."""
    nb = read_notebook(notebook)
    po = load_catalogue(catalogue_path(notebook))
    by_id = {entry.msgctxt: entry for entry in po}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        entry = by_id.get(cell.id)
        text = entry.msgstr if entry is not None and entry.msgstr else cell.source
        if index == 0:
            note = GENERATED_NOTE.format(name=notebook.name, stem=notebook.stem)
            text = f"{text}\n\n> {note}"
        cell.source = text
    return nb


def generated_text(notebook: Path) -> str:
    return nbformat.writes(translated(notebook)) + "\n"


def build(notebooks: list[Path]) -> list[str]:
    written = []
    for notebook in notebooks:
        target = generated_path(notebook)
        text = generated_text(notebook)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            written.append(str(target.relative_to(notebook.parents[1])))
    return written


# ----------------------------------------------------------------------------- check
def load_glossary(path: Path) -> list[tuple[str, str]]:
    """(English term, Chinese term) pairs; an English term is matched as a whole word, any case."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [(row["en"].strip(), row["zh"].strip()) for row in rows if row.get("check") == "yes"]


def glossary_problems(english: str, chinese: str, glossary: list[tuple[str, str]]) -> list[str]:
    problems = []
    # not code, maths, link targets or HTML tags (<summary> is not the word "Summary")
    prose = re.sub(r"`[^`]*`|\$[^$]*\$|\([^)]*://[^)]*\)|<[^>]+>", " ", english)
    for term, zh in glossary:
        if re.search(rf"\b{re.escape(term)}\b", prose, flags=re.IGNORECASE) and zh not in chinese:
            problems.append(f"uses {term!r} but the translation lacks {zh!r}")
    return problems


def check(notebooks: list[Path], repo: Path = REPO) -> list[str]:
    """Every reason the Chinese edition is out of date, one line each, naming notebook and cell."""
    glossary = load_glossary(glossary_path(repo))
    problems = []
    for notebook in notebooks:
        nb = read_notebook(notebook)
        path = catalogue_path(notebook)
        if not path.exists():
            problems.append(f"{notebook.name}: no catalogue {path.relative_to(repo)}")
            continue
        by_id = {entry.msgctxt: entry for entry in load_catalogue(path)}
        for cell in markdown_cells(nb):
            where = f"{notebook.name} cell {cell.id} ({cell.source.splitlines()[0][:50]!r})"
            entry = by_id.pop(cell.id, None)
            if entry is None:
                problems.append(f"{where}: no translation")
            elif stored_hash(entry) != text_hash(cell.source) or entry.msgid != cell.source:
                problems.append(f"{where}: the English changed since it was translated")
            elif "fuzzy" in entry.flags:
                problems.append(f"{where}: translation marked fuzzy (needs review)")
            elif not entry.msgstr.strip():
                problems.append(f"{where}: empty translation")
            else:
                problems += [
                    f"{where}: {p}" for p in glossary_problems(cell.source, entry.msgstr, glossary)
                ]
        problems += [
            f"{notebook.name} cell {cell_id}: translation of a cell that is gone"
            for cell_id in by_id
        ]
        target = generated_path(notebook)
        if not target.exists() or target.read_text(encoding="utf-8") != generated_text(notebook):
            problems.append(
                f"{target.relative_to(repo)}: not what build writes (edited by hand, or stale)"
            )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("update", "build", "check"))
    parser.add_argument("paths", nargs="*", type=Path, help="English notebooks (default: all)")
    args = parser.parse_args(argv)
    notebooks = [p.resolve() for p in args.paths] or english_notebooks()
    if args.command == "update":
        for line in sum((update_catalogue(nb) for nb in notebooks), []):
            print(line)
    elif args.command == "build":
        for line in build(notebooks):
            print(f"wrote {line}")
    else:
        problems = check(notebooks)
        for line in problems:
            print(line)
        if problems:
            print(
                f"{len(problems)} problem(s) in the Chinese edition: translate in "
                "notebooks/i18n/zh/*.po (python scripts/i18n.py update lists new cells), "
                "then python scripts/i18n.py build"
            )
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
