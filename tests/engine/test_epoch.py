"""fundus_utils.engine.epoch: divergence, the optimizer's clip and scheduler wiring, AMP on CPU."""

from __future__ import annotations

import math

import fundus_utils as fu
from fundus_utils.engine import loop as train
from fundus_utils.engine import runtime

import numpy as np
import paddle  # noqa: E402  (after fundus_utils: NumPy's random module must be imported first)
import pytest
from fit_helpers import loaders, quiet_fit, seeded_model, weights_of


def test_nan_loss_raises_training_diverged():
    train_loader, valid_loader = loaders()
    train_loader.dataset.images[:] = np.nan
    runtime.set_seed(0)
    linear = paddle.nn.Sequential(
        paddle.nn.Flatten(), paddle.nn.Linear(3 * 16 * 16, 1)
    )  # no ReLU to mask NaN
    with pytest.raises(
        fu.TrainingDiverged, match=r"epoch 1, step 1.*Lower the learning rate"
    ) as error:
        quiet_fit(linear, train_loader, valid_loader, epochs=2, lr=1e-3)
    assert (error.value.epoch, error.value.step) == (1, 1) and math.isnan(error.value.loss_value)


def test_grad_clip_limits_the_update():
    def change(grad_clip):
        model = seeded_model(dropout=0.0)
        before = weights_of(model)["fc.weight"]
        quiet_fit(
            model,
            *loaders(n_train=16),
            epochs=1,
            lr=1e-2,
            optimization=fu.Optimization(grad_clip=grad_clip),
        )
        return np.abs(weights_of(model)["fc.weight"] - before).max()

    assert change(1e-12) < 1e-2 * change(None)


def test_scheduler_and_clip_wiring_with_own_optimizer_is_checked():
    model = seeded_model()
    scheduler = paddle.optimizer.lr.StepDecay(learning_rate=0.1, step_size=1)
    plain = paddle.optimizer.SGD(learning_rate=0.1, parameters=model.parameters())
    with pytest.raises(ValueError, match="learning_rate=scheduler"):
        quiet_fit(
            model,
            *loaders(),
            epochs=1,
            optimization=fu.Optimization(optimizer=plain, scheduler=scheduler),
        )
    with pytest.raises(ValueError, match="grad_clip"):
        quiet_fit(
            model,
            *loaders(),
            epochs=1,
            optimization=fu.Optimization(optimizer=plain, grad_clip=1.0),
        )


def test_scheduler_is_stepped_once_per_epoch():
    history = quiet_fit(
        seeded_model(),
        *loaders(),
        epochs=3,
        optimization=fu.Optimization(
            scheduler=paddle.optimizer.lr.StepDecay(learning_rate=0.1, step_size=1, gamma=0.5)
        ),
    )
    assert history.lr == pytest.approx([0.1, 0.05, 0.025])


def test_amp_request_on_cpu_is_noted_and_ignored(capsys):
    if runtime.gpu_available():
        pytest.fail("this test expects a CPU-only machine")
    history = train.fit(
        seeded_model(), *loaders(), epochs=1, optimization=fu.Optimization(amp=True)
    )
    assert "amp=True ignored" in capsys.readouterr().out
    assert math.isfinite(history.train_loss[0])
