"""fundus_utils.data.prepare: unpack, check and label once, atomically, from any source."""

from __future__ import annotations

import json
import os
from pathlib import Path

from fundus_utils.core.atomic import FileInUseError
from fundus_utils.core.config import ENV_DATA, PREPARED_MARKER
from fundus_utils.data.datasets import training_set, validation_set
from fundus_utils.data.prepare import prepare_data

import numpy as np
import pandas as pd
import pytest
from source_fixtures import SourceSpec, jpeg_bytes
from windows_semantics import held_files


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_prepare_from_zips_counts_and_labels(zip_source, tmp_path):
    prepared = prepare_data(zip_source, tmp_path / "w", progress=False)
    assert (prepared.source_kind, prepared.n_train, prepared.n_train_pm) == ("real", 9, 4)
    assert (prepared.n_valid, prepared.n_valid_pm) == (6, 3)
    train_files = sorted(p.name for p in prepared.train_dir.iterdir())
    assert train_files == sorted(SourceSpec().train)  # no masks, no __MACOSX, no .DS_Store
    table = pd.read_csv(prepared.labels_csv)
    assert list(table.columns) == ["ID", "imgName", "Label", "Fovea_X", "Fovea_Y"]
    assert table["Label"].tolist() == [0, 1, 0, 1, 0, 1]
    assert not any(
        p.name.startswith(("_", ".")) for p in prepared.root.iterdir()
    )  # scratch removed


def test_second_prepare_does_no_work(zip_source, tmp_path, monkeypatch):
    first = prepare_data(zip_source, tmp_path / "w", progress=False, verbose=False)
    marker = next((tmp_path / "w").glob(f"real-*/{PREPARED_MARKER}"))
    before = marker.stat().st_mtime_ns
    monkeypatch.setattr("fundus_utils.data.prepare._build", no_build)
    again = prepare_data(zip_source, tmp_path / "w", progress=False, verbose=False)
    assert marker.stat().st_mtime_ns == before and again == first and again.n_train == 9


def no_build(*args, **kwargs):
    raise AssertionError("prepared again")


def test_a_remounted_source_with_fresh_times_is_not_prepared_again(
    zip_source, tmp_path, monkeypatch
):
    first = prepare_data(zip_source, tmp_path / "w", progress=False, verbose=False)
    for path in zip_source.iterdir():  # AI Studio mounts its datasets afresh on every restart
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 3600 * 10**9))
    monkeypatch.setattr("fundus_utils.data.prepare._build", no_build)
    assert prepare_data(zip_source, tmp_path / "w", progress=False, verbose=False) == first


def test_changed_source_is_prepared_again(tmp_path, spec):
    source = spec.write_zips(tmp_path / "src")
    assert prepare_data(source, tmp_path / "w", progress=False, verbose=False).n_train == 9
    spec.train["P0099.jpg"] = jpeg_bytes(99)
    spec.write_zips(source)
    assert prepare_data(source, tmp_path / "w", progress=False, verbose=False).n_train == 10


