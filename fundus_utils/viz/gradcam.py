"""Grad-CAM (Selvaraju et al., 2017): which part of the image drove a prediction.

A forward post-hook on the chosen convolutional layer keeps its output ``A``
(channels x h x w); ``paddle.grad`` gives ``dS/dA`` for the class score ``S``.
Each channel is weighted by its spatially averaged gradient, the weighted sum is
passed through ReLU (only evidence *for* the class), resized to the input's size
and divided by its maximum. Works in dygraph on Paddle 2.6 and 3.x.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import paddle
from paddle import nn

from ..core.paths import runs_dir
from ..engine.results import run_dir
from ..inspection import eval_mode, main_output

__all__ = ["grad_cam", "reference_images", "save_gradcam_maps", "load_gradcam_maps"]

PM_CLASS = 1  # index of PM in the binary labels (config.CLASS_NAMES)


def _resolve_layer(model: nn.Layer, layer: nn.Layer | str) -> nn.Layer:
    if isinstance(layer, nn.Layer):
        return layer
    named = dict(model.named_sublayers())
    if layer not in named:
        convs = [name for name, sub in named.items() if isinstance(sub, nn.Conv2D)]
        raise ValueError(
            f"model has no sublayer named {layer!r}; its Conv2D layers are {convs[-5:]} (last five)"
        )
    return named[layer]


def _image_batch(image_chw: Any) -> paddle.Tensor:
    array = image_chw.numpy() if isinstance(image_chw, paddle.Tensor) else np.asarray(image_chw)
    if array.ndim != 3:
        raise ValueError(f"expected one image as a CHW array, got shape {array.shape}")
    batch = paddle.to_tensor(array[None].astype(np.float32))
    batch.stop_gradient = False  # keeps the graph even when every weight is frozen
    return batch


def _class_score(logits: paddle.Tensor, target: int | None) -> paddle.Tensor:
    """The scalar Grad-CAM explains: the PM logit of a 1-logit model, else a class logit.

    For a 1-logit model ``target=0`` (non-PM) explains the negated logit.
    """
    logits = logits.reshape([logits.shape[0], -1])
    if logits.shape[1] == 1:
        if target not in (None, 0, PM_CLASS):
            raise ValueError(f"a 1-logit binary model has targets 0 and 1, got {target}")
        return -logits[0, 0] if target == 0 else logits[0, 0]
    index = int(paddle.argmax(logits[0])) if target is None else int(target)
    if not 0 <= index < logits.shape[1]:
        raise ValueError(f"target {index} is outside the model's {logits.shape[1]} classes")
    return logits[0, index]


def _cam_from(activation: np.ndarray, gradient: np.ndarray, height: int, width: int) -> np.ndarray:
    weights = gradient.mean(axis=(1, 2))  # one weight per channel
    cam = np.maximum((weights[:, None, None] * activation).sum(axis=0), 0.0)
    cam = cv2.resize(cam.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    cam = np.maximum(cam, 0.0)
    peak = float(cam.max())
    return cam / peak if peak > 0 else np.zeros_like(cam)


def grad_cam(
    model: nn.Layer, image_chw: Any, layer: nn.Layer | str, target: int | None = None
) -> np.ndarray:
    """Grad-CAM heat map (H x W float32 in [0, 1], the input's size) for one CHW image.

    Taught in 01_lenet, §6.7, and 06_convmixer, §5.

    ``image_chw`` is a network input (``images.to_chw_float`` output, numpy or
    tensor); ``layer`` a sublayer or its dotted name (e.g. ``"layer4"`` of a
    ResNet or ``"features.4"``), normally the last convolutional stage; a layer
    called more than once is explained at its last call. ``target``: for a
    1-logit binary model ``None``/1 explains the PM logit (evidence for PM), 0 the
    evidence for non-PM; for K logits the class index, default the predicted one.
    The model runs in eval mode; its train/eval flags are restored, no hook is
    left behind and no parameter gradient is accumulated. An all-zero map means
    no positive evidence for the target at that layer.
    """
    target_layer = _resolve_layer(model, layer)
    batch = _image_batch(image_chw)
    captured: list[paddle.Tensor] = []
    handle = target_layer.register_forward_post_hook(
        lambda _layer, _inputs, output: captured.append(main_output(output))
    )
    try:
        with eval_mode(model), paddle.set_grad_enabled(True):
            score = _class_score(main_output(model(batch)), target)
            if not captured:
                raise ValueError(f"layer {layer!r} did not run in the model's forward pass")
            (gradient,) = paddle.grad(outputs=[score], inputs=[captured[-1]], allow_unused=True)
    finally:
        handle.remove()
    activation = captured[-1].numpy()[0]
    if activation.ndim != 3:
        raise ValueError(
            f"layer {layer!r} outputs shape {tuple(captured[-1].shape)}; "
            "Grad-CAM needs a convolutional feature map [1, C, h, w]"
        )
    gradient = np.zeros_like(activation) if gradient is None else gradient.numpy()[0]
    return _cam_from(activation, gradient, int(batch.shape[2]), int(batch.shape[3]))


GRADCAM_NAME = "gradcam.npz"  # beside each run's results.json


def reference_images(dataset, per_class: int = 1) -> tuple[list[np.ndarray], list[str], list[int]]:
    """The first ``per_class`` images of each class of a (validation) dataset, in a fixed order.

    Taught in 01_lenet, §6.7.

    Every notebook explains the same images, so their Grad-CAM maps can be compared.
    """
    chosen = [
        i
        for c in sorted(set(dataset.labels.tolist()), reverse=True)
        for i in np.flatnonzero(dataset.labels == c)[:per_class]
    ]
    return (
        [dataset[i][0] for i in chosen],
        [dataset.names[i] for i in chosen],
        [int(dataset.labels[i]) for i in chosen],
    )


def save_gradcam_maps(model, layer, dataset, run_name: str, root: str | Path | None = None) -> Path:
    """Grad-CAM maps of ``model`` (at ``layer``) on the reference images, stored with the run.

    Taught in 01_lenet, §5.
    """
    images, names, labels = reference_images(dataset)
    maps = np.stack([grad_cam(model, image, layer) for image in images])
    path = run_dir(run_name, root) / GRADCAM_NAME
    np.savez_compressed(
        path, maps=maps, images=np.stack(images), names=np.array(names), labels=np.array(labels)
    )
    return path


def load_gradcam_maps(root: str | Path | None = None) -> dict[str, dict]:
    """``{run name: {"maps", "images", "names", "labels"}}`` of every run that stored Grad-CAM
    maps.

    Taught in 04_googlenet, §5, and 07_compare, §3.
    """
    root = Path(root or runs_dir())
    out = {}
    for path in sorted(root.glob(f"*/{GRADCAM_NAME}")):
        with np.load(path) as data:
            out[path.parent.name] = {k: data[k] for k in data.files}
    return out
