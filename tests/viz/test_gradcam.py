"""Grad-CAM on constructed networks whose decisive image region is known; the reference images."""

from __future__ import annotations

from fundus_utils.viz.gradcam import grad_cam, reference_images

import numpy as np
import paddle
import pytest
from paddle import nn

SIZE = 32
RED_BOX = (slice(2, 12), slice(2, 12))  # rows, columns of a red square (top left)
BLUE_BOX = (slice(18, 30), slice(18, 30))  # and of a blue square (bottom right)


class ColourDetector(nn.Layer):
    """Channel 0 of ``detector`` fires on red, channel 1 on blue; ``head`` weighs them.

    A stride-2 pool makes the feature map smaller than the input, so the map must
    be resized back. With head weights [1, 0] only the red square drives the logit.
    """

    def __init__(self, head_weights):
        super().__init__()
        self.detector = nn.Conv2D(3, 2, 1)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2D(2)
        self.gap = nn.AdaptiveAvgPool2D(1)
        self.head = nn.Linear(2, len(head_weights))
        with paddle.no_grad():
            self.detector.weight.set_value(
                np.array([[1, -1, -1], [-1, -1, 1]], np.float32).reshape(2, 3, 1, 1)
            )
            self.detector.bias.set_value(np.zeros(2, np.float32))
            self.head.weight.set_value(np.array(head_weights, np.float32).T)
            self.head.bias.set_value(np.zeros(len(head_weights), np.float32))

    def forward(self, x):
        return self.head(paddle.flatten(self.gap(self.pool(self.relu(self.detector(x)))), 1))


def two_squares() -> np.ndarray:
    image = np.zeros((3, SIZE, SIZE), np.float32)
    image[0][RED_BOX] = 1.0
    image[2][BLUE_BOX] = 1.0
    return image


def box_mean(cam: np.ndarray, box) -> float:
    return float(cam[box].mean())


def outside_mean(cam: np.ndarray, *boxes) -> float:
    mask = np.ones_like(cam, bool)
    for box in boxes:
        mask[box] = False
    return float(cam[mask].mean())


def test_map_has_the_input_size_and_lies_in_unit_range():
    paddle.seed(0)
    model = paddle.vision.models.resnet18(num_classes=1)
    cam = grad_cam(
        model, np.random.default_rng(0).normal(size=(3, 48, 40)).astype(np.float32), "layer4"
    )
    assert cam.shape == (48, 40)
    assert cam.dtype == np.float32
    assert cam.min() >= 0.0 and cam.max() <= 1.0
    image = np.zeros((3, 30, 44), np.float32)
    image[0, 5:15, 20:30] = 1.0
    cam = grad_cam(ColourDetector([[1.0, 0.0]]), image, "pool")
    assert cam.shape == (30, 44)
    assert cam.min() == 0.0 and cam.max() == pytest.approx(1.0)


def test_one_logit_model_highlights_the_region_driving_the_pm_logit():
    model = ColourDetector([[1.0, 0.0]])
    cam = grad_cam(model, two_squares(), "pool")
    assert box_mean(cam, RED_BOX) > 0.8
    assert box_mean(cam, BLUE_BOX) < 0.05
    assert outside_mean(cam, RED_BOX, BLUE_BOX) < 0.1


def test_k_logit_model_explains_the_chosen_or_predicted_class():
    model = ColourDetector([[1.0, 0.0], [0.0, 2.0]])  # class 1 (blue) wins the argmax
    for target, bright, dark in (
        (None, BLUE_BOX, RED_BOX),
        (1, BLUE_BOX, RED_BOX),
        (0, RED_BOX, BLUE_BOX),
    ):
        cam = grad_cam(model, paddle.to_tensor(two_squares()), model.pool, target=target)
        assert box_mean(cam, bright) > 0.8, target
        assert box_mean(cam, dark) < 0.05, target


def test_non_pm_target_of_a_one_logit_model_shows_the_negative_evidence():
    model = ColourDetector([[1.0, -1.0]])  # blue is evidence against PM
    pm_cam = grad_cam(model, two_squares(), "detector", target=1)
    non_pm_cam = grad_cam(model, two_squares(), "detector", target=0)
    assert box_mean(pm_cam, RED_BOX) > 0.8 and box_mean(pm_cam, BLUE_BOX) < 0.05
    assert box_mean(non_pm_cam, BLUE_BOX) > 0.8 and box_mean(non_pm_cam, RED_BOX) < 0.05


def test_state_is_restored_and_no_gradient_leaks_into_parameters():
    model = ColourDetector([[1.0, 0.0]])
    model.train()
    model.head.eval()
    with paddle.no_grad():  # works even when called under no_grad
        grad_cam(model, two_squares(), "pool")
    assert model.training and model.pool.training and not model.head.training
    assert all(p.grad is None for p in model.parameters())
    assert all(not layer._forward_post_hooks for layer in model.sublayers(include_self=True))


def test_unknown_layer_name_and_non_map_layer_are_refused():
    model = ColourDetector([[1.0, 0.0]])
    with pytest.raises(ValueError, match="no sublayer named 'layer9'"):
        grad_cam(model, two_squares(), "layer9")
    with pytest.raises(ValueError, match="convolutional feature map"):
        grad_cam(model, two_squares(), "head")
    with pytest.raises(ValueError, match="CHW"):
        grad_cam(model, two_squares()[None], "pool")


def test_reference_images_take_the_first_of_each_class_pm_first():
    class Toy:
        labels = np.array([0, 0, 1, 1])
        names = ["n1", "n2", "p1", "p2"]

        def __getitem__(self, i):
            return np.full((3, 2, 2), i, np.float32), self.labels[i]

    images, names, labels = reference_images(Toy())
    assert names == ["p1", "n1"] and labels == [1, 0] and images[0][0, 0, 0] == 2
