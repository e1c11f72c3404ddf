"""Labels: from training file names, and from the validation xlsx (converted to csv)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..core.atomic import write_file
from ..core.config import CLASS_PREFIXES, IMAGE_SUFFIXES, LABEL_COLUMNS
from ..core.errors import FundusDataError

__all__ = [
    "is_image_file",
    "label_from_name",
    "training_labels",
    "convert_xlsx_to_csv",
    "read_labels_csv",
]


def is_image_file(path: str | Path) -> bool:
    """A file whose suffix marks it as an image the course reads. Taught in 00_data, §3."""
    name = Path(path).name
    return Path(name).suffix.lower() in IMAGE_SUFFIXES and not name.startswith(".")


def subclass_from_name(name: str) -> str:
    """'P', 'H' or 'N' from a training file name such as ``P0001.jpg``."""
    prefix = Path(name).name[:1].upper()
    if prefix not in CLASS_PREFIXES:
        raise FundusDataError(
            f"{name}: expected a training image name starting with H (high myopia), N (normal) "
            f"or P (pathologic myopia), found {Path(name).name[:1]!r}"
        )
    return prefix


def label_from_name(name: str) -> int:
    """Binary label of a training image from its name: P -> 1, H and N -> 0.

    Taught in 00_data, §2.
    """
    return CLASS_PREFIXES[subclass_from_name(name)]


def training_labels(
    train_dir: str | Path, exclude: set[str] | frozenset[str] = frozenset()
) -> pd.DataFrame:
    """Table ``imgName, Label, Subclass`` of every image in ``train_dir`` (sorted by name).

    Taught in 00_data, §2.
    """
    train_dir = Path(train_dir)
    names = sorted(p.name for p in train_dir.iterdir() if p.is_file() and is_image_file(p))
    rows = [
        (n, label_from_name(train_dir / n), subclass_from_name(n))
        for n in names
        if n not in exclude
    ]
    return pd.DataFrame(rows, columns=["imgName", "Label", "Subclass"])


def _check_label_table(df: pd.DataFrame, source: Path) -> pd.DataFrame:
    missing = [c for c in LABEL_COLUMNS if c not in df.columns]
    if missing:
        raise FundusDataError(
            f"{source}: expected columns {list(LABEL_COLUMNS)}, found {list(df.columns)} "
            f"(missing {missing})"
        )
    labels = pd.to_numeric(df["Label"], errors="coerce")
    bad = df.loc[~labels.isin([0, 1]), ["imgName", "Label"]]
    if len(bad):
        shown = ", ".join(f"{r.imgName}={r.Label!r}" for r in bad.head(5).itertuples())
        raise FundusDataError(
            f"{source}: expected Label in {{0, 1}}, found {len(bad)} other value(s): {shown}"
        )
    if df["imgName"].isna().any() or df["imgName"].duplicated().any():
        dupes = df.loc[df["imgName"].duplicated(), "imgName"].head(5).tolist()
        raise FundusDataError(
            f"{source}: expected one row per image name, found empty or repeated "
            f"imgName values {dupes}"
        )
    out = df[list(LABEL_COLUMNS)].copy()
    out["Label"] = labels.astype(int)
    out["imgName"] = out["imgName"].astype(str)
    return out


def read_label_xlsx(xlsx: str | Path) -> pd.DataFrame:
    """Read ``PM_Label_and_Fovea_Location.xlsx`` and check its columns and labels."""
    xlsx = Path(xlsx)
    if not xlsx.is_file():
        raise FundusDataError(
            f"{xlsx}: expected the validation label workbook, found nothing at that path"
        )
    try:
        df = pd.read_excel(xlsx, engine="openpyxl")
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        raise FundusDataError(
            f"{xlsx}: expected an .xlsx workbook, found a file openpyxl cannot read ({exc})"
        ) from None
    return _check_label_table(df, xlsx)


def check_images_exist(df: pd.DataFrame, image_dir: str | Path, source: str | Path) -> None:
    """Every ``imgName`` in ``df`` must be a file in ``image_dir``; else one error naming all."""
    image_dir = Path(image_dir)
    present = set(os.listdir(image_dir)) if image_dir.is_dir() else set()
    missing = [n for n in df["imgName"] if n not in present]
    if missing:
        shown = ", ".join(missing[:10]) + (
            f" … and {len(missing) - 10} more" if len(missing) > 10 else ""
        )
        raise FundusDataError(
            f"{source}: expected every imgName to be an image in {image_dir}, "
            f"found {len(missing)} missing: {shown}"
        )


def write_csv_atomic(df: pd.DataFrame, csv_path: str | Path) -> Path:
    """Write ``df`` to ``csv_path`` through a temporary file: no half-written csv is ever seen."""
    return write_file(csv_path, lambda temporary: df.to_csv(temporary, index=False))


def convert_xlsx_to_csv(
    xlsx: str | Path, csv_path: str | Path, image_dir: str | Path | None = None
) -> pd.DataFrame:
    """The xlsx -> csv label conversion: read, validate, write ``labels.csv`` with the same
    columns.

    Taught in 00_data, §4.

    With ``image_dir``, also checks that every image the table names exists there.
    Returns the table that was written.
    """
    df = read_label_xlsx(xlsx)
    if image_dir is not None:
        check_images_exist(df, image_dir, xlsx)
    write_csv_atomic(df, csv_path)
    return df


def read_labels_csv(csv_path: str | Path, image_dir: str | Path | None = None) -> pd.DataFrame:
    """Read and validate a ``labels.csv`` (same checks as the conversion).

    Taught in 00_data, §2.
    """
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise FundusDataError(f"{csv_path}: expected a labels csv, found nothing at that path")
    try:
        df = pd.read_csv(csv_path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise FundusDataError(
            f"{csv_path}: expected a csv with columns {list(LABEL_COLUMNS)}, "
            f"found text pandas cannot parse ({exc})"
        ) from None
    df = _check_label_table(df, csv_path)
    if image_dir is not None:
        check_images_exist(df, image_dir, csv_path)
    return df
