"""Evaluation: logits over a loader, then the metrics of :mod:`fundus_utils.engine.metrics`."""

from __future__ import annotations

import numpy as np
import paddle

from .distributed import eval_shard, gather_rows
from .heads import Head, split_outputs

__all__ = ["evaluate", "evaluation_report"]


def unwrap(model: paddle.nn.Layer) -> paddle.nn.Layer:
    """The plain Layer inside a ``paddle.DataParallel`` wrapper."""
    return model._layers if isinstance(model, paddle.DataParallel) else model


def _predict_logits(model: paddle.nn.Layer, loader, amp: bool) -> tuple[np.ndarray, np.ndarray]:
    """Main-head logits ``[N, K]`` (float32) and labels ``[N]`` (int64) over ``loader``."""
    logits, labels = [], []
    with paddle.no_grad():
        for batch in loader:
            images, batch_labels = batch[0], batch[1]
            with paddle.amp.auto_cast(enable=amp, level="O1"):
                main, _ = split_outputs(model(images))
            logits.append(main.astype("float32").numpy())
            labels.append(np.asarray(batch_labels.numpy()).reshape(-1).astype(np.int64))
    if not logits:
        return np.zeros((0, 0), np.float32), np.zeros(0, np.int64)
    return np.concatenate(logits), np.concatenate(labels)


def evaluate(model: paddle.nn.Layer, loader: paddle.io.DataLoader, *, amp: bool = False) -> dict:
    """Evaluate ``model`` on ``loader`` in eval mode, without gradients.

    Taught in 01_lenet, §5.

    Returns the metrics of :func:`fundus_utils.engine.metrics.binary_metrics` (1 or 2 outputs) or
    :func:`~fundus_utils.engine.metrics.multiclass_metrics` (K > 2 outputs), plus ``"loss"`` (mean
    loss of the main head), ``"probs"`` (``[N]`` positive-class probabilities for 1 output,
    ``[N, K]`` softmax otherwise) and ``"labels"`` (``[N]`` int64).
    In a multi-process run every rank evaluates its shard and the logits are gathered, so
    every rank returns the metrics of the whole set.
    """
    was_training = model.training
    model.eval()
    try:
        shard, total = eval_shard(loader)
        logits, labels = _predict_logits(model, shard, amp)
    finally:
        if was_training:
            model.train()
    if total is not None:  # every rank holds >= 1 sample here (total >= world size)
        logits, labels = gather_rows(logits, total), gather_rows(labels, total)
    if not len(labels):
        raise ValueError("evaluate: the loader yielded no samples")
    head = Head(logits.shape[1])
    loss = float(head.loss(paddle.to_tensor(logits), paddle.to_tensor(labels)))
    probs = head.probabilities(logits)
    return {**head.metrics(probs, labels), "loss": loss, "probs": probs, "labels": labels}


def evaluation_report(result: dict, title: str | None = None) -> str:
    """The lines every lesson prints after :func:`evaluate`: the metrics, how many images were
    called PM against how many are, and the spread of the probabilities (a constant prediction
    shows as a tiny range). Multi-class results list the recall of every class instead.

    Taught in 02_alexnet, §5 (which writes it out first and checks this against it); 03–06 call it.
    """
    probs, labels = np.asarray(result["probs"]), np.asarray(result["labels"])
    lines = [title] if title else []
    if probs.ndim == 1:
        called = float(np.mean(probs >= result.get("threshold", 0.5)))
        lines += [
            f"  accuracy {result['accuracy']:.4f}   AUC {result['auc']:.4f}   "
            f"sensitivity {result['sensitivity']:.4f}   specificity {result['specificity']:.4f}",
            f"  predicted PM for {called:.0%} of {len(labels)} images "
            f"(PM labels: {np.mean(labels == 1):.0%}); "
            f"PM probabilities from {probs.min():.3f} to {probs.max():.3f}",
        ]
    else:
        predicted = probs.argmax(axis=1)
        counts = np.bincount(labels, minlength=probs.shape[1])
        recalls = np.asarray(result["per_class_recall"], dtype=float)
        lines += [
            f"  accuracy {result['accuracy']:.4f}   macro AUC {result['auc']:.4f}   "
            f"macro recall {np.nanmean(recalls):.4f}   "
            f"majority-class rate {counts.max() / counts.sum():.4f}",
            "  recall per class: " + ", ".join(f"{k} {r:.2f}" for k, r in enumerate(recalls)),
            "  predicted per class: "
            + ", ".join(str(n) for n in np.bincount(predicted, minlength=probs.shape[1])),
        ]
    if result.get("note"):
        lines.append(f"  note: {result['note']}")
    return "\n".join(lines)
