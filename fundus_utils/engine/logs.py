"""What a run reports as it goes: one line per epoch and VisualDL scalars."""

from __future__ import annotations

import math

from .history import History

__all__: list[str] = []  # internal: nothing here is part of the flat API (fu.<name>)


def open_scalar_writer(log_dir):
    """A VisualDL LogWriter, or None (with one printed note) when VisualDL is not installed."""
    if log_dir is None:
        return None
    try:
        from visualdl import LogWriter
    except ImportError:
        print(
            f"Note: VisualDL is not installed, so no scalars are logged to {log_dir} "
            "(pip install visualdl)."
        )
        return None
    return LogWriter(logdir=str(log_dir))


def log_scalars(writer, history: History) -> None:
    if writer is None:
        return
    row = history.last
    for tag, key in (
        ("train/loss", "train_loss"),
        ("train/acc", "train_acc"),
        ("valid/loss", "valid_loss"),
        ("valid/acc", "valid_acc"),
        ("valid/auc", "valid_auc"),
        ("lr", "lr"),
    ):
        if math.isfinite(row[key]):
            writer.add_scalar(tag=tag, value=row[key], step=row["epoch"])


def format_epoch(row: dict, epochs: int) -> str:
    width = len(str(epochs))
    valid = (
        "valid -"
        if not math.isfinite(row["valid_loss"])
        else f"valid loss {row['valid_loss']:.4f} acc {row['valid_acc']:.4f} "
        f"AUC {row['valid_auc']:.4f}"
    )
    return (
        f"epoch {row['epoch']:>{width}}/{epochs}  train loss {row['train_loss']:.4f} "
        f"acc {row['train_acc']:.4f} | {valid} | "
        f"{row['seconds']:.1f} s, {row['images_per_s']:.1f} img/s"
    )
