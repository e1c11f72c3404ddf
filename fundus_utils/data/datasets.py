"""``paddle.io.Dataset`` classes over the cached images, and the loaders every notebook uses.

Each item is ``(image, label)``: the image float32, CHW, RGB order, scaled to
[0, 1] and normalised per channel with ``config.MEAN_RGB`` / ``config.STD_RGB``;
the label an int64 (1 = pathologic myopia for the binary task).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import paddle

from ..core.config import CLASS_NAMES, IMAGE_SIZE
from ..core.errors import FundusDataError
from ..core.paths import default_workdir
from .augment import train_augmentation
from .cache import cached_images
from .images import to_chw_float
from .labels import is_image_file, read_labels_csv, training_labels
from .prepare import PreparedData

__all__ = [
    "FundusImages",
    "training_set",
    "validation_set",
    "class_folder_set",
    "make_loader",
    "make_loaders",
    "stratified_indices",
]


class FundusImages(paddle.io.Dataset):
    """Cached ``N x H x W x 3`` uint8 RGB images with labels; optional augmentation of the uint8
    image.

    Not used in the notebooks; fu.training_set and fu.class_folder_set return one.
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: Sequence[int],
        names: Sequence[str],
        *,
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
        source_kind: str = "unknown",
        class_names: Sequence[str] = CLASS_NAMES,
        subclasses: Sequence[str] | None = None,
    ):
        super().__init__()
        if not len(images) == len(labels) == len(names):
            raise ValueError(
                f"{len(images)} images, {len(labels)} labels and {len(names)} names differ"
            )
        self.images = images
        self.labels = np.asarray(labels, dtype=np.int64)
        self.names = list(names)
        self.transform = transform
        self.source_kind = source_kind
        self.class_names = tuple(class_names)
        self.subclasses = list(subclasses) if subclasses is not None else None

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.int64]:
        rgb = np.asarray(self.images[index])
        if self.transform is not None:
            rgb = self.transform(rgb)
        return to_chw_float(rgb), self.labels[index]

    def subset(self, indices: Sequence[int]) -> "FundusImages":
        """The same dataset restricted to ``indices`` (images stay memory-mapped)."""
        idx = np.asarray(indices, dtype=np.int64)
        return FundusImages(
            self.images[idx] if len(idx) else self.images[:0],
            self.labels[idx],
            [self.names[i] for i in idx],
            transform=self.transform,
            source_kind=self.source_kind,
            class_names=self.class_names,
            subclasses=None if self.subclasses is None else [self.subclasses[i] for i in idx],
        )


def stratified_indices(labels: Sequence[int], limit: int | None, seed: int = 0) -> np.ndarray:
    """At most ``limit`` indices keeping the class proportions (every class kept), in a fixed
    order.

    Taught in 06_convmixer, §5.
    """
    labels = np.asarray(labels)
    if limit is None or limit >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    if limit < len(classes):
        raise ValueError(f"limit {limit} cannot keep all {len(classes)} classes")
    chosen = []
    for c in classes:
        members = np.flatnonzero(labels == c)
        share = max(1, round(limit * len(members) / len(labels)))
        chosen.extend(rng.permutation(members)[:share])
    return np.sort(np.asarray(chosen[:limit] if len(chosen) > limit else chosen))


def _cache_dir(prepared: PreparedData) -> Path:
    return Path(prepared.root) / "cache"


def training_set(
    prepared: PreparedData,
    image_size: int = IMAGE_SIZE,
    *,
    augment: bool = False,
    limit: int | None = None,
    progress: bool = True,
) -> FundusImages:
    """Training images (labels from file names: P → 1, H and N → 0), cached at ``image_size``.

    Taught in 00_data, §6.5.
    """
    table = training_labels(prepared.train_dir, exclude=prepared.skipped_names)
    paths = [Path(prepared.train_dir) / n for n in table["imgName"]]
    images = cached_images(paths, image_size, _cache_dir(prepared), "train", progress=progress)
    data = FundusImages(
        images,
        table["Label"],
        table["imgName"],
        source_kind=prepared.source_kind,
        subclasses=table["Subclass"],
        transform=train_augmentation(image_size) if augment else None,
    )
    return data.subset(stratified_indices(data.labels, limit)) if limit else data


