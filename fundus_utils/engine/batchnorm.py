"""Re-estimating BatchNorm's running statistics after a short training run.

Paddle (like PyTorch) has no ``update_bn`` outside SWA, so the course writes the few lines here.
Why it is needed is taught in 05_resnet, §6: after a few dozen optimizer steps the running mean
and variance (an exponential average with Paddle's ``momentum`` 0.9) still describe the early,
since-changed weights, and eval mode can then call every image one class.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import paddle

__all__ = ["batchnorm_layers", "recalibrate_batchnorm"]

DEFAULT_BATCHES = 16


def batchnorm_layers(model: paddle.nn.Layer) -> list[paddle.nn.Layer]:
    """Every BatchNorm layer of ``model`` (1D, 2D and 3D).

    Taught in 05_resnet, §6.
    """
    return [
        layer
        for layer in model.sublayers(include_self=True)
        if isinstance(layer, paddle.nn.layer.norm._BatchNormBase)
    ]


def recalibrate_batchnorm(
    model: paddle.nn.Layer, loader: paddle.io.DataLoader, batches: int = DEFAULT_BATCHES
) -> int:
    """Replace the running statistics of every BatchNorm layer by their plain average over
    ``batches`` batches of ``loader`` (train mode, no gradients, weights unchanged); return
    the number of batches used. The model is left in eval mode.

    Taught in 05_resnet, §6; 03_vgg, §6, applies it to a trained copy.

    Paddle updates ``running = momentum * running + (1 - momentum) * batch``; a momentum of
    ``k / (k + 1)`` on the k-th batch (k = 0, 1, …) makes that a cumulative average. Use a loader
    without augmentation, whose images look like the ones evaluated.
    """
    layers = batchnorm_layers(model)
    if not layers:
        model.eval()
        return 0
    saved = [layer._momentum for layer in layers]
    used = 0
    try:
        model.train()
        with paddle.no_grad():
            for k, batch in enumerate(loader):
                if k >= batches:
                    break
                for layer in layers:
                    layer._momentum = k / (
                        k + 1.0
                    )  # k = 0: the first batch replaces the old values
                model(batch[0])
                used += 1
    finally:
        for layer, momentum in zip(layers, saved):
            layer._momentum = momentum
        model.eval()
    return used


@contextmanager
def without_augmentation(loader: paddle.io.DataLoader) -> Iterator[paddle.io.DataLoader]:
    """``loader`` with its dataset's ``transform`` (the course's augmentation) switched off.

    Not used in the notebooks; fu.fit(recalibrate_bn=N) recalibrates on the training images as
    they are, not on augmented versions whose colour and geometry the validation images never
    have. Loaders with worker processes keep their copy of the dataset, so they are left as
    they are.
    """
    dataset = getattr(loader, "dataset", None)
    if getattr(loader, "num_workers", 0) or not hasattr(dataset, "transform"):
        yield loader
        return
    saved, dataset.transform = dataset.transform, None
    try:
        yield loader
    finally:
        dataset.transform = saved
