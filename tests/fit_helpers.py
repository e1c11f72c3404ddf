"""Tiny synthetic data and models for the engine tests; also the script the launch test runs.

As a script (``python -m paddle.distributed.launch --nproc_per_node 2 tests/fit_helpers.py OUT``)
every rank trains the same small CNN with ``fit`` and saves what the test compares into OUT.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import paddle

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


class SeparableSet(paddle.io.Dataset):
    """Noise images whose class shifts the mean of one channel: trivially separable.

    ``num_classes`` classes; class k moves channel ``k % 3`` by ``+shift`` (class 0 moves
    channel 0 by ``-shift`` when binary). ``label_shape``/``label_dtype`` set what a
    sample's label looks like (``()`` or ``(1,)``; ``"int64"`` or ``"float32"``).
    """

    source_kind = "sample"

    def __init__(
        self,
        n: int,
        seed: int,
        num_classes: int = 2,
        size: int = 16,
        shift: float = 1.5,
        label_shape: tuple = (),
        label_dtype: str = "int64",
    ):
        rng = np.random.default_rng(seed)
        self.labels = rng.integers(0, num_classes, n)
        self.images = rng.normal(0.0, 1.0, (n, 3, size, size)).astype("float32")
        for k in range(num_classes):
            sign = -1.0 if (num_classes == 2 and k == 0) else 1.0
            self.images[self.labels == k, k % 3] += sign * shift
        self.label_shape, self.label_dtype = label_shape, label_dtype

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        label = np.asarray(self.labels[index], dtype=self.label_dtype).reshape(self.label_shape)
        return self.images[index], label


class TinyCNN(paddle.nn.Layer):
    """conv -> relu -> global pool -> dropout -> linear (``outputs`` logits)."""

    def __init__(self, outputs: int = 1, dropout: float = 0.2):
        super().__init__()
        self.features = paddle.nn.Sequential(
            paddle.nn.Conv2D(3, 8, 3, padding=1),
            paddle.nn.ReLU(),
            paddle.nn.AdaptiveAvgPool2D(1),
            paddle.nn.Flatten(),
        )
        self.dropout = paddle.nn.Dropout(dropout)
        self.fc = paddle.nn.Linear(8, outputs)

    def forward(self, x):
        return self.fc(self.dropout(self.features(x)))


class TupleCNN(paddle.nn.Layer):
    """Returns ``(main, aux1, aux2)`` in train mode (like GoogLeNet); with ``eval_tuple``, in eval
    mode too."""

    def __init__(self, eval_tuple: bool = False):
        super().__init__()
        self.features = paddle.nn.Sequential(
            paddle.nn.Conv2D(3, 4, 3, padding=1),
            paddle.nn.ReLU(),
            paddle.nn.AdaptiveAvgPool2D(1),
            paddle.nn.Flatten(),
        )
        self.main, self.aux1, self.aux2 = (paddle.nn.Linear(4, 1) for _ in range(3))
        self.eval_tuple = eval_tuple

    def forward(self, x):
        h = self.features(x)
        if self.training or self.eval_tuple:
            return self.main(h), self.aux1(h), self.aux2(h)
        return self.main(h)


def loaders(n_train: int = 96, n_valid: int = 37, batch_size: int = 16, **kwargs):
    train = SeparableSet(n_train, seed=1, **kwargs)
    valid = SeparableSet(n_valid, seed=2, **kwargs)
    return (
        paddle.io.DataLoader(train, batch_size=batch_size, shuffle=True),
        paddle.io.DataLoader(valid, batch_size=batch_size),
    )


def weights_of(model: paddle.nn.Layer) -> dict[str, np.ndarray]:
    return {name: value.numpy().copy() for name, value in model.state_dict().items()}


def seeded_model(outputs: int = 1, dropout: float = 0.2, seed: int = 0) -> TinyCNN:
    """A TinyCNN built right after ``set_seed(seed)``: the same weights for the same seed."""
    from fundus_utils.engine import runtime

    runtime.set_seed(seed)
    return TinyCNN(outputs=outputs, dropout=dropout)


def quiet_fit(model, train_loader, valid_loader, **kwargs):
    """``fit`` without its per-epoch printing unless ``verbose=`` is passed."""
    from fundus_utils.engine import loop

    kwargs.setdefault("verbose", False)
    return loop.fit(model, train_loader, valid_loader, **kwargs)


def _distributed_main(out: Path) -> None:
    import fundus_utils as fu
    from fundus_utils.engine import loop as train
    from fundus_utils.engine import runtime

    runtime.set_seed(0)
    model = TinyCNN(outputs=1)
    train_loader, valid_loader = loaders()
    rank = runtime.rank()
    history = train.fit(
        model,
        train_loader,
        valid_loader,
        epochs=3,
        lr=1e-2,
        run_name="dist-run",
        checkpoints=fu.Checkpointing(out / f"ckpt_rank{rank}"),
        reporting=fu.Reporting(results_path=out / f"results_rank{rank}.json"),
    )
    np.savez(out / f"weights_rank{rank}.npz", **weights_of(model))
    evaluation = fu.evaluate(model, valid_loader)
    model.eval()
    with paddle.no_grad():
        direct = paddle.nn.functional.sigmoid(
            model(paddle.to_tensor(valid_loader.dataset.images))
        ).numpy()
    np.savez(
        out / f"eval_rank{rank}.npz",
        probs=evaluation["probs"],
        labels=evaluation["labels"],
        direct=direct.reshape(-1),
        dataset_labels=valid_loader.dataset.labels,
    )
    (out / f"history_rank{rank}.json").write_text(json.dumps(history.to_dict()), encoding="utf-8")


if __name__ == "__main__":
    _distributed_main(Path(sys.argv[1]))
