"""The layering of ARCHITECTURE.md, checked on every import in the package (lazy ones included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fundus_utils"
MAY_IMPORT = {  # area -> the areas it may import (see ARCHITECTURE.md)
    "core": set(),
    "samples": {"core"},
    "inspection": {"core"},
    "data": {"core", "samples"},
    "engine": {"core", "inspection"},
    "viz": {"core", "data", "inspection", "engine"},
    "export": {"core", "data", "inspection", "engine"},
}
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
UNLAYERED = {
    "__init__",
    "__main__",
    "_compat",
    "course",
    "check",
    "notebook_code",
}  # these may import anything


def _area(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _imported_areas(path: Path) -> set[str]:
    """Areas of the package that ``path`` imports from, by relative or absolute import."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    package = list(parts[:-1])
    areas = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
            target = base + (node.module.split(".") if node.module else [node.names[0].name])
            areas.add(target[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fundus_utils."):
            areas.add(node.module.split(".")[1])
    return areas - {_area(path)}


def test_every_area_is_in_the_table():
    assert {_area(p) for p in MODULES} - UNLAYERED == set(MAY_IMPORT)


def test_the_import_reader_sees_cross_area_imports():
    assert _imported_areas(PACKAGE / "core" / "config.py") == set()
    assert "engine" in _imported_areas(PACKAGE / "viz" / "gradcam.py")


@pytest.mark.parametrize(
    "path",
    [p for p in MODULES if _area(p) not in UNLAYERED],
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_imports_follow_the_layers(path):
    area = _area(path)
    forbidden = _imported_areas(path) - MAY_IMPORT[area] - {"_compat"}
    assert not forbidden, f"{path.relative_to(PACKAGE)} ({area}) imports {sorted(forbidden)}"
