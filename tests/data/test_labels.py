"""fundus_utils.data.labels: labels from file names, the validation workbook and its checks."""

from __future__ import annotations

from fundus_utils.core.errors import FundusDataError
from fundus_utils.data import labels as labels_mod
from fundus_utils.data.prepare import prepare_data

import numpy as np
import pandas as pd
import pytest
from source_fixtures import SourceSpec, jpeg_bytes, xlsx_bytes


def test_label_from_name():
    assert [labels_mod.label_from_name(n) for n in ("P0001.jpg", "H0026.jpg", "N0161.jpg")] == [
        1,
        0,
        0,
    ]
    assert labels_mod.subclass_from_name("p0003.JPG") == "P"
    with pytest.raises(FundusDataError, match=r"V0001\.jpg: expected .* found 'V'"):
        labels_mod.label_from_name("V0001.jpg")


def test_training_image_with_unknown_prefix_is_an_error(tmp_path, spec):
    spec.train["X0001.jpg"] = jpeg_bytes(5)
    with pytest.raises(FundusDataError, match=r"X0001\.jpg.*starting with H .*N .*or P"):
        prepare_data(
            spec.write_zips(tmp_path / "src"), tmp_path / "w", progress=False, verbose=False
        )


@pytest.mark.parametrize(
    "case, pattern",
    [
        (
            "missing column",
            r"expected columns \['ID', 'imgName', 'Label', 'Fovea_X', 'Fovea_Y'\]"
            r".*missing \['Label'\]",
        ),
        ("label 2", r"expected Label in \{0, 1\}, found 1 other value\(s\): V0002\.jpg=2"),
        ("empty label", r"expected Label in \{0, 1\}.*V0001\.jpg=nan"),
        ("not a workbook", r"expected an \.xlsx workbook"),
    ],
)
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
        prepare_data(
            spec.write_zips(tmp_path / "src"), tmp_path / "w", progress=False, verbose=False
        )
    assert "PM_Label_and_Fovea_Location.xlsx" in str(err.value)


def test_labels_naming_absent_images_list_them(tmp_path, spec):
    spec.labels.loc[len(spec.labels)] = [7, "V0007.jpg", 1, 1.0, 1.0]
    spec.labels.loc[len(spec.labels)] = [8, "V0008.jpg", 0, 1.0, 1.0]
    with pytest.raises(FundusDataError, match=r"found 2 missing: V0007\.jpg, V0008\.jpg"):
        prepare_data(
            spec.write_zips(tmp_path / "src"), tmp_path / "w", progress=False, verbose=False
        )
    csv = tmp_path / "labels.csv"
    spec.labels.to_csv(csv, index=False)
    images = SourceSpec().write_folders(tmp_path / "imgs") / "PALM-Validation400"
    with pytest.raises(FundusDataError, match=rf"{csv}.*found 2 missing: V0007\.jpg, V0008\.jpg"):
        labels_mod.read_labels_csv(csv, images)


def test_xlsx_to_csv_conversion_keeps_columns_and_values(tmp_path, spec):
    xlsx = tmp_path / "labels.xlsx"
    xlsx.write_bytes(xlsx_bytes(spec.labels))
    table = labels_mod.convert_xlsx_to_csv(xlsx, tmp_path / "out" / "labels.csv")
    back = pd.read_csv(tmp_path / "out" / "labels.csv")
    pd.testing.assert_frame_equal(back, table)
    pd.testing.assert_frame_equal(back, spec.labels)
    assert [p.name for p in (tmp_path / "out").iterdir()] == [
        "labels.csv"
    ]  # no temporary file left
