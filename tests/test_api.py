"""The flat public API: fu.__all__ is the union of the modules' __all__, lazy, and all notebooks
use."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import fundus_utils as fu

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").rglob("*.ipynb"))
FU_NAME = re.compile(r"(?<![\w.])fu\.(\w+)")
PACKAGE_IMPORT = re.compile(
    r"^\s*(from fundus_utils[\w.]* import|import fundus_utils\.)", re.MULTILINE
)
MODULE_ATTRIBUTES = {"__file__", "__version__"}


def _module_alls() -> dict[str, list[str]]:
    return {
        module: list(importlib.import_module(f"fundus_utils.{module}").__all__)
        for module in fu._public_modules()
    }


def test_all_is_exactly_the_union_of_the_modules_all():
    alls = _module_alls()
    union = [name for names in alls.values() for name in names]
    assert len(union) == len(set(union)), "a name is exported by two modules"
    assert fu.__all__ == sorted(union)


def test_every_public_name_resolves_to_its_module():
    for module, names in _module_alls().items():
        imported = importlib.import_module(f"fundus_utils.{module}")
        for name in names:
            assert getattr(fu, name) is getattr(imported, name), f"fu.{name} is not {module}.{name}"


def test_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'plots'"):
        fu.plots  # noqa: B018  (the old module-style access is gone)


def test_import_is_lazy_and_paddle_free():
    code = (
        "import sys, fundus_utils; "
        "print(sorted(m for m in sys.modules if m.startswith(('paddle', 'fundus_utils.'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert loaded.stdout.strip() == "['fundus_utils._compat']"


def _code_cells(path: Path) -> list[str]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_use_only_flat_public_names(path):
    code = "\n".join(_code_cells(path))
    assert not PACKAGE_IMPORT.findall(code), f"{path.name}: imports from inside fundus_utils"
    unknown = sorted(set(FU_NAME.findall(code)) - set(fu.__all__) - MODULE_ATTRIBUTES)
    assert not unknown, f"{path.name}: fu.<name> not in fu.__all__: {unknown}"
