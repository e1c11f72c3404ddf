"""Head and loss follow from the model's output width.

* 1 logit  -> ``BCEWithLogits``; probability ``sigmoid(logit)``; predicted PM when it is >= 0.5.
  (Never ``paddle.metric.accuracy`` on a 1-column output: it always picks index 0.)
* K logits -> cross-entropy; probabilities ``softmax``; prediction ``argmax``.

Models that return ``(main, aux1, aux2)`` in train mode (GoogLeNet) are trained on
``w0 * loss(main) + w1 * loss(aux1) + w2 * loss(aux2)`` with ``aux_weights``; evaluation
uses ``main`` only. Taught in 01_lenet (the single-logit pitfalls) and 04_googlenet (auxiliary
heads).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import paddle
import paddle.nn.functional as F
from scipy.special import expit, softmax

from .metrics import binary_metrics, multiclass_metrics

__all__: list[str] = []  # internal: nothing here is part of the flat API (fu.<name>)


def split_outputs(outputs) -> tuple[paddle.Tensor, list]:
    """``(main, [aux, ...])`` from a model output; a 1-D main output becomes ``[B, 1]``."""
    if isinstance(outputs, (tuple, list)):
        main, aux = outputs[0], list(outputs[1:])
    else:
        main, aux = outputs, []
    if main.ndim == 1:
        main = main.reshape([-1, 1])
    return main, aux


@dataclasses.dataclass(frozen=True)
class Head:
    """Loss, accuracy and probabilities for a model with ``width`` output logits."""

    width: int

    @property
    def binary(self) -> bool:
        return self.width == 1

    def loss(self, logits: paddle.Tensor, labels: paddle.Tensor) -> paddle.Tensor:
        logits = logits.astype("float32")
        if self.binary:
            return F.binary_cross_entropy_with_logits(
                logits, labels.astype("float32").reshape([-1, 1])
            )
        return F.cross_entropy(logits, labels.astype("int64").reshape([-1]))

    def correct(self, logits: paddle.Tensor, labels: paddle.Tensor) -> paddle.Tensor:
        """Number of correct predictions in the batch (a tensor, to avoid a device sync)."""
        if self.binary:
            predicted = (logits.reshape([-1]) >= 0).astype("int64")  # sigmoid(logit) >= 0.5
        else:
            predicted = logits.argmax(axis=-1).astype("int64")
        return (predicted == labels.astype("int64").reshape([-1])).astype("int64").sum()

    def check_labels(self, labels: paddle.Tensor) -> None:
        top = int(labels.max())
        low = int(labels.min())
        limit = 1 if self.binary else self.width - 1
        if low < 0 or top > limit:
            raise ValueError(
                f"the model has {self.width} output(s), so labels must lie in 0..{limit}, "
                f"but a batch holds labels {low}..{top}; give the model one output per class "
                "(or 1 output for a binary task)"
            )

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """Sigmoid of the single logit (shape [N]) or softmax over K logits (shape [N, K])."""
        return expit(logits[:, 0]) if self.binary else softmax(logits, axis=1)

    def metrics(self, probs: np.ndarray, labels: np.ndarray) -> dict:
        if self.binary:
            return binary_metrics(probs, labels)
        if self.width == 2:
            return binary_metrics(probs[:, 1], labels)
        return multiclass_metrics(probs, labels)


def training_loss(head: Head, outputs, labels, aux_weights: Sequence[float]) -> paddle.Tensor:
    """Loss of the main output, or the ``aux_weights``-weighted sum over (main, aux1, aux2)."""
    main, aux = split_outputs(outputs)
    if not aux:
        return head.loss(main, labels)
    heads = [main] + aux
    if len(aux_weights) != len(heads):
        raise ValueError(
            f"the model returned {len(heads)} outputs but aux_weights has "
            f"{len(aux_weights)} entries {tuple(aux_weights)}"
        )
    terms = [
        float(w) * head.loss(split_outputs(o)[0], labels)
        for w, o in zip(aux_weights, heads)
        if o is not None
    ]
    return paddle.add_n(terms)
