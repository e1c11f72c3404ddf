"""fundus_utils.data.source: where the dataset is looked for, and what a source must hold."""

from __future__ import annotations

import os
import zipfile

from fundus_utils.core.config import ENV_DATA
from fundus_utils.core.errors import FundusDataError
from fundus_utils.data import labels as labels_mod
from fundus_utils.data.prepare import prepare_data
from fundus_utils.data.source import find_source, inspect_source

import pytest


def test_folder_without_the_dataset_says_what_was_looked_for(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("nothing here", encoding="utf-8")
    with pytest.raises(FundusDataError) as err:
        prepare_data(tmp_path / "empty", tmp_path / "w", progress=False, verbose=False)
    message = str(err.value)
    assert (
        str(tmp_path / "empty") in message
        and "training.zip" in message
        and "PALM-Training400/" in message
    )
    with pytest.raises(FundusDataError, match="found no such folder"):
        find_source(tmp_path / "nowhere")


def test_partial_zip_source_names_what_is_missing(tmp_path, zip_source):
    (zip_source / "valid_gt.zip").unlink()
    with pytest.raises(FundusDataError, match=r"found only \['training.zip', 'validation.zip'\]"):
        inspect_source(zip_source)


def test_missing_workbook_is_explained(tmp_path, spec):
    source = spec.write_folders(tmp_path / "src")
    (source / "PALM-Validation-GT" / "PM_Label_and_Fovea_Location.xlsx").unlink()
    with pytest.raises(
        FundusDataError, match=r"found only \['PALM-Training400', 'PALM-Validation400'\]"
    ):
        prepare_data(source, tmp_path / "w", progress=False, verbose=False)
    with pytest.raises(
        FundusDataError, match="expected the validation label workbook, found nothing"
    ):
        labels_mod.read_label_xlsx(
            source / "PALM-Validation-GT" / "PM_Label_and_Fovea_Location.xlsx"
        )


def test_search_order(tmp_path, monkeypatch, spec):
    explicit = spec.write_zips(tmp_path / "explicit")
    from_env = spec.write_folders(tmp_path / "env")
    mount = spec.write_zips(tmp_path / "aistudio" / "data19065")
    repo_data = spec.write_folders(tmp_path / "repo_data")
    monkeypatch.setattr(
        "fundus_utils.data.source.aistudio_candidates",
        lambda: [tmp_path / "aistudio" / "data1", mount],
    )
    monkeypatch.setattr("fundus_utils.data.source.repo_data_dir", lambda: repo_data)
    monkeypatch.setenv(ENV_DATA, str(from_env))
    assert find_source(explicit).path == explicit.resolve()
    assert find_source().found_by == ENV_DATA
    monkeypatch.delenv(ENV_DATA)
    assert (find_source().path, find_source().found_by) == (mount, "AI Studio mount")
    monkeypatch.setattr("fundus_utils.data.source.aistudio_candidates", lambda: [])
    assert find_source().path == repo_data.resolve()
    monkeypatch.setattr("fundus_utils.data.source.repo_data_dir", lambda: None)
    assert find_source() is None


def test_the_course_own_work_folders_are_never_taken_as_a_source(tmp_path, monkeypatch, spec):
    repo_data = tmp_path / "repo" / "data"
    prepared_sample = spec.write_folders(repo_data / "work" / "sample")  # what a sample run leaves
    monkeypatch.setattr("fundus_utils.data.source.repo_data_dir", lambda: repo_data)
    monkeypatch.setenv(
        "FUNDUS_WORKDIR", str(tmp_path / "elsewhere")
    )  # work folder outside the repo
    assert prepared_sample.is_dir() and find_source() is None


def _touch_everything(folder, seconds: int) -> None:
    for path in folder.rglob("*"):
        os.utime(path, ns=(seconds * 10**9, seconds * 10**9))


def test_fingerprint_follows_names_and_sizes_not_modification_times(tmp_path, spec):
    zips = inspect_source(spec.write_zips(tmp_path / "zips"))
    folders = inspect_source(spec.write_folders(tmp_path / "folders"))
    before = {source.layout: source.fingerprint() for source in (zips, folders)}
    _touch_everything(tmp_path, 10**6)  # as AI Studio's mount after a restart: fresh times
    assert {source.layout: source.fingerprint() for source in (zips, folders)} == before

    image = folders.train_dir / "N0001.jpg"
    image.write_bytes(image.read_bytes() + b"\0")  # one byte more
    assert folders.fingerprint() != before["folders"]
    image.write_bytes(image.read_bytes()[:-1])
    assert folders.fingerprint() == before["folders"]
    image.rename(image.with_name("N0099.jpg"))
    assert folders.fingerprint() != before["folders"]

    with zipfile.ZipFile(zips.path / "validation.zip", "a") as archive:
        archive.writestr("PALM-Validation400/V0099.jpg", b"more")
    assert zips.fingerprint() != before["zips"]


def test_a_zip_rewritten_at_the_same_size_still_changes_the_fingerprint(tmp_path, spec):
    source = inspect_source(spec.write_zips(tmp_path / "zips"))
    archive = source.path / "valid_gt.zip"

    def rewrite(fill: bytes) -> None:  # stored, not compressed: the same size for either fill
        with zipfile.ZipFile(archive, "w") as zf:
            zf.writestr("PALM-Validation-GT/PM_Label_and_Fovea_Location.xlsx", fill * 64)

    rewrite(b"a")
    size, before = archive.stat().st_size, source.fingerprint()
    rewrite(b"b")
    assert archive.stat().st_size == size and source.fingerprint() != before  # the CRC tells
