"""fundus_utils.engine.metrics against cases small enough to count by hand."""

from __future__ import annotations

import math

from fundus_utils.engine.metrics import binary_metrics, multiclass_metrics, roc_points

import numpy as np
import pytest

# 3 positives, 3 negatives. Threshold 0.5 predicts [1, 1, 0, 1, 0, 0]:
# tp = 2 (0.9, 0.8), fn = 1 (0.3), fp = 1 (0.6), tn = 2 (0.2, 0.1).
# AUC = share of (pos, neg) pairs ranked correctly: 0.9 and 0.8 beat all 3 negatives,
# 0.3 beats 0.2 and 0.1 -> 8 of 9 pairs.
PROBS = [0.9, 0.8, 0.3, 0.6, 0.2, 0.1]
LABELS = [1, 1, 1, 0, 0, 0]


def test_binary_metrics_hand_computed():
    m = binary_metrics(PROBS, LABELS)
    assert m["confusion"] == [[2, 1], [1, 2]]
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["auc"] == pytest.approx(8 / 9)
    assert m["sensitivity"] == pytest.approx(2 / 3)
    assert m["specificity"] == pytest.approx(2 / 3)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)
    assert (m["n"], m["n_pos"]) == (6, 3)
    assert m["note"] == ""


def test_binary_threshold_moves_predictions_not_auc():
    m = binary_metrics(PROBS, LABELS, threshold=0.25)  # now 0.3 counts as positive too
    assert m["confusion"] == [[2, 1], [0, 3]]
    assert m["sensitivity"] == 1.0
    assert m["precision"] == pytest.approx(3 / 4)
    assert m["f1"] == pytest.approx(2 * 3 / (2 * 3 + 1))
    assert m["auc"] == pytest.approx(8 / 9)


def test_auc_counts_ties_as_half():
    # Pairs: (0.5 vs 0.5) tie -> 1/2, (0.5 vs 0.2) -> 1, (0.9 vs both) -> 2: 3.5 of 4.
    m = binary_metrics([0.9, 0.5, 0.5, 0.2], [1, 1, 0, 0])
    assert m["auc"] == pytest.approx(3.5 / 4)


@pytest.mark.parametrize(
    "label, probs, undefined",
    [(1, [0.9, 0.2, 0.7], "specificity"), (0, [0.1, 0.8, 0.3], "sensitivity")],
)
def test_single_class_set_gives_nan_and_note(label, probs, undefined):
    m = binary_metrics(probs, [label] * 3)  # 2 of 3 on the right side of 0.5
    assert math.isnan(m["auc"])
    assert math.isnan(m[undefined])
    assert "AUC undefined" in m["note"] and undefined in m["note"]
    defined = "sensitivity" if undefined == "specificity" else "specificity"
    assert m[defined] == pytest.approx(2 / 3)
    assert m["accuracy"] == pytest.approx(2 / 3)
    assert m["n_pos"] == (3 if label == 1 else 0)


def test_no_predicted_positive_makes_precision_nan():
    m = binary_metrics([0.1, 0.2, 0.3], [0, 0, 1])
    assert math.isnan(m["precision"])
    assert "precision undefined" in m["note"]
    assert m["f1"] == 0.0  # 2tp / (2tp + fp + fn) = 0 / 1
    assert m["auc"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    "probs, labels, message",
    [
        ([0.1, 0.2], [0, 1, 1], "same length"),
        ([0.1, 0.2], [0, 2], "0 or 1"),
        ([], [], "empty"),
    ],
)
def test_binary_metrics_rejects_bad_input(probs, labels, message):
    with pytest.raises(ValueError, match=message):
        binary_metrics(probs, labels)


# 3 classes, 5 samples. argmax -> [0, 1, 2, 2, 1]; true [0, 1, 1, 2, 2].
MC_PROBS = np.array(
    [[0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.1, 0.3, 0.6], [0.2, 0.2, 0.6], [0.1, 0.5, 0.4]]
)
MC_LABELS = [0, 1, 1, 2, 2]


def test_multiclass_metrics_hand_computed():
    m = multiclass_metrics(MC_PROBS, MC_LABELS)
    assert m["confusion"] == [[1, 0, 0], [0, 1, 1], [0, 1, 1]]
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["per_class_recall"] == pytest.approx([1.0, 0.5, 0.5])
    # One-vs-rest AUCs, counted over (class, rest) pairs:
    # class 0: 0.7 beats 0.2, 0.1, 0.2, 0.1 -> 4/4.
    # class 1: {0.5, 0.3} vs rest {0.2, 0.2, 0.5}: 0.5 -> 2 + 0.5, 0.3 -> 2 -> 4.5/6.
    # class 2: {0.6, 0.4} vs {0.1, 0.3, 0.6}: 0.6 -> 2 + 0.5, 0.4 -> 2 -> 4.5/6.
    assert m["per_class_auc"] == pytest.approx([1.0, 0.75, 0.75])
    assert m["auc"] == pytest.approx((1.0 + 0.75 + 0.75) / 3)
    assert m["class_counts"] == [1, 2, 2]
    assert m["note"] == ""


def test_multiclass_absent_class_makes_macro_auc_nan():
    probs = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1]])
    m = multiclass_metrics(probs, [0, 1, 0])
    assert math.isnan(m["auc"])
    assert math.isnan(m["per_class_recall"][2]) and math.isnan(m["per_class_auc"][2])
    assert m["per_class_auc"][0] == pytest.approx(1.0)
    assert "[2]" in m["note"] and "macro AUC undefined" in m["note"]
    assert m["confusion"][2] == [0, 0, 0]


def test_multiclass_rejects_labels_outside_classes():
    with pytest.raises(ValueError, match="0..2"):
        multiclass_metrics(MC_PROBS, [0, 1, 3, 2, 2])


def test_roc_points_match_auc_and_span_the_square():
    roc = roc_points(PROBS, LABELS)
    assert (roc["fpr"][0], roc["tpr"][0]) == (0.0, 0.0)
    assert (roc["fpr"][-1], roc["tpr"][-1]) == (1.0, 1.0)
    assert np.all(np.diff(roc["fpr"]) >= 0) and np.all(np.diff(roc["tpr"]) >= 0)
    area = float(np.sum(np.diff(roc["fpr"]) * (roc["tpr"][1:] + roc["tpr"][:-1]) / 2))
    assert area == pytest.approx(roc["auc"]) and roc["auc"] == pytest.approx(8 / 9)


def test_roc_points_single_class_is_empty_with_note():
    roc = roc_points([0.3, 0.6], [0, 0])
    assert roc["fpr"].size == 0 and math.isnan(roc["auc"])
    assert "undefined" in roc["note"]
