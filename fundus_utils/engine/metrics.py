"""Classification metrics in NumPy (AUC and ROC points from scikit-learn).

Binary: ``probs`` are probabilities of the positive class (PM = 1), ``labels`` 0/1.
Multi-class: ``probs`` is an ``N x K`` array, ``labels`` integers in ``0..K-1``.

Undefined values are never a crash: they come back as ``float('nan')`` and the
``note`` entry of the result says why (e.g. AUC on a validation set that holds
a single class).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix, roc_auc_score, roc_curve

__all__ = ["binary_metrics", "multiclass_metrics", "roc_points"]

NAN = float("nan")


def _as_binary_inputs(probs, labels) -> tuple[np.ndarray, np.ndarray]:
    probs = np.asarray(probs, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels).reshape(-1)
    if probs.shape != labels.shape:
        raise ValueError(
            f"probs and labels must have the same length, got {probs.size} and {labels.size}"
        )
    if probs.size == 0:
        raise ValueError("cannot compute metrics on an empty set (0 samples)")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError(f"binary labels must be 0 or 1, found values {np.unique(labels).tolist()}")
    return probs, labels.astype(np.int64)


def _ratio(numerator: int, denominator: int) -> float:
    return float(numerator) / denominator if denominator else NAN


def _join_notes(notes: list[str]) -> str:
    return "; ".join(notes)


def binary_metrics(probs, labels, threshold: float = 0.5) -> dict:
    """Accuracy, AUC, sensitivity, specificity, precision, F1 and the confusion matrix.

    Taught in 01_lenet, §6.5.

    A sample is predicted positive when ``prob >= threshold``. ``confusion`` is
    ``[[tn, fp], [fn, tp]]`` (rows: true class, columns: predicted class).
    AUC needs both classes in ``labels``; sensitivity needs positives, specificity
    negatives, precision at least one predicted positive; otherwise the value is
    NaN and ``note`` explains it (``note`` is ``""`` when everything is defined).
    """
    probs, labels = _as_binary_inputs(probs, labels)
    predicted = (probs >= threshold).astype(np.int64)
    (tn, fp), (fn, tp) = confusion_matrix(labels, predicted, labels=[0, 1]).tolist()
    n_pos, n_neg = tp + fn, tn + fp
    notes = []
    if n_pos and n_neg:
        auc = float(roc_auc_score(labels, probs))
    else:
        auc = NAN
        present = "positive (PM)" if n_pos else "negative (non-PM)"
        notes.append(
            f"AUC undefined: all {labels.size} samples are {present}; AUC needs both classes"
        )
    if not n_pos:
        notes.append("sensitivity undefined: no positive samples")
    if not n_neg:
        notes.append("specificity undefined: no negative samples")
    if not tp + fp:
        notes.append(f"precision undefined: no sample reaches the threshold {threshold}")
    return {
        "accuracy": _ratio(tp + tn, labels.size),
        "auc": auc,
        "sensitivity": _ratio(tp, n_pos),
        "specificity": _ratio(tn, n_neg),
        "precision": _ratio(tp, tp + fp),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "confusion": [[tn, fp], [fn, tp]],
        "n": int(labels.size),
        "n_pos": int(n_pos),
        "threshold": float(threshold),
        "note": _join_notes(notes),
    }


def _as_multiclass_inputs(probs, labels) -> tuple[np.ndarray, np.ndarray]:
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    if probs.ndim != 2 or probs.shape[0] != labels.size:
        raise ValueError(
            f"probs must be N x K with N = len(labels) = {labels.size}, got shape {probs.shape}"
        )
    if labels.size == 0:
        raise ValueError("cannot compute metrics on an empty set (0 samples)")
    num_classes = probs.shape[1]
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"labels must lie in 0..{num_classes - 1}, found {np.unique(labels).tolist()}"
        )
    return probs, labels


def multiclass_metrics(probs, labels) -> dict:
    """Accuracy, per-class recall, K x K confusion matrix and macro one-vs-rest AUC.

    Taught in 06_convmixer, §6.3.

    Prediction is ``argmax(probs)``. ``confusion[i][j]`` counts samples of true
    class ``i`` predicted as ``j``. ``per_class_auc[k]`` is the AUC of column ``k``
    separating class ``k`` from all other classes.

    Rule for undefined values: a class absent from ``labels`` has NaN recall, and
    a class whose one-vs-rest split holds a single class (absent, or every sample
    belongs to it) has NaN AUC; the macro ``auc`` (unweighted mean over all K
    classes) is then NaN as well, and ``note`` names the classes concerned.
    """
    probs, labels = _as_multiclass_inputs(probs, labels)
    num_classes = probs.shape[1]
    predicted = probs.argmax(axis=1)
    confusion = confusion_matrix(labels, predicted, labels=list(range(num_classes)))
    counts = confusion.sum(axis=1)
    recall = [_ratio(int(confusion[k, k]), int(counts[k])) for k in range(num_classes)]
    per_class_auc, undefined = [], []
    for k in range(num_classes):
        is_k = (labels == k).astype(np.int64)
        if 0 < is_k.sum() < labels.size:
            per_class_auc.append(float(roc_auc_score(is_k, probs[:, k])))
        else:
            per_class_auc.append(NAN)
            undefined.append(k)
    notes = []
    absent = [k for k in range(num_classes) if counts[k] == 0]
    if absent:
        notes.append(f"recall undefined for classes {absent}: no samples of them")
    if undefined:
        notes.append(
            f"macro AUC undefined: one-vs-rest AUC of classes {undefined} needs samples "
            "of the class and of the rest"
        )
    return {
        "accuracy": _ratio(int(np.trace(confusion)), labels.size),
        "auc": float(np.mean(per_class_auc)) if not undefined else NAN,
        "per_class_auc": per_class_auc,
        "per_class_recall": recall,
        "confusion": confusion.tolist(),
        "n": int(labels.size),
        "class_counts": counts.tolist(),
        "note": _join_notes(notes),
    }


def roc_points(probs, labels) -> dict:
    """ROC curve for plotting: ``fpr``, ``tpr``, ``thresholds`` (arrays), ``auc`` and ``note``.

    Not used in the notebooks; used by fu.plot_roc.

    With a single class in ``labels`` the curve is undefined: the arrays are empty,
    ``auc`` is NaN and ``note`` says why.
    """
    probs, labels = _as_binary_inputs(probs, labels)
    if labels.min() == labels.max():
        empty = np.empty(0, dtype=np.float64)
        return {
            "fpr": empty,
            "tpr": empty.copy(),
            "thresholds": empty.copy(),
            "auc": NAN,
            "note": f"ROC undefined: all {labels.size} samples have label {int(labels[0])}",
        }
    fpr, tpr, thresholds = roc_curve(labels, probs)
    return {
        "fpr": fpr,
        "tpr": tpr,
        "thresholds": thresholds,
        "auc": float(roc_auc_score(labels, probs)),
        "note": "",
    }
