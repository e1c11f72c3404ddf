"""fu.recalibrate_batchnorm: running statistics become the plain average over the batches."""

import fundus_utils as fu

import numpy as np
import paddle
import pytest


class _Batches(paddle.io.Dataset):
    def __init__(self, images):
        self.images = images

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i], np.int64(0)


def _net():
    paddle.seed(0)
    return paddle.nn.Sequential(paddle.nn.Conv2D(3, 4, 1), paddle.nn.BatchNorm2D(4))


def test_running_mean_is_the_average_of_the_batch_means():
    rng = np.random.default_rng(0)
    images = (rng.normal(size=(12, 3, 5, 5)) * 3 + 7).astype("float32")
    net = _net()
    loader = paddle.io.DataLoader(_Batches(images), batch_size=4, shuffle=False)
    used = fu.recalibrate_batchnorm(net, loader, batches=3)
    assert used == 3
    assert not net.training
    bn = net[1]
    with paddle.no_grad():
        conv = net[0](paddle.to_tensor(images)).numpy()
    batch_means = conv.reshape(3, 4, 4, 5, 5).mean(axis=(1, 3, 4))  # [batch, channel]
    np.testing.assert_allclose(bn._mean.numpy(), batch_means.mean(axis=0), rtol=1e-4, atol=1e-4)
    assert bn._momentum == pytest.approx(0.9)  # restored


def test_stale_statistics_are_replaced_not_blended():
    rng = np.random.default_rng(1)
    images = (rng.normal(size=(8, 3, 4, 4)) + 50).astype("float32")
    net = _net()
    bn = net[1]
    bn._mean.set_value(paddle.full_like(bn._mean, -1000.0))
    loader = paddle.io.DataLoader(_Batches(images), batch_size=8, shuffle=False)
    fu.recalibrate_batchnorm(net, loader, batches=1)
    with paddle.no_grad():
        expected = net[0](paddle.to_tensor(images)).numpy().mean(axis=(0, 2, 3))
    np.testing.assert_allclose(bn._mean.numpy(), expected, rtol=1e-4, atol=1e-4)


def test_a_model_without_batchnorm_is_left_alone():
    net = paddle.nn.Linear(2, 1)
    assert fu.batchnorm_layers(net) == []
    assert fu.recalibrate_batchnorm(net, [], batches=4) == 0
    assert not net.training
