"""The data layer: finding, unpacking, labelling, checking, caching and loading."""
from __future__ import annotations

import json
import os
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from source_fixtures import SourceSpec, jpeg_bytes, xlsx_bytes
from fundus_utils.data import labels as labels_mod
from fundus_utils.__main__ import main as cli_main
from fundus_utils.core.config import ENV_DATA, MEAN_RGB, PREPARED_MARKER, STD_RGB
from fundus_utils.data.datasets import (class_folder_set, make_loaders, stratified_indices, training_set,
                                   validation_set)
from fundus_utils.core.errors import FundusDataError
from fundus_utils.data.images import load_rgb
from fundus_utils.data.prepare import prepare_data
from fundus_utils.data.source import find_source, inspect_source
from fundus_utils.data.unpack import extract_zip


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# --- unpacking and preparing -------------------------------------------------------------------

def test_prepare_from_zips_counts_and_labels(zip_source, tmp_path):
    prepared = prepare_data(zip_source, tmp_path / "w", progress=False)
    assert (prepared.source_kind, prepared.n_train, prepared.n_train_pm) == ("real", 9, 4)
    assert (prepared.n_valid, prepared.n_valid_pm) == (6, 3)
    train_files = sorted(p.name for p in prepared.train_dir.iterdir())
    assert train_files == sorted(SourceSpec().train)          # no masks, no __MACOSX, no .DS_Store
    table = pd.read_csv(prepared.labels_csv)
    assert list(table.columns) == ["ID", "imgName", "Label", "Fovea_X", "Fovea_Y"]
    assert table["Label"].tolist() == [0, 1, 0, 1, 0, 1]
    assert not any(p.name.startswith(("_", ".")) for p in prepared.root.iterdir())   # scratch removed


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
    assert listing(tmp_path / "w") == []                       # nothing half-written left behind
    monkeypatch.undo()
    assert prepare_data(zip_source, tmp_path / "w", progress=False, verbose=False).n_valid == 6


@pytest.mark.parametrize("evil", ["../escaped.jpg", "/tmp/escaped-abs.jpg", "a/../../escaped.jpg"])
def test_zip_entry_escaping_is_refused(tmp_path, evil):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("fine.jpg", b"ok")
        z.writestr(evil, b"bad")
    target = tmp_path / "out" / "x"
    with pytest.raises(FundusDataError, match="refused zip entry") as err:
        extract_zip(archive, target)
    assert str(archive) in str(err.value)
    assert not target.exists() and not (tmp_path / "escaped.jpg").exists()
    assert not Path("/tmp/escaped-abs.jpg").exists()


def test_prepare_from_extracted_folders_writes_nothing_into_source(tmp_path, spec):
    source = spec.write_folders(tmp_path / "extracted" / "nested")
    before = listing(tmp_path / "extracted")
    prepared = prepare_data(tmp_path / "extracted", tmp_path / "w", progress=False, verbose=False)
    assert listing(tmp_path / "extracted") == before
    assert prepared.train_dir == source / "PALM-Training400"
    assert prepared.labels_csv.is_relative_to(tmp_path / "w") and prepared.n_valid_pm == 3


def test_corrupt_and_truncated_jpegs_are_skipped_and_named(tmp_path, spec):
    spec.train["P0002.jpg"] = spec.train["P0002.jpg"][:200]              # truncated
    spec.valid["V0003.jpg"] = b"\xff\xd8 this is not a jpeg \xff\xd9"    # corrupt
    prepared = prepare_data(spec.write_zips(tmp_path / "src"), tmp_path / "w", progress=False, verbose=False)
    skipped = {Path(s["file"]).name: s["why"] for s in prepared.skipped}
    assert set(skipped) == {"P0002.jpg", "V0003.jpg"}
    assert "truncated" in skipped["P0002.jpg"] and "cannot decode" in skipped["V0003.jpg"]
    assert (prepared.n_train, prepared.n_train_pm, prepared.n_valid) == (8, 3, 5)
    train, valid = training_set(prepared, 32, progress=False), validation_set(prepared, 32, progress=False)
    assert "P0002.jpg" not in train.names and "V0003.jpg" not in valid.names
    assert len(train) == 8 and len(valid) == 5


def test_training_image_with_unknown_prefix_is_an_error(tmp_path, spec):
    spec.train["X0001.jpg"] = jpeg_bytes(5)
    with pytest.raises(FundusDataError, match=r"X0001\.jpg.*starting with H .*N .*or P"):
        prepare_data(spec.write_zips(tmp_path / "src"), tmp_path / "w", progress=False, verbose=False)


