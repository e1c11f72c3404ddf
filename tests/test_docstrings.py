"""Every public function and class says where the course teaches it, and the notebooks agree.

Each callable in ``fu.__all__`` has ``Taught in NN_name, §N.`` (one or more notebooks) or
``Not used in the notebooks; <why it exists>.`` in its docstring. A cited notebook must exist and
call ``fu.<name>`` in a code cell, each cited section must be a heading of that notebook, and a
name some notebook calls must not claim to be unused.
"""

from __future__ import annotations

import inspect
import json
import re
from functools import cache
from pathlib import Path

import fundus_utils as fu

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / "notebooks"
FU_NAME = re.compile(r"(?<![\w.])fu\.(\w+)")  # as in test_api.py
HEADING = re.compile(r"^#{2,6}\s+(\d+(?:\.\d+)*)\.?\s", re.MULTILINE)  # "## 3. ...", "### 6.7 ..."
TAUGHT = "Taught in"
UNUSED = "Not used in the notebooks"
TAUGHT_SENTENCE = re.compile(r"Taught in (.+?)\.(?:\s|$)", re.DOTALL)
NOTEBOOK_NAME = re.compile(r"\b(\d{2}_\w+)")
SECTION = re.compile(r"§(\d+(?:\.\d+)*)")

CALLABLES = [name for name in fu.__all__ if callable(getattr(fu, name))]


@cache
def notebooks() -> dict[str, dict]:
    """``{stem: {"calls": names called as fu.<name> in code cells, "sections": headings}}``."""
    found = {}
    for path in sorted(NOTEBOOK_DIR.glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        markdown = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        found[path.stem] = {
            "calls": set(FU_NAME.findall(code)),
            "sections": set(HEADING.findall(markdown)),
        }
    return found


def docstring(name: str) -> str:
    return inspect.cleandoc(getattr(fu, name).__doc__ or "")


def citations(doc: str) -> dict[str, set[str]]:
    """``{notebook: {sections}}`` named in the ``Taught in ...`` sentences of ``doc``."""
    cited: dict[str, set[str]] = {}
    for sentence in TAUGHT_SENTENCE.findall(doc):
        # "00_data, §5 and §6.2, and 07_compare, §4": a section belongs to the notebook before it
        parts = NOTEBOOK_NAME.split(" ".join(sentence.split()))
        for notebook, text in zip(parts[1::2], parts[2::2]):
            cited.setdefault(notebook, set()).update(SECTION.findall(text))
    return cited


def users(name: str) -> list[str]:
    return [stem for stem, info in notebooks().items() if name in info["calls"]]


def test_there_are_notebooks_and_callables():
    assert notebooks(), f"no notebooks in {NOTEBOOK_DIR}"
    assert len(CALLABLES) > 50


@pytest.mark.parametrize("name", CALLABLES)
def test_docstring_says_where_it_is_taught(name):
    doc = docstring(name)
    taught = re.search(r"Taught in \d{2}_\w+", doc) is not None
    unused = UNUSED in doc
    assert taught or unused, f"fu.{name}: docstring has neither 'Taught in NN_name' nor '{UNUSED}'"
    assert not (taught and unused), f"fu.{name}: docstring says both '{TAUGHT}' and '{UNUSED}'"


@pytest.mark.parametrize("name", CALLABLES)
def test_cited_notebooks_exist_and_use_the_name(name):
    for notebook, sections in citations(docstring(name)).items():
        assert notebook in notebooks(), f"fu.{name}: cites {notebook}, not in {NOTEBOOK_DIR}"
        assert name in notebooks()[notebook]["calls"], (
            f"fu.{name}: cites {notebook}, whose code cells never use fu.{name} "
            f"(used in: {users(name) or 'no notebook'})"
        )
        missing = sorted(sections - notebooks()[notebook]["sections"])
        assert not missing, f"fu.{name}: cites {notebook}, which has no section {missing}"


@pytest.mark.parametrize("name", CALLABLES)
def test_a_name_the_notebooks_use_is_not_called_unused(name):
    used_in = users(name)
    if not used_in:
        return
    doc = docstring(name)
    assert UNUSED not in doc and TAUGHT in doc, (
        f"fu.{name}: used in {used_in}, so its docstring must say '{TAUGHT} ...', not '{UNUSED}'"
    )
