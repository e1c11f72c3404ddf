"""The Chinese edition: scripts/i18n.py builds notebooks/zh/ and catches drift from the English."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import polib
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import i18n  # noqa: E402

GLOSSARY = "en,zh,check,note\noptic disc,视盘,yes,\nepoch,轮,no,\n"


def test_the_chinese_edition_is_complete_and_up_to_date():
    problems = i18n.check(i18n.english_notebooks())
    assert problems == [], "\n".join(problems[:20])


def test_code_cells_and_outputs_are_the_english_ones():
    for english in i18n.english_notebooks():
        zh = nbformat.read(i18n.generated_path(english), as_version=4)
        en = nbformat.read(english, as_version=4)
        assert [c.cell_type for c in zh.cells] == [c.cell_type for c in en.cells]
        for a, b in zip(en.cells, zh.cells):
            assert a.id == b.id
            if a.cell_type == "code":
                assert (a.source, a.outputs, a.metadata) == (b.source, b.outputs, b.metadata)


@pytest.fixture
def tiny_repo(tmp_path):
    """A repository with one English notebook (two markdown cells) and the glossary."""
    notebooks = tmp_path / "notebooks"
    (notebooks / "i18n" / "zh").mkdir(parents=True)
    (notebooks / "i18n" / "zh" / "glossary.csv").write_text(GLOSSARY, encoding="utf-8")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 09 · A lesson", id="title"),
        nbformat.v4.new_code_cell("print(1)", id="code"),
        nbformat.v4.new_markdown_cell("The optic disc is bright.", id="disc"),
    ]
    path = notebooks / "09_lesson.ipynb"
    nbformat.write(nb, path)
    return tmp_path, path


def translate(path: Path, texts: dict[str, str]) -> None:
    catalogue = i18n.catalogue_path(path)
    po = polib.pofile(str(catalogue), wrapwidth=0)
    for entry in po:
        if entry.msgctxt in texts:
            entry.msgstr = texts[entry.msgctxt]
            entry.flags = [f for f in entry.flags if f != "fuzzy"]
    po.save(str(catalogue))


def edit_markdown(path: Path, cell_id: str, text: str) -> None:
    nb = nbformat.read(path, as_version=4)
    next(c for c in nb.cells if c.id == cell_id).source = text
    nbformat.write(nb, path)


def test_update_build_check_round_trip(tiny_repo):
    repo, path = tiny_repo
    assert i18n.update_catalogue(path) == [
        "new: 09_lesson.ipynb cell title",
        "new: 09_lesson.ipynb cell disc",
    ]
    problems = i18n.check([path], repo)
    assert "09_lesson.ipynb cell title ('# 09 · A lesson'): empty translation" in problems
    translate(path, {"title": "# 09 · 一课", "disc": "视盘很亮。"})
    i18n.build([path])
    assert i18n.check([path], repo) == []
    zh = nbformat.read(i18n.generated_path(path), as_version=4)
    assert zh.cells[0].source.startswith("# 09 · 一课\n\n> 本笔记本由")
    assert zh.cells[1].source == "print(1)"
    assert zh.cells[2].source == "视盘很亮。"


def test_changed_english_is_named_and_marked_fuzzy(tiny_repo):
    repo, path = tiny_repo
    i18n.update_catalogue(path)
    translate(path, {"title": "# 09 · 一课", "disc": "视盘很亮。"})
    i18n.build([path])
    edit_markdown(path, "disc", "The optic disc is bright and round.")
    assert i18n.check([path], repo) == [
        "09_lesson.ipynb cell disc ('The optic disc is bright and round.'): "
        "the English changed since it was translated",
    ]
    assert i18n.update_catalogue(path) == ["changed: 09_lesson.ipynb cell disc (marked fuzzy)"]
    entry = next(e for e in polib.pofile(str(i18n.catalogue_path(path))) if e.msgctxt == "disc")
    assert "fuzzy" in entry.flags and entry.previous_msgid == "The optic disc is bright."
    assert entry.msgstr == "视盘很亮。"  # kept, for the translator to review
    i18n.build([path])
    assert i18n.check([path], repo) == [
        "09_lesson.ipynb cell disc ('The optic disc is bright and round.'): "
        "translation marked fuzzy (needs review)"
    ]


def test_new_cell_glossary_miss_and_hand_edit_are_named(tiny_repo):
    repo, path = tiny_repo
    i18n.update_catalogue(path)
    translate(path, {"title": "# 09 · 一课", "disc": "视神经盘很亮。"})  # not the glossary's 视盘
    i18n.build([path])
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("Exercises", id="ex"))
    nbformat.write(nb, path)
    target = i18n.generated_path(path)
    target.write_text(target.read_text(encoding="utf-8").replace("一课", "二课"), "utf-8")
    problems = i18n.check([path], repo)
    assert problems == [
        "09_lesson.ipynb cell disc ('The optic disc is bright.'): "
        "uses 'optic disc' but the translation lacks '视盘'",
        "09_lesson.ipynb cell ex ('Exercises'): no translation",
        "notebooks/zh/09_lesson.ipynb: not what build writes (edited by hand, or stale)",
    ]


def test_glossary_ignores_code_maths_and_links():
    glossary = [("optic disc", "视盘")]
    assert i18n.glossary_problems("`optic disc` and $optic disc$", "代码", glossary) == []
    assert i18n.glossary_problems("<optic disc>", "代码", glossary) == []  # an HTML tag
    assert i18n.glossary_problems("the Optic Disc", "视盘", glossary) == []
    assert i18n.glossary_problems("the Optic Disc", "盘", glossary) == [
        "uses 'optic disc' but the translation lacks '视盘'"
    ]


def test_cells_without_ids_are_refused(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("text")]
    del nb.cells[0]["id"]
    nb.nbformat_minor = 4
    path = tmp_path / "01_x.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(SystemExit, match="have no id"):
        i18n.read_notebook(path)
