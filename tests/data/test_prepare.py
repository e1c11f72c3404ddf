"""fundus_utils.data.prepare: unpack, check and label once, atomically, from any source."""

from __future__ import annotations

import json
import time
from pathlib import Path

from fundus_utils.core.config import ENV_DATA, PREPARED_MARKER
from fundus_utils.data.datasets import training_set, validation_set
from fundus_utils.data.prepare import prepare_data

import pandas as pd
import pytest
from source_fixtures import SourceSpec, jpeg_bytes


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


def test_second_prepare_does_no_work(zip_source, tmp_path):
    prepare_data(zip_source, tmp_path / "w", progress=False, verbose=False)
    marker = next((tmp_path / "w").glob(f"real-*/{PREPARED_MARKER}"))
    before = marker.stat().st_mtime_ns
    start = time.perf_counter()
    again = prepare_data(zip_source, tmp_path / "w", progress=False, verbose=False)
    assert time.perf_counter() - start < 1.0 and marker.stat().st_mtime_ns == before
    assert again.n_train == 9


def test_changed_source_is_prepared_again(tmp_path, spec):
    source = spec.write_zips(tmp_path / "src")
    assert prepare_data(source, tmp_path / "w", progress=False, verbose=False).n_train == 9
    spec.train["P0099.jpg"] = jpeg_bytes(99)
    time.sleep(0.01)
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
        (folder / "FUNDUS_SAMPLE.json").write_text(json.dumps({"generator_version": "7"}))
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
