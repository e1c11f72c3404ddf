"""fundus_utils.engine.loop: fit end to end, its keywords, and runs without a usable
validation set."""

from __future__ import annotations

import math

import fundus_utils as fu
from fundus_utils.engine import loop as train

import numpy as np
import paddle  # noqa: E402  (after fundus_utils: NumPy's random module must be imported first)
import pytest
from fit_helpers import SeparableSet, loaders, quiet_fit, seeded_model


def test_tiny_cnn_learns_separable_task(capsys):
    model = seeded_model()
    train_loader, valid_loader = loaders()
    history = train.fit(model, train_loader, valid_loader, epochs=4, lr=1e-2)
    assert history.epochs == 4
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.valid_acc[-1] > 0.9
    out = capsys.readouterr()
    summary = [line for line in out.out.splitlines() if line.startswith("epoch ")]
    assert len(summary) == 4 and "valid loss" in summary[-1] and "img/s" in summary[-1]
    assert "epoch 4/4  train loss" not in out.err  # the bar goes to stderr, the summary to stdout
    assert not model.training  # fit leaves the model ready for prediction


def test_invalid_monitor_is_refused():
    with pytest.raises(ValueError, match="monitor"):
        quiet_fit(seeded_model(), *loaders(), epochs=1, monitor="f1")


def test_old_flat_keywords_are_refused_with_a_type_error():
    # fit's options are grouped now: checkpoint_dir=... no longer exists, and resuming without a
    # folder cannot even be written (Checkpointing needs its folder).
    with pytest.raises(TypeError, match="checkpoint_dir"):
        quiet_fit(seeded_model(), *loaders(), epochs=1, checkpoint_dir="x", resume=True)
    with pytest.raises(TypeError, match="folder"):
        fu.Checkpointing(resume=True)


def test_single_class_validation_set_does_not_crash(tmp_path):
    train_loader, _ = loaders()
    only_negatives = SeparableSet(20, seed=5)
    only_negatives.labels[:] = 0
    history = quiet_fit(
        seeded_model(),
        train_loader,
        paddle.io.DataLoader(only_negatives, batch_size=8),
        epochs=2,
        checkpoints=fu.Checkpointing(tmp_path),
    )
    assert all(math.isnan(v) for v in history.valid_auc)
    assert history.best_epoch == int(np.argmin(history.valid_loss)) + 1  # falls back to the loss
    assert (tmp_path / "best.pdckpt").is_file()


def test_without_validation_loader():
    history = quiet_fit(seeded_model(), loaders()[0], None, epochs=2)
    assert history.epochs == 2 and all(math.isnan(v) for v in history.valid_loss)
    assert history.best_epoch == 2


def test_recalibrate_bn_runs_before_every_validation(monkeypatch):
    calls = []
    real = train.recalibrate_batchnorm

    def spy(model, loader, batches):
        calls.append((batches, model.training))
        return real(model, loader, batches)

    monkeypatch.setattr(train, "recalibrate_batchnorm", spy)
    model = paddle.nn.Sequential(
        paddle.nn.Conv2D(3, 4, 3), paddle.nn.BatchNorm2D(4), paddle.nn.ReLU(),
        paddle.nn.AdaptiveAvgPool2D(1), paddle.nn.Flatten(), paddle.nn.Linear(4, 1),
    )  # fmt: skip
    history = quiet_fit(model, *loaders(), epochs=2, recalibrate_bn=3)
    assert calls == [(3, True), (3, True)]  # after each epoch's training, before validation
    assert history.epochs == 2 and not model.training
    assert model[1]._momentum == pytest.approx(0.9)
    calls.clear()
    quiet_fit(model, *loaders(), epochs=1)
    assert calls == []  # off by default


class Marked(paddle.io.Dataset):
    """Images of 1.0; its transform (the 'augmentation') turns them into 5.0."""

    def __init__(self):
        self.transform = lambda image: image * 5.0

    def __len__(self):
        return 8

    def __getitem__(self, index):
        image = np.ones((3, 8, 8), dtype="float32")
        label = np.int64(index % 2)
        return (image if self.transform is None else self.transform(image)), label


def test_recalibration_sees_the_training_images_without_augmentation(monkeypatch):
    seen = []
    real = train.recalibrate_batchnorm

    def spy(model, loader, batches):
        seen.extend(float(images.mean()) for images, _ in loader)
        return real(model, loader, batches)

    monkeypatch.setattr(train, "recalibrate_batchnorm", spy)
    dataset = Marked()
    loader = paddle.io.DataLoader(dataset, batch_size=4, shuffle=True)
    model = paddle.nn.Sequential(
        paddle.nn.BatchNorm2D(3), paddle.nn.AdaptiveAvgPool2D(1), paddle.nn.Flatten(),
        paddle.nn.Linear(3, 1),
    )  # fmt: skip
    quiet_fit(model, loader, loader, epochs=1, recalibrate_bn=2)
    assert seen == [1.0, 1.0]  # the plain images, not the augmented 5.0
    assert dataset.transform is not None  # training keeps its augmentation
    assert float(next(iter(loader))[0].mean()) == 5.0
