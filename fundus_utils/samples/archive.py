"""Byte-reproducible files: zips with fixed dates, JPEG, BMP masks and the xlsx label workbook,
laid out like AI Studio dataset 19065."""

from __future__ import annotations

import io
import re
import shutil
import zipfile
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
import pandas as pd

from ..core.config import (
    LABEL_COLUMNS,
)
from ..core.errors import FundusDataError

__all__: list[str] = []  # internal: nothing here is part of the flat API (fu.<name>)

# --- zips and annotation stand-ins ------------------------------------------------------------
ZIP_DATE_TIME = (2019, 1, 1, 0, 0, 0)  # fixed entry dates make the zips byte-identical
XLSX_TIMESTAMP = "2019-01-01T00:00:00Z"
ZIP_COMPRESSLEVEL = 6
STORED_SUFFIXES = (".jpg", ".zip")  # already compressed: stored, not deflated
DF_ANNOTATION_DIR = "PALM-Training400-Annotation-D&F"
LESION_ANNOTATION_DIR = "PALM-Training400-Annotation-Lession"  # sic: the real archive's spelling
DISC_MASK_DIR = "Disc_Masks"
ATROPHY_MASK_DIR = "Lesion_Masks/Atrophy"
MACOS_JUNK_DIR = "__MACOSX"
N_DISC_MASKS_PER_CLASS = 1
N_LESION_MASKS = 2
N_VALID_DISC_MASKS = 2
APPLEDOUBLE_JUNK = (
    b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(10) + b"ATTR" + bytes(30)
)


# ============================================================================================
# Byte-reproducible files
# ============================================================================================


def _zipinfo(name: str, size: int = 0) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
    info.create_system = 3
    if name.endswith("/"):
        info.external_attr = (0o40755 << 16) | 0x10
        info.compress_type = zipfile.ZIP_STORED
    else:
        info.external_attr = 0o100644 << 16
        info.compress_type = (
            zipfile.ZIP_STORED if name.lower().endswith(STORED_SUFFIXES) else zipfile.ZIP_DEFLATED
        )
    info.file_size = size
    return info


class ZipWriter:
    """A zip written in ascending entry order with fixed dates and modes, parent folders
    included."""

    def __init__(self, target: Path | BinaryIO):
        self._zf = zipfile.ZipFile(target, "w", compresslevel=ZIP_COMPRESSLEVEL)
        self._last = ""
        self._dirs: set[str] = set()

    def _claim(self, name: str) -> None:
        parts = name.rstrip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            folder = "/".join(parts[:i]) + "/"
            if folder not in self._dirs:
                self._claim_one(folder)
                self._zf.writestr(_zipinfo(folder), b"")
        self._claim_one(name)

    def _claim_one(self, name: str) -> None:
        if name <= self._last:
            raise ValueError(f"zip entries out of order: {name!r} after {self._last!r}")
        self._last = name
        if name.endswith("/"):
            self._dirs.add(name)

    def add(self, name: str, data: bytes) -> None:
        self._claim(name)
        self._zf.writestr(_zipinfo(name, len(data)), data)

    def add_file(self, name: str, path: Path) -> None:
        self._claim(name)
        with (
            open(path, "rb") as src,
            self._zf.open(_zipinfo(name, path.stat().st_size), "w") as dst,
        ):
            shutil.copyfileobj(src, dst, 1 << 20)

    def __enter__(self) -> "ZipWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self._zf.close()


def write_zip(target: Path | BinaryIO, entries: dict[str, bytes | Path]) -> None:
    """Write ``entries`` (name -> bytes, or a file to copy) sorted by name."""
    with ZipWriter(target) as zw:
        for name in sorted(entries):
            data = entries[name]
            zw.add_file(name, data) if isinstance(data, Path) else zw.add(name, data)


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    write_zip(buf, dict(entries))
    return buf.getvalue()


def encode_jpeg(rgb: np.ndarray, quality: int) -> bytes:
    """RGB uint8 image -> JPEG bytes at ``quality``."""
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    )
    if not ok:
        raise FundusDataError("could not encode a sample image as JPEG")
    return buf.tobytes()


def bmp(mask: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".bmp", mask)
    if not ok:
        raise FundusDataError("could not encode a sample mask as BMP")
    return buf.tobytes()


def xlsx(rows: list[dict]) -> bytes:
    """The validation labels workbook, its zip dates and document timestamps fixed."""
    buf = io.BytesIO()
    pd.DataFrame(rows, columns=list(LABEL_COLUMNS)).to_excel(buf, index=False, engine="openpyxl")
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src,
        zipfile.ZipFile(out, "w", compresslevel=ZIP_COMPRESSLEVEL) as dst,
    ):
        for info in src.infolist():  # keep openpyxl's order: [Content_Types].xml etc.
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*",
                    rb"\g<1>" + XLSX_TIMESTAMP.encode(),
                    data,
                )
            dst.writestr(_zipinfo(info.filename, len(data)), data)
    return out.getvalue()
