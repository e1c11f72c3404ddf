"""Training-time augmentation, and the saturation jitter Paddle's ``ColorJitter`` gets wrong on
NumPy images (it draws a second random factor and uses BGR weights). Taught in 00_data, §7, and
02_alexnet, §1 and §4 (with vs without augmentation)."""

from __future__ import annotations

import numpy as np
import paddle.vision.transforms as T

from ..core.config import IMAGE_SIZE

__all__ = ["RandomSaturation", "train_augmentation"]


LUMA_RGB = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R BT.601 weights, RGB order


class RandomSaturation:
    """Scale colour saturation of an RGB uint8 image by one factor drawn from
    [1 - amount, 1 + amount].

    Taught in 00_data, §7.

    Written here because ``paddle.vision.transforms.ColorJitter(saturation=s)`` is wrong on
    NumPy images (Paddle 2.6.2 and 3.3.1): its ``adjust_saturation`` draws a *second* random
    factor around the one ColorJitter drew (so s = 0.2 yields factors from 0 to 2.2), and it
    computes grey with BGR weights on our RGB images.
    """

    def __init__(self, amount: float):
        self.amount = amount

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        factor = np.random.uniform(1 - self.amount, 1 + self.amount)
        image = rgb.astype(np.float32)
        grey = (image @ LUMA_RGB)[..., None]
        return np.clip(grey + factor * (image - grey), 0, 255).astype(np.uint8)


def train_augmentation(image_size: int = IMAGE_SIZE) -> T.Compose:
    """Training augmentation on uint8 HWC images: flip (left/right eye), small rotation,
    crop/scale, colour.

    Taught in 00_data, §7, and 02_alexnet, §1.
    """
    return T.Compose(
        [
            T.RandomHorizontalFlip(),
            T.RandomRotation(15),
            T.RandomResizedCrop(image_size, scale=(0.8, 1.0), ratio=(0.9, 1.1)),
            T.ColorJitter(brightness=0.2, contrast=0.2, hue=0.02),
            RandomSaturation(0.2),
        ]
    )
