"""What one training run recorded, epoch by epoch: :class:`History`.

Taught in 01_lenet, section 5.
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

from .metrics import NAN

__all__ = ["History"]

MONITOR_DIRECTIONS = {"auc": "max", "acc": "max", "loss": "min"}


@dataclasses.dataclass
class History:
    """Per-epoch records of one training run (one list entry per epoch, epoch 1 first).

    Not used in the notebooks; fu.fit returns one (``history``).

    ``train_loss`` is the optimised loss (auxiliary-head terms included); ``valid_*`` are
    computed on the main head only (NaN when there is no validation loader).
    ``images_per_s`` counts training images of all processes per second of training.
    """

    monitor: str = "auc"
    train_loss: list = dataclasses.field(default_factory=list)
    train_acc: list = dataclasses.field(default_factory=list)
    valid_loss: list = dataclasses.field(default_factory=list)
    valid_acc: list = dataclasses.field(default_factory=list)
    valid_auc: list = dataclasses.field(default_factory=list)
    valid_sensitivity: list = dataclasses.field(default_factory=list)
    valid_specificity: list = dataclasses.field(default_factory=list)
    lr: list = dataclasses.field(default_factory=list)
    seconds: list = dataclasses.field(default_factory=list)
    images_per_s: list = dataclasses.field(default_factory=list)

    SERIES: ClassVar[tuple[str, ...]] = (
        "train_loss",
        "train_acc",
        "valid_loss",
        "valid_acc",
        "valid_auc",
        "valid_sensitivity",
        "valid_specificity",
        "lr",
        "seconds",
        "images_per_s",
    )

    def __len__(self) -> int:
        return len(self.train_loss)

    @property
    def epochs(self) -> int:
        """Number of completed epochs."""
        return len(self)

    def append(self, **values: float) -> None:
        """Add one epoch; every series must be given."""
        missing = set(self.SERIES) - set(values)
        if missing:
            raise ValueError(f"History.append: missing {sorted(missing)}")
        for name in self.SERIES:
            getattr(self, name).append(float(values[name]))

    def row(self, epoch: int) -> dict:
        """All values of ``epoch`` (1-based) as a dict, with ``"epoch"``."""
        return {"epoch": epoch, **{name: getattr(self, name)[epoch - 1] for name in self.SERIES}}

    def _monitored(self) -> tuple[list, str]:
        """The series that decides the best epoch and its direction.

        ``valid_<monitor>``; if it holds no number at all (no validation loader, or AUC
        undefined on a single-class validation set), ``valid_loss``; if that is empty too,
        nothing (the last epoch then counts as best).
        """
        values = getattr(self, f"valid_{self.monitor}")
        if any(math.isfinite(v) for v in values):
            return values, MONITOR_DIRECTIONS[self.monitor]
        return self.valid_loss, "min"

    @property
    def best_epoch(self) -> int | None:
        """1-based epoch with the best monitored value; ``None`` before epoch 1.

        Ties (AUC often reaches 1.0 on easy data) go to the lower validation loss, then to
        the earlier epoch.
        """
        if not len(self):
            return None
        values, direction = self._monitored()
        sign = 1.0 if direction == "max" else -1.0
        scored = [
            (sign * v, -loss if math.isfinite(loss) else -math.inf, -i)
            for i, (v, loss) in enumerate(zip(values, self.valid_loss))
            if math.isfinite(v)
        ]
        return -max(scored)[2] + 1 if scored else len(self)

    @property
    def best(self) -> dict | None:
        """The row of :attr:`best_epoch`."""
        return None if self.best_epoch is None else self.row(self.best_epoch)

    @property
    def last(self) -> dict | None:
        """The row of the last completed epoch."""
        return self.row(len(self)) if len(self) else None

    def as_dataframe(self):
        """A pandas DataFrame, one row per epoch, indexed by the 1-based epoch."""
        import pandas as pd

        frame = pd.DataFrame({name: getattr(self, name) for name in self.SERIES})
        frame.index = pd.RangeIndex(1, len(self) + 1, name="epoch")
        return frame

    def to_dict(self) -> dict:
        """Plain Python data (JSON-friendly apart from NaN)."""
        return {
            "monitor": self.monitor,
            **{name: list(getattr(self, name)) for name in self.SERIES},
        }

    @classmethod
    def from_dict(cls, data: dict) -> "History":
        """Inverse of :meth:`to_dict`; ``None`` entries (NaN in JSON) become NaN."""
        series = {
            name: [NAN if v is None else float(v) for v in data.get(name, [])]
            for name in cls.SERIES
        }
        return cls(monitor=data.get("monitor", "auc"), **series)
