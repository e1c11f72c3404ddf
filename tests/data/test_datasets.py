"""fundus_utils.data.datasets: dataset items, loaders, stratified limits and class-folder sets."""

from __future__ import annotations

from fundus_utils.core.config import MEAN_RGB, STD_RGB
from fundus_utils.core.errors import FundusDataError
from fundus_utils.data.datasets import (
    class_folder_set,
    make_loaders,
    stratified_indices,
    validation_set,
)
from fundus_utils.data.images import load_rgb
from fundus_utils.data.prepare import prepare_data

import numpy as np
import pytest
from source_fixtures import jpeg_bytes


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