@pytest.mark.parametrize("case, pattern", [
    ("missing column", r"expected columns \['ID', 'imgName', 'Label', 'Fovea_X', 'Fovea_Y'\].*missing \['Label'\]"),
    ("label 2", r"expected Label in \{0, 1\}, found 1 other value\(s\): V0002\.jpg=2"),
    ("empty label", r"expected Label in \{0, 1\}.*V0001\.jpg=nan"),
    ("not a workbook", r"expected an \.xlsx workbook"),
])
def test_bad_label_workbook_is_explained(tmp_path, spec, case, pattern):
    if case == "missing column":
        spec.labels = spec.labels.drop(columns="Label")
    elif case == "label 2":
        spec.labels.loc[1, "Label"] = 2
    elif case == "empty label":
        spec.labels["Label"] = spec.labels["Label"].astype(float)
        spec.labels.loc[0, "Label"] = np.nan
    else:
        spec.xlsx = b"PK this is not an xlsx"
    with pytest.raises(FundusDataError, match=pattern) as err:
        prepare_data(spec.write_zips(tmp_path / "src"), tmp_path / "w", progress=False, verbose=False)
    assert "PM_Label_and_Fovea_Location.xlsx" in str(err.value)


def test_missing_workbook_is_explained(tmp_path, spec):
    source = spec.write_folders(tmp_path / "src")
    (source / "PALM-Validation-GT" / "PM_Label_and_Fovea_Location.xlsx").unlink()
    with pytest.raises(FundusDataError, match=r"found only \['PALM-Training400', 'PALM-Validation400'\]"):
        prepare_data(source, tmp_path / "w", progress=False, verbose=False)
    with pytest.raises(FundusDataError, match="expected the validation label workbook, found nothing"):
        labels_mod.read_label_xlsx(source / "PALM-Validation-GT" / "PM_Label_and_Fovea_Location.xlsx")


def test_labels_naming_absent_images_list_them(tmp_path, spec):
    spec.labels.loc[len(spec.labels)] = [7, "V0007.jpg", 1, 1.0, 1.0]
    spec.labels.loc[len(spec.labels)] = [8, "V0008.jpg", 0, 1.0, 1.0]
    with pytest.raises(FundusDataError, match=r"found 2 missing: V0007\.jpg, V0008\.jpg"):
        prepare_data(spec.write_zips(tmp_path / "src"), tmp_path / "w", progress=False, verbose=False)
    csv = tmp_path / "labels.csv"
    spec.labels.to_csv(csv, index=False)
    images = SourceSpec().write_folders(tmp_path / "imgs") / "PALM-Validation400"
    with pytest.raises(FundusDataError, match=rf"{csv}.*found 2 missing: V0007\.jpg, V0008\.jpg"):
        labels_mod.read_labels_csv(csv, images)


