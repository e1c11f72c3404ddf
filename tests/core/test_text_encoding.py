"""Every text file the course opens names its encoding, or Chinese Windows reads and writes GBK.

Without ``encoding=``, ``open()``, ``Path.read_text`` and ``Path.write_text`` use the locale's
encoding: GBK (cp936) on a Chinese Windows unless Python's UTF-8 mode is on, so a file written
there is unreadable elsewhere, and a UTF-8 file with Chinese text fails to load there. Ruff's
PLW1514 (pyproject.toml) sees only ``open()`` and ``Path(...).read_text()`` written out; it
cannot tell that ``(folder / name).read_text()`` is a Path. This walks the syntax trees of the
package, tests, scripts, benchmarks and the notebooks' code cells and finds those too.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SKIPPED = ("data", "course_output", "runs", "build", "notebooks/zh")  # generated, as in ruff
TEXT_MODES = {"r", "w", "a", "x", "rt", "wt", "at", "xt", "r+", "w+", "a+", "rt+", "wt+"}


def _has_encoding(call: ast.Call, positional: int) -> bool:
    """``encoding=`` given, or a ``**kwargs``, or enough positional arguments to include it."""
    return len(call.args) >= positional or any(k.arg in ("encoding", None) for k in call.keywords)


def _mode(call: ast.Call, index: int) -> str | None:
    node = call.args[index] if len(call.args) > index else None
    node = next((k.value for k in call.keywords if k.arg == "mode"), node)
    if node is None:
        return "r"
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def unspecified_encodings(source: str) -> list[tuple[int, str]]:
    """(line, what) of every text-mode open/read_text/write_text without an encoding."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "read_text":
            if not _has_encoding(node, 1):
                found.append((node.lineno, ".read_text()"))
        elif isinstance(func, ast.Attribute) and func.attr == "write_text":
            if not _has_encoding(node, 2):
                found.append((node.lineno, ".write_text()"))
        elif isinstance(func, ast.Name) and func.id == "open":
            mode = _mode(node, 1)
            if mode is not None and "b" not in mode and not _has_encoding(node, 4):
                found.append((node.lineno, "open()"))
        elif isinstance(func, ast.Attribute) and func.attr == "open" and node.args:
            first = node.args[0]  # Path.open("w"): a mode first (zipfile's open takes a name)
            if (
                isinstance(first, ast.Constant)
                and first.value in TEXT_MODES
                and not _has_encoding(node, 3)
            ):
                found.append((node.lineno, ".open()"))
    return sorted(found)


def _code_of(notebook: Path) -> list[tuple[str, str]]:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return [
        (
            cell.get("id", "?"),
            "\n".join(
                "pass" if line.lstrip().startswith(("!", "%")) else line
                for line in "".join(cell["source"]).splitlines()
            ),
        )
        for cell in cells
        if cell["cell_type"] == "code"
    ]


def _sources() -> list[tuple[str, str]]:
    def skipped(path: Path) -> bool:
        relative = path.relative_to(REPO).as_posix()
        return relative.startswith(".") or any(
            relative == s or relative.startswith(s + "/") for s in SKIPPED
        )

    sources = [
        (p.relative_to(REPO).as_posix(), p.read_text(encoding="utf-8"))
        for p in sorted(REPO.rglob("*.py"))
        if not skipped(p)
    ]
    for notebook in sorted(REPO.glob("notebooks/*.ipynb")):
        sources += [
            (f"{notebook.relative_to(REPO).as_posix()}, cell {cell_id}", code)
            for cell_id, code in _code_of(notebook)
        ]
    return sources


def test_the_checker_finds_what_ruff_misses_and_accepts_what_is_right():
    bad = """
(folder / "a.json").read_text()
(folder / "a.json").write_text(text)
open(path)
open(path, "w")
path.open("w")
"""
    good = """
(folder / "a.json").read_text(encoding="utf-8")
(folder / "a.json").write_text(text, encoding="utf-8")
path.read_text("utf-8")
path.write_text(text, "utf-8")
open(path, "rb")
open(path, mode="wb")
open(path, "w", -1, "utf-8")
path.open("w", encoding="utf-8")
archive.open("PALM-Training400/P0001.jpg")
open(path, **options)
"""
    assert [what for _, what in unspecified_encodings(bad)] == [
        ".read_text()",
        ".write_text()",
        "open()",
        "open()",
        ".open()",
    ]
    assert unspecified_encodings(good) == []


def test_every_text_file_is_opened_with_an_explicit_encoding():
    sources = _sources()
    assert any(name == "fundus_utils/data/prepare.py" for name, _ in sources)
    assert any(name.startswith("notebooks/00_data.ipynb, cell") for name, _ in sources)
    offenders = [
        f"{name}: line {line}: {what} without encoding= (use encoding='utf-8')"
        for name, source in sources
        for line, what in unspecified_encodings(source)
    ]
    assert offenders == [], "\n".join(offenders)