def test_interrupted_prepare_is_not_taken_as_complete(zip_source, tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("fundus_utils.data.prepare.convert_xlsx_to_csv", interrupted)
    with pytest.raises(KeyboardInterrupt):
        prepare_data(zip_source, tmp_path / "w", progress=False, verbose=False)
    assert listing(tmp_path / "w") == []  # nothing half-written left behind
    monkeypatch.undo()
    assert prepare_data(zip_source, tmp_path / "w", progress=False, verbose=False).n_valid == 6


def test_prepare_from_extracted_folders_writes_nothing_into_source(tmp_path, spec):
    source = spec.write_folders(tmp_path / "extracted" / "nested")
    before = listing(tmp_path / "extracted")
    prepared = prepare_data(tmp_path / "extracted", tmp_path / "w", progress=False, verbose=False)
    assert listing(tmp_path / "extracted") == before
    assert prepared.train_dir == source / "PALM-Training400"
    assert prepared.labels_csv.is_relative_to(tmp_path / "w") and prepared.n_valid_pm == 3


def test_corrupt_and_truncated_jpegs_are_skipped_and_named(tmp_path, spec):
    spec.train["P0002.jpg"] = spec.train["P0002.jpg"][:200]  # truncated
    spec.valid["V0003.jpg"] = b"\xff\xd8 this is not a jpeg \xff\xd9"  # corrupt
    prepared = prepare_data(
        spec.write_zips(tmp_path / "src"), tmp_path / "w", progress=False, verbose=False
    )
    skipped = {Path(s["file"]).name: s["why"] for s in prepared.skipped}
    assert set(skipped) == {"P0002.jpg", "V0003.jpg"}
    assert "truncated" in skipped["P0002.jpg"] and "cannot decode" in skipped["V0003.jpg"]
    assert (prepared.n_train, prepared.n_train_pm, prepared.n_valid) == (8, 3, 5)
    train, valid = (
        training_set(prepared, 32, progress=False),
        validation_set(prepared, 32, progress=False),
    )
    assert "P0002.jpg" not in train.names and "V0003.jpg" not in valid.names
    assert len(train) == 8 and len(valid) == 5


def test_zip_path_with_fundus_data_reaches_prepare(tmp_path, monkeypatch, zip_source):
    monkeypatch.setenv(ENV_DATA, str(zip_source))
    assert prepare_data(workdir=tmp_path / "w", progress=False, verbose=False).source == str(
        zip_source.resolve()
    )


def test_sample_source_is_regenerated_when_the_generator_changes(tmp_path, monkeypatch):
    from fundus_utils.data import prepare as prepare_mod

    calls = []

    def fake_writer(folder, **kwargs):
        calls.append(kwargs)
        SourceSpec(n_h=1, n_n=1, n_p=1, n_valid=2).write_zips(folder)
        (folder / "FUNDUS_SAMPLE.json").write_text(
            json.dumps({"generator_version": "7"}), encoding="utf-8"
        )
        return folder

    monkeypatch.setattr("fundus_utils.samples.pm.write_sample_source", fake_writer)
    monkeypatch.setattr("fundus_utils.samples.pm.GENERATOR_VERSION", "7")
    first = prepare_data(workdir=tmp_path / "w", progress=False, verbose=False)
    assert first.is_sample and first.root.name == "sample" and len(calls) == 1
    prepare_data(workdir=tmp_path / "w", progress=False, verbose=False)
    assert len(calls) == 1  # current: reused
    monkeypatch.setattr("fundus_utils.samples.pm.GENERATOR_VERSION", "8")
    assert not prepare_mod.sample_is_current(tmp_path / "w" / "sample-source")
    prepare_data(workdir=tmp_path / "w", progress=False, verbose=False)
    assert len(calls) == 2  # stale: made again


@pytest.mark.parametrize("file_semantics", ["windows"], indirect=True)
def test_the_default_sample_set_prepares_twice_while_its_cache_is_mapped(
    tmp_path, monkeypatch, file_semantics
):
    """The course's own path on Windows: generate, unpack, cache, then prepare again while a
    dataset still maps the cache (as a second notebook does while the first is open)."""
    monkeypatch.setattr("fundus_utils.core.atomic.RETRY_DELAYS", (0.0,))
    work = tmp_path / "w"
    first = prepare_data(sample="default", workdir=work, progress=False, verbose=False)
    assert first.is_sample and (first.n_train, first.n_valid) == (60, 40)
    train = training_set(first, 32, progress=False)
    (cache,) = (first.root / "cache").glob("train-rgb32-*.npy")
    assert str(cache) in held_files()
    pixels = np.array(train.images)

    again = prepare_data(sample="default", workdir=work, progress=False, verbose=False)
    assert again == first
    np.testing.assert_array_equal(training_set(again, 32, progress=False).images, pixels)

    # A stale prepared folder must be replaced, but it holds the mapped cache: a clear error,
    # and the folder (with its cache) stays as it was.
    marker = first.root / PREPARED_MARKER
    stale = json.loads(marker.read_text(encoding="utf-8")) | {"fingerprint": "stale"}
    marker.write_text(json.dumps(stale), encoding="utf-8")
    with pytest.raises(FileInUseError) as error:
        prepare_data(sample="default", workdir=work, progress=False, verbose=False)
    assert str(error.value).startswith(f"{first.root}: could not replace it")
    assert "FUNDUS_WORKDIR" in str(error.value)
    np.testing.assert_array_equal(train.images, pixels)
    assert json.loads(marker.read_text(encoding="utf-8"))["fingerprint"] == "stale"
    assert sorted(p.name for p in work.iterdir()) == ["sample", "sample-source"]  # no leftovers

    del train  # the notebook is closed: now it can be prepared again
    third = prepare_data(sample="default", workdir=work, progress=False, verbose=False)
    assert third == first and not (third.root / "cache").exists()
    np.testing.assert_array_equal(training_set(third, 32, progress=False).images, pixels)