def test_folder_without_the_dataset_says_what_was_looked_for(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("nothing here")
    with pytest.raises(FundusDataError) as err:
        prepare_data(tmp_path / "empty", tmp_path / "w", progress=False, verbose=False)
    message = str(err.value)
    assert str(tmp_path / "empty") in message and "training.zip" in message and "PALM-Training400/" in message
    with pytest.raises(FundusDataError, match="found no such folder"):
        find_source(tmp_path / "nowhere")


def test_partial_zip_source_names_what_is_missing(tmp_path, zip_source):
    (zip_source / "valid_gt.zip").unlink()
    with pytest.raises(FundusDataError, match=r"found only \['training.zip', 'validation.zip'\]"):
        inspect_source(zip_source)


def test_search_order(tmp_path, monkeypatch, spec):
    explicit = spec.write_zips(tmp_path / "explicit")
    from_env = spec.write_folders(tmp_path / "env")
    mount = spec.write_zips(tmp_path / "aistudio" / "data19065")
    repo_data = spec.write_folders(tmp_path / "repo_data")
    monkeypatch.setattr("fundus_utils.data.source.aistudio_candidates", lambda: [tmp_path / "aistudio" / "data1", mount])
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


def test_zip_path_with_fundus_data_reaches_prepare(tmp_path, monkeypatch, zip_source):
    monkeypatch.setenv(ENV_DATA, str(zip_source))
    assert prepare_data(workdir=tmp_path / "w", progress=False, verbose=False).source == str(zip_source.resolve())


# --- labels ------------------------------------------------------------------------------------

def test_label_from_name():
    assert [labels_mod.label_from_name(n) for n in ("P0001.jpg", "H0026.jpg", "N0161.jpg")] == [1, 0, 0]
    assert labels_mod.subclass_from_name("p0003.JPG") == "P"
    with pytest.raises(FundusDataError, match=r"V0001\.jpg: expected .* found 'V'"):
        labels_mod.label_from_name("V0001.jpg")


def test_xlsx_to_csv_conversion_keeps_columns_and_values(tmp_path, spec):
    xlsx = tmp_path / "labels.xlsx"
    xlsx.write_bytes(xlsx_bytes(spec.labels))
    table = labels_mod.convert_xlsx_to_csv(xlsx, tmp_path / "out" / "labels.csv")
    back = pd.read_csv(tmp_path / "out" / "labels.csv")
    pd.testing.assert_frame_equal(back, table)
    pd.testing.assert_frame_equal(back, spec.labels)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["labels.csv"]     # no temporary file left


# --- images, cache, datasets -------------------------------------------------------------------

def test_load_rgb_is_rgb_and_area_resized(tmp_path):
    import cv2
    bgr = np.zeros((400, 420, 3), np.uint8)
    bgr[..., 2] = 255                                             # pure red in OpenCV's BGR order
    cv2.imwrite(str(tmp_path / "red.png"), bgr)
    rgb = load_rgb(tmp_path / "red.png", 50)
    assert rgb.shape == (50, 50, 3) and rgb.dtype == np.uint8
    assert rgb[..., 0].min() == 255 and rgb[..., 1:].max() == 0
    with pytest.raises(FundusDataError, match="missing.jpg: expected an image file, found nothing"):
        load_rgb(tmp_path / "missing.jpg")


def test_cache_is_built_once_and_rebuilt_when_a_file_changes(zip_source, tmp_path, monkeypatch):
    prepared = prepare_data(zip_source, tmp_path / "w", progress=False, verbose=False)
    calls = []
    real = load_rgb
    monkeypatch.setattr("fundus_utils.data.cache.load_rgb", lambda p, s: calls.append(p) or real(p, s))
    first = training_set(prepared, 40, progress=False)
    assert len(calls) == 9
    np.testing.assert_array_equal(first.images[0], real(prepared.train_dir / first.names[0], 40))
    training_set(prepared, 40, progress=False)
    assert len(calls) == 9                                        # read from the cache
    changed = prepared.train_dir / "N0001.jpg"
    os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 10**9))
    training_set(prepared, 40, progress=False)
    assert len(calls) == 18
    assert len(list((prepared.root / "cache").glob("train-rgb40-*.npy"))) == 1   # stale cache removed


def test_dataset_items_are_normalised_chw_float_with_int_labels(zip_source, tmp_path):
    prepared = prepare_data(zip_source, tmp_path / "w", progress=False, verbose=False)
    data = validation_set(prepared, 32, progress=False)
    image, label = data[1]
    assert image.shape == (3, 32, 32) and image.dtype == np.float32 and label.dtype == np.int64
    rgb = load_rgb(prepared.valid_dir / data.names[1], 32).astype(np.float32) / 255
    expected = ((rgb - np.array(MEAN_RGB)) / np.array(STD_RGB)).transpose(2, 0, 1)
    np.testing.assert_allclose(image, expected, atol=1e-5)
    assert data.source_kind == "real" and label == 1


def test_loaders_yield_batches_and_augmentation_keeps_shape(zip_source, tmp_path):
    prepared = prepare_data(zip_source, tmp_path / "w", progress=False, verbose=False)
    train, valid = make_loaders(prepared, image_size=48, batch_size=4, augment=True, progress=False)
    images, labels = next(iter(train))
    assert images.shape == [4, 3, 48, 48] and str(images.dtype).endswith("float32")
    assert labels.shape == [4] and str(labels.dtype).endswith("int64")
    assert sum(len(b[1]) for b in valid) == 6


def test_stratified_limit_keeps_every_class_in_proportion():
    labels = np.array([0] * 30 + [1] * 10)
    idx = stratified_indices(labels, 8)
    assert len(idx) == 8 and np.sum(labels[idx]) == 2
    assert np.array_equal(idx, stratified_indices(labels, 8))
    assert len(stratified_indices(labels, None)) == 40


