"""Small sources laid out like iChallenge-PM, for the data-layer tests (tiny JPEGs, real names)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from fundus_utils.core.config import (
    LABEL_COLUMNS,
    NESTED_TRAIN_ZIP,
    TRAIN_DIR_NAME,
    VALID_DIR_NAME,
    VALID_GT_DIR_NAME,
    VALID_XLSX_NAME,
)

import cv2
import numpy as np
import pandas as pd


def jpeg_bytes(seed: int, size: tuple[int, int] = (72, 68)) -> bytes:
    """A small, valid JPEG whose content depends on ``seed``."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return buf.tobytes()


def xlsx_bytes(table: pd.DataFrame) -> bytes:
    out = io.BytesIO()
    table.to_excel(out, index=False, engine="openpyxl")
    return out.getvalue()


def label_table(valid_names: list[str], labels: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ID": range(1, len(valid_names) + 1),
            "imgName": valid_names,
            "Label": labels,
            "Fovea_X": 36.5,
            "Fovea_Y": 34.25,
        }
    )[list(LABEL_COLUMNS)]


class SourceSpec:
    """What a fixture source holds; tests tweak it before writing."""

    def __init__(self, n_h: int = 2, n_n: int = 3, n_p: int = 4, n_valid: int = 6):
        self.train = {
            f"{c}{i:04d}.jpg": jpeg_bytes(hash((c, i)) % 2**31)
            for c, n in (("H", n_h), ("N", n_n), ("P", n_p))
            for i in range(1, n + 1)
        }
        self.valid = {f"V{i:04d}.jpg": jpeg_bytes(1000 + i) for i in range(1, n_valid + 1)}
        self.labels = label_table(sorted(self.valid), [i % 2 for i in range(n_valid)])
        self.xlsx: bytes | None = None  # None: built from self.labels

    def workbook(self) -> bytes:
        return self.xlsx if self.xlsx is not None else xlsx_bytes(self.labels)

    def write_zips(self, folder: Path) -> Path:
        """The three zips exactly as AI Studio ships them (nested training zip, annotations,
        junk)."""
        folder.mkdir(parents=True, exist_ok=True)
        inner = io.BytesIO()
        with zipfile.ZipFile(inner, "w") as z:
            for name, data in self.train.items():
                z.writestr(f"{TRAIN_DIR_NAME}/{name}", data)
            z.writestr(f"__MACOSX/{TRAIN_DIR_NAME}/._P0001.jpg", b"junk")
            z.writestr(f"{TRAIN_DIR_NAME}/.DS_Store", b"junk")
        with zipfile.ZipFile(folder / "training.zip", "w") as z:
            z.writestr(NESTED_TRAIN_ZIP, inner.getvalue())
            z.writestr(f"__MACOSX/._{NESTED_TRAIN_ZIP}", b"junk")
            z.writestr("PALM-Training400-Annotation-D&F/Disc_Masks/P0001.bmp", jpeg_bytes(7))
            z.writestr(
                "PALM-Training400-Annotation-Lession/Lesion_Masks/Atrophy/X0001.jpg", jpeg_bytes(8)
            )
        with zipfile.ZipFile(folder / "validation.zip", "w") as z:
            for name, data in self.valid.items():
                z.writestr(f"{VALID_DIR_NAME}/{name}", data)
        with zipfile.ZipFile(folder / "valid_gt.zip", "w") as z:
            z.writestr(f"{VALID_GT_DIR_NAME}/{VALID_XLSX_NAME}", self.workbook())
            z.writestr(f"{VALID_GT_DIR_NAME}/Disc_Masks/V0001.bmp", jpeg_bytes(9))
        return folder

    def write_folders(self, folder: Path) -> Path:
        """The same data already extracted (as other copies of the dataset circulate)."""
        for sub, files in ((TRAIN_DIR_NAME, self.train), (VALID_DIR_NAME, self.valid)):
            (folder / sub).mkdir(parents=True, exist_ok=True)
            for name, data in files.items():
                (folder / sub / name).write_bytes(data)
        (folder / VALID_GT_DIR_NAME).mkdir(parents=True, exist_ok=True)
        (folder / VALID_GT_DIR_NAME / VALID_XLSX_NAME).write_bytes(self.workbook())
        return folder
