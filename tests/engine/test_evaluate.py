"""fundus_utils.engine.evaluate: probabilities, accuracy and metrics for each kind of head."""

from __future__ import annotations

import math

import fundus_utils as fu
from fundus_utils.engine.metrics import binary_metrics

import numpy as np
import pytest
from fit_helpers import loaders, quiet_fit, seeded_model


def test_multiclass_head_uses_softmax_and_argmax():
    model = seeded_model(outputs=3)
    train_loader, valid_loader = loaders(num_classes=3, n_train=150, n_valid=60)
    history = quiet_fit(model, train_loader, valid_loader, epochs=5, lr=2e-2)
    assert history.valid_acc[-1] > 0.9
    result = fu.evaluate(model, valid_loader)
    assert result["probs"].shape == (60, 3)
    np.testing.assert_allclose(result["probs"].sum(axis=1), 1.0, rtol=1e-5)
    assert result["accuracy"] == pytest.approx(
        np.mean(result["probs"].argmax(1) == result["labels"])
    )
    assert len(result["per_class_recall"]) == 3 and np.shape(result["confusion"]) == (3, 3)
    assert math.isfinite(history.valid_auc[-1])


def test_two_logit_head_reports_binary_metrics():
    model = seeded_model(outputs=2)
    history = quiet_fit(model, *loaders(), epochs=3, lr=1e-2)
    result = fu.evaluate(model, loaders()[1])
    assert result["probs"].shape == (37, 2)
    assert result["auc"] == pytest.approx(history.valid_auc[-1])
    expected = binary_metrics(result["probs"][:, 1], result["labels"])
    assert result["sensitivity"] == expected["sensitivity"]


def test_binary_accuracy_thresholds_sigmoid_not_index_zero():
    model = seeded_model()
    quiet_fit(model, *loaders(), epochs=3, lr=1e-2)
    result = fu.evaluate(model, loaders()[1])
    assert result["probs"].ndim == 1
    assert result["accuracy"] == pytest.approx(
        np.mean((result["probs"] >= 0.5) == result["labels"])
    )
    assert result["accuracy"] != pytest.approx(np.mean(result["labels"] == 0))


def test_evaluation_report_names_the_share_called_pm_and_the_probability_range():
    from fundus_utils.engine.metrics import binary_metrics

    probs = np.array([0.9, 0.8, 0.2, 0.6])
    labels = np.array([1, 1, 0, 0])
    result = {**binary_metrics(probs, labels), "probs": probs, "labels": labels}
    report = fu.evaluation_report(result, title="Validation:")
    assert report.splitlines() == [
        "Validation:",
        "  accuracy 0.7500   AUC 1.0000   sensitivity 1.0000   specificity 0.5000",
        "  predicted PM for 75% of 4 images (PM labels: 50%); PM probabilities from 0.200 to 0.900",
    ]


def test_evaluation_report_of_five_classes_gives_recalls_and_the_majority_rate():
    from fundus_utils.engine.metrics import multiclass_metrics

    probs = np.eye(5)[[0, 1, 2, 3, 4, 0]] * 0.9 + 0.02
    labels = np.array([0, 1, 2, 3, 4, 4])
    result = {**multiclass_metrics(probs, labels), "probs": probs, "labels": labels}
    lines = fu.evaluation_report(result).splitlines()
    assert lines[0].startswith("  accuracy 0.8333") and "majority-class rate 0.3333" in lines[0]
    assert lines[1] == "  recall per class: 0 1.00, 1 1.00, 2 1.00, 3 1.00, 4 0.50"
    assert lines[2] == "  predicted per class: 2, 1, 1, 1, 1"