def test_class_folder_dataset(tmp_path):
    for grade in range(5):
        (tmp_path / "ddr" / str(grade)).mkdir(parents=True)
        for i in range(grade + 1):
            (tmp_path / "ddr" / str(grade) / f"img{i}.jpg").write_bytes(jpeg_bytes(grade * 10 + i))
    data = class_folder_set(tmp_path / "ddr", 24, progress=False)
    assert data.class_names == ("0", "1", "2", "3", "4") and len(data) == 15
    assert np.bincount(data.labels).tolist() == [1, 2, 3, 4, 5]
    assert data[14][0].shape == (3, 24, 24)
    (tmp_path / "one" / "a").mkdir(parents=True)
    with pytest.raises(FundusDataError, match="one sub-folder per class"):
        class_folder_set(tmp_path / "one", 24)


# --- CLI ---------------------------------------------------------------------------------------

def test_cli_prepare_json(zip_source, tmp_path, capsys):
    assert cli_main(["prepare", "--source", str(zip_source), "--workdir", str(tmp_path / "w"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("source_kind", "train_dir", "valid_dir", "labels_csv", "n_train", "n_train_pm", "n_valid",
                "n_valid_pm", "skipped"):
        assert key in result
    assert (result["source_kind"], result["n_train"], result["n_valid_pm"]) == ("real", 9, 3)


def test_cli_bad_source_is_one_clear_message(tmp_path, capsys):
    code = cli_main(["prepare", "--source", str(tmp_path / "absent"), "--workdir", str(tmp_path / "w")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "Traceback" not in err and str(tmp_path / "absent") in err


def test_saturation_jitter_stays_within_its_amount():
    from fundus_utils.data.augment import LUMA_RGB, RandomSaturation
    rng = np.random.default_rng(0)
    rgb = rng.integers(40, 200, (16, 16, 3)).astype(np.uint8)

    def chroma(image):
        x = image.astype(np.float32)
        return np.abs(x - (x @ LUMA_RGB)[..., None]).mean()
    np.random.seed(0)
    ratios = [chroma(RandomSaturation(0.2)(rgb)) / chroma(rgb) for _ in range(200)]
    assert 0.78 <= min(ratios) and max(ratios) <= 1.22 and max(ratios) - min(ratios) > 0.3
    grey = np.repeat(rgb[..., :1], 3, axis=2)
    np.testing.assert_array_equal(RandomSaturation(0.2)(grey), grey)      # grey stays grey


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
    assert len(calls) == 1                                     # current: reused
    monkeypatch.setattr("fundus_utils.samples.pm.GENERATOR_VERSION", "8")
    assert not prepare_mod.sample_is_current(tmp_path / "w" / "sample-source")
    prepare_data(workdir=tmp_path / "w", progress=False, verbose=False)
    assert len(calls) == 2                                     # stale: made again


def test_the_course_own_work_folders_are_never_taken_as_a_source(tmp_path, monkeypatch, spec):
    repo_data = tmp_path / "repo" / "data"
    prepared_sample = spec.write_folders(repo_data / "work" / "sample")       # what a sample run leaves
    monkeypatch.setattr("fundus_utils.data.source.repo_data_dir", lambda: repo_data)
    monkeypatch.setenv("FUNDUS_WORKDIR", str(tmp_path / "elsewhere"))          # work folder outside the repo
    assert prepared_sample.is_dir() and find_source() is None


def test_to_chw_float_matches_the_formula_for_every_uint8_value():
    from fundus_utils.data.images import to_chw_float
    rgb = np.stack(np.meshgrid(np.arange(256), np.arange(3), indexing="ij"), -1)[..., 0]   # 256 x 3
    rgb = np.repeat(rgb[:, :, None], 3, axis=2).astype(np.uint8)                           # 256 x 3 x 3
    expected = ((rgb / 255.0 - np.array(MEAN_RGB)) / np.array(STD_RGB)).transpose(2, 0, 1)
    np.testing.assert_allclose(to_chw_float(rgb), expected, atol=1e-6)
    np.testing.assert_allclose(to_chw_float(rgb.astype(np.float32)), expected, atol=1e-6)


def test_a_small_image_is_decoded_at_most_twice(tmp_path, monkeypatch):
    import cv2
    path = tmp_path / "small.jpg"
    path.write_bytes(jpeg_bytes(3, size=(420, 400)))       # 1/8 is too small for 224, 1/2 is enough
    calls = []
    real = cv2.imdecode
    monkeypatch.setattr("fundus_utils.data.images.cv2.imdecode", lambda data, flag: calls.append(flag) or real(data, flag))
    rgb = load_rgb(path, 160)
    assert rgb.shape == (160, 160, 3)
    assert calls == [cv2.IMREAD_REDUCED_COLOR_8, cv2.IMREAD_REDUCED_COLOR_2]
