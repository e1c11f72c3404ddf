"""The generated 5-grade sample: DDR-like layout, determinism, loading, atomic writing."""

from __future__ import annotations

import json

import fundus_utils as fu
from fundus_utils.core.config import SAMPLE_MARKER
from fundus_utils.core.errors import FundusDataError
from fundus_utils.data.labels import is_image_file
from fundus_utils.samples import grades as sample_grades
from fundus_utils.samples import lesions

import numpy as np
import pytest

SMALL = (96, 92)  # (width, height): fast, still above the renderer's minimum
PER_GRADE = 2


def write(out, **kwargs):
    return sample_grades.write_graded_sample(
        out, per_grade=PER_GRADE, image_size=SMALL, progress=False, **kwargs
    )


def files_of(root):
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_layout_counts_and_marker(tmp_path):
    out = write(tmp_path / "grades")
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["0", "1", "2", "3", "4"]
    for grade in sample_grades.GRADES:
        images = sorted((out / str(grade)).iterdir())
        assert len(images) == PER_GRADE and all(is_image_file(p) for p in images)
        assert [p.name for p in images] == sample_grades.file_names(PER_GRADE)[grade]
    marker = json.loads((out / SAMPLE_MARKER).read_text(encoding="utf-8"))
    assert marker["sample"] is True and "not DDR" in marker["origin"]
    assert marker["per_grade"] == PER_GRADE and marker["image_size"] == list(SMALL)
    assert set(marker["grades"]) == {"0", "1", "2", "3", "4"}


def test_same_arguments_give_identical_files_and_seed_changes_them(tmp_path):
    first, second = write(tmp_path / "a"), write(tmp_path / "b")
    assert files_of(first) == files_of(second)
    other = write(tmp_path / "c", seed=1)
    assert files_of(other)["0/g0_0001.jpg"] != files_of(first)["0/g0_0001.jpg"]


def test_class_folder_set_reads_five_classes(tmp_path):
    out = write(tmp_path / "grades")
    data = fu.class_folder_set(
        out, 32, source_kind="sample", cache_dir=tmp_path / "cache", progress=False
    )
    assert len(data) == 5 * PER_GRADE
    assert data.class_names == ("0", "1", "2", "3", "4")
    assert np.bincount(data.labels).tolist() == [PER_GRADE] * 5
    image, label = data[0]
    assert image.shape == (3, 32, 32) and int(label) == 0


def test_findings_grow_with_the_grade():
    rng = np.random.default_rng(0)
    draws = {g: [lesions.draw_findings(g, rng) for _ in range(20)] for g in sample_grades.GRADES}
    assert all(f == lesions.GradeFindings() for f in draws[0])
    assert all(f.microaneurysms > 0 and f.dot_haemorrhages == 0 for f in draws[1])
    assert all(
        f.dot_haemorrhages > 0 and f.exudate_clusters > 0 and f.cotton_wool_spots == 0
        for f in draws[2]
    )
    assert all(
        f.cotton_wool_spots > 0 and f.neovascular_tufts == 0 and not f.preretinal for f in draws[3]
    )
    assert all(f.neovascular_tufts > 0 or f.preretinal for f in draws[4])
    with pytest.raises(FundusDataError):
        lesions.draw_findings(5, rng)


def test_painted_grades_differ_from_the_normal_eye(tmp_path):
    normal, _ = sample_grades.render_graded(0, 0, image_size=SMALL)
    again, _ = sample_grades.render_graded(0, 0, image_size=SMALL)
    np.testing.assert_array_equal(normal, again)
    severe, _ = sample_grades.render_graded(3, 0, image_size=SMALL)
    assert severe.shape == normal.shape == (SMALL[1], SMALL[0], 3)


class Interrupted(Exception):
    pass


def interrupt_after(monkeypatch, n_images):
    real = sample_grades.render_graded
    calls = {"n": 0}

    def render(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > n_images:
            raise Interrupted
        return real(*args, **kwargs)

    monkeypatch.setattr(sample_grades, "render_graded", render)


def test_interrupted_write_leaves_nothing_behind(tmp_path, monkeypatch):
    interrupt_after(monkeypatch, 3)
    with pytest.raises(Interrupted):
        write(tmp_path / "grades")
    assert list(tmp_path.iterdir()) == []  # no out_dir, no hidden partial folder


def test_interrupted_rewrite_keeps_the_earlier_sample(tmp_path, monkeypatch):
    out = write(tmp_path / "grades")
    before = files_of(out)
    interrupt_after(monkeypatch, 3)
    with pytest.raises(Interrupted):
        write(tmp_path / "grades", seed=1)
    assert files_of(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["grades"]


def test_refuses_a_folder_with_other_content(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(FundusDataError, match="left untouched"):
        write(out)
    assert (out / "notes.txt").read_text(encoding="utf-8") == "keep me"
