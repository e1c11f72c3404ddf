"""fundus_utils.engine.heads: labels of any shape and dtype, label range, auxiliary-head losses."""

from __future__ import annotations

import fundus_utils as fu
from fundus_utils.engine import runtime

import numpy as np
import paddle  # noqa: E402  (after fundus_utils: NumPy's random module must be imported first)
import pytest
from fit_helpers import SeparableSet, TupleCNN, loaders, quiet_fit, seeded_model


@pytest.mark.parametrize("label_shape", [(), (1,)])
@pytest.mark.parametrize("label_dtype", ["int64", "float32"])
def test_label_shapes_and_dtypes_train_identically(label_shape, label_dtype):
    reference = quiet_fit(seeded_model(), *loaders(), epochs=2, lr=1e-2)
    history = quiet_fit(
        seeded_model(),
        *loaders(label_shape=label_shape, label_dtype=label_dtype),
        epochs=2,
        lr=1e-2,
    )
    assert history.train_loss == reference.train_loss
    assert history.valid_auc == reference.valid_auc


def test_labels_outside_the_head_are_refused():
    train_loader, valid_loader = loaders(num_classes=3)
    with pytest.raises(ValueError, match="1 output"):
        quiet_fit(seeded_model(outputs=1), train_loader, valid_loader, epochs=1)


def _bce(logits: np.ndarray, labels: np.ndarray) -> float:
    x, y = logits.reshape(-1).astype(np.float64), labels.reshape(-1).astype(np.float64)
    return float(np.mean(np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))))


@pytest.mark.parametrize("eval_tuple", [False, True])
def test_tuple_output_loss_is_weighted_sum(eval_tuple):
    runtime.set_seed(0)
    model = TupleCNN(eval_tuple=eval_tuple)
    data = SeparableSet(24, seed=3)
    whole = paddle.io.DataLoader(
        data, batch_size=24
    )  # one batch: the epoch loss is that batch's loss
    model.train()
    with paddle.no_grad():
        main, aux1, aux2 = (t.numpy() for t in model(paddle.to_tensor(data.images)))
    weights = (1.0, 0.5, 0.25)
    expected = sum(w * _bce(out, data.labels) for w, out in zip(weights, (main, aux1, aux2)))
    frozen = paddle.optimizer.SGD(learning_rate=0.0, parameters=model.parameters())
    history = quiet_fit(
        model,
        whole,
        whole,
        epochs=1,
        aux_weights=weights,
        optimization=fu.Optimization(optimizer=frozen),
    )
    assert history.train_loss[0] == pytest.approx(expected, rel=1e-5)
    assert history.valid_loss[0] == pytest.approx(
        _bce(main, data.labels), rel=1e-5
    )  # main head only


def test_aux_weights_must_match_outputs():
    runtime.set_seed(0)
    with pytest.raises(ValueError, match="3 outputs"):
        quiet_fit(TupleCNN(), *loaders(), epochs=1, aux_weights=(1.0, 0.3))