def validation_set(
    prepared: PreparedData,
    image_size: int = IMAGE_SIZE,
    *,
    limit: int | None = None,
    progress: bool = True,
) -> FundusImages:
    """Validation images (labels from ``labels.csv``), cached at ``image_size``; never augmented.

    Not used in the notebooks; used by fu.make_loaders.
    """
    table = read_labels_csv(prepared.labels_csv, prepared.valid_dir)
    table = table[~table["imgName"].isin(prepared.skipped_names)]
    paths = [Path(prepared.valid_dir) / n for n in table["imgName"]]
    images = cached_images(paths, image_size, _cache_dir(prepared), "valid", progress=progress)
    data = FundusImages(images, table["Label"], table["imgName"], source_kind=prepared.source_kind)
    return data.subset(stratified_indices(data.labels, limit)) if limit else data


def class_folder_set(
    root: str | Path,
    image_size: int = IMAGE_SIZE,
    *,
    augment: bool = False,
    source_kind: str = "unknown",
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> FundusImages:
    """Multi-class images laid out one sub-folder per class (e.g. DDR's grades ``0/`` … ``4/``).

    Taught in 06_convmixer, §5.

    Classes are the sub-folder names in sorted order; labels are their indices.
    """
    root = Path(root)
    folders = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith((".", "__")))
    if len(folders) < 2:
        raise FundusDataError(
            f"{root}: expected one sub-folder per class (at least 2), "
            f"found {[d.name for d in folders]}"
        )
    paths, labels = [], []
    for index, folder in enumerate(folders):
        files = sorted(p for p in folder.iterdir() if p.is_file() and is_image_file(p))
        if not files:
            raise FundusDataError(f"{folder}: expected images of class {folder.name!r}, found none")
        paths += files
        labels += [index] * len(files)
    key = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:8]
    cache = Path(cache_dir) if cache_dir else default_workdir() / "cache" / f"classes-{key}"
    images = cached_images(paths, image_size, cache, "classes", progress=progress)
    return FundusImages(
        images,
        labels,
        [f"{p.parent.name}/{p.name}" for p in paths],
        transform=train_augmentation(image_size) if augment else None,
        source_kind=source_kind,
        class_names=[d.name for d in folders],
    )


def make_loader(
    dataset: paddle.io.Dataset,
    batch_size: int,
    *,
    shuffle: bool,
    num_workers: int = 0,
    drop_last: bool = False,
) -> paddle.io.DataLoader:
    """A ``paddle.io.DataLoader`` over ``dataset`` yielding ``(images, labels)`` batches.

    Taught in 06_convmixer, §5.
    """
    return paddle.io.DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        drop_last=drop_last,
        num_workers=num_workers,
    )


def make_loaders(
    prepared: PreparedData,
    *,
    image_size: int = IMAGE_SIZE,
    batch_size: int = 16,
    augment: bool = False,
    train_limit: int | None = None,
    valid_limit: int | None = None,
    num_workers: int = 0,
    progress: bool = True,
) -> tuple[paddle.io.DataLoader, paddle.io.DataLoader]:
    """Training loader (shuffled, optionally augmented) and validation loader (in order).

    Taught in 00_data, §8.
    """
    train = training_set(
        prepared, image_size, augment=augment, limit=train_limit, progress=progress
    )
    valid = validation_set(prepared, image_size, limit=valid_limit, progress=progress)
    return (
        make_loader(train, batch_size, shuffle=True, num_workers=num_workers),
        make_loader(valid, batch_size, shuffle=False, num_workers=num_workers),
    )
