"""fundus_utils.engine.checkpoints: exact resume, file contents, atomic writes, scaler state."""

from __future__ import annotations

import fundus_utils as fu
from fundus_utils.engine import checkpoints
from fundus_utils.engine import loop as train

import numpy as np
import paddle  # noqa: E402  (after fundus_utils: NumPy's random module must be imported first)
import pytest
from fit_helpers import TinyCNN, loaders, quiet_fit, seeded_model, weights_of


def test_resume_gives_same_weights_as_uninterrupted_run(tmp_path):
    def run(epochs, folder, resume=False, seed=0):
        model = seeded_model(seed=seed)  # a fresh model each time, as after a restart
        scheduler = paddle.optimizer.lr.StepDecay(learning_rate=1e-2, step_size=1, gamma=0.7)
        history = quiet_fit(
            model,
            *loaders(),
            epochs=epochs,
            optimization=fu.Optimization(scheduler=scheduler),
            checkpoints=fu.Checkpointing(folder, resume=resume),
        )
        return model, history

    straight, straight_history = run(4, tmp_path / "straight")
    run(2, tmp_path / "interrupted")  # "killed" after epoch 2
    resumed, resumed_history = run(4, tmp_path / "interrupted", resume=True, seed=123)
    assert resumed_history.epochs == straight_history.epochs == 4
    assert resumed_history.train_loss == straight_history.train_loss
    assert resumed_history.lr == straight_history.lr  # the scheduler state came back too
    straight_weights, resumed_weights = weights_of(straight), weights_of(resumed)
    assert straight_weights.keys() == resumed_weights.keys()
    for name in straight_weights:
        np.testing.assert_array_equal(resumed_weights[name], straight_weights[name], err_msg=name)
    assert fu.load_checkpoint(fu.checkpoint_path(tmp_path / "interrupted"))["epoch"] == 4


def test_resume_of_finished_run_trains_nothing(tmp_path):
    first = seeded_model()
    quiet_fit(first, *loaders(), epochs=2, checkpoints=fu.Checkpointing(tmp_path))
    second = seeded_model(seed=7)
    history = quiet_fit(
        second, *loaders(), epochs=2, checkpoints=fu.Checkpointing(tmp_path, resume=True)
    )
    assert history.epochs == 2
    for name, value in weights_of(first).items():
        np.testing.assert_array_equal(weights_of(second)[name], value)


def test_checkpoint_files_and_contents(tmp_path):
    model = seeded_model()
    history = quiet_fit(
        model, *loaders(), epochs=2, monitor="loss", checkpoints=fu.Checkpointing(tmp_path)
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pdckpt", "last.pdckpt"]
    state = fu.load_checkpoint(tmp_path / "last.pdckpt")
    assert state["epoch"] == 2 and state["history"]["train_loss"] == history.train_loss
    assert {"model", "optimizer", "scaler", "scheduler", "rng", "seed"} <= set(state)
    assert state["optimizer"]["accumulators"]["fc.weight"].keys() >= {"moment1", "moment2"}
    best = fu.load_checkpoint(tmp_path / "best.pdckpt")
    assert best["epoch"] == history.best_epoch
    restored = fu.load_weights(TinyCNN(), tmp_path / "last.pdckpt")
    for name, value in weights_of(model).items():
        np.testing.assert_array_equal(weights_of(restored)[name], value)


def test_failed_checkpoint_write_leaves_previous_checkpoint_intact(tmp_path, monkeypatch):
    quiet_fit(seeded_model(), *loaders(), epochs=1, checkpoints=fu.Checkpointing(tmp_path))
    last = tmp_path / "last.pdckpt"
    before = last.read_bytes()

    def crash_midway(obj, path, *args, **kwargs):
        with open(path, "wb") as handle:
            handle.write(before[: len(before) // 2])  # a partial file ...
        assert sorted(
            p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")
        )  # ... only as temp
        assert last.read_bytes() == before
        raise OSError("disk full")

    monkeypatch.setattr(checkpoints.paddle, "save", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        quiet_fit(
            seeded_model(),
            *loaders(),
            epochs=2,
            checkpoints=fu.Checkpointing(tmp_path, resume=True),
        )
    monkeypatch.undo()
    assert last.read_bytes() == before
    assert fu.load_checkpoint(last)["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pdckpt", "last.pdckpt"]


def test_temporary_file_is_never_taken_as_checkpoint(tmp_path, capsys):
    tmp_path.joinpath(".last.pdckpt.999.tmp").write_bytes(b"half a checkpoint")
    history = train.fit(
        seeded_model(), *loaders(), epochs=1, checkpoints=fu.Checkpointing(tmp_path, resume=True)
    )
    assert history.epochs == 1
    assert "starting from scratch" in capsys.readouterr().out


def test_grad_scaler_state_survives_a_checkpoint(tmp_path):
    # A CPU build disables GradScaler, so a stand-in with the GPU scaler's state layout is used.
    class StandInScaler:
        def __init__(self, scale):
            self.state = {"scale": np.array([scale], np.float32), "incr_count": 3, "decr_count": 0}

        def state_dict(self):
            return self.state

        def load_state_dict(self, state):
            self.loaded = state

    model = seeded_model()
    optimizer = paddle.optimizer.Adam(parameters=model.parameters())
    path = tmp_path / "last.pdckpt"
    checkpoints.save_checkpoint(
        path,
        net=model,
        optimizer=optimizer,
        scaler=StandInScaler(1024.0),
        scheduler=None,
        history=fu.History(),
        seed=0,
    )
    restored, rebuilt = StandInScaler(1.0), seeded_model(seed=1)
    checkpoints.resume_from(
        path,
        net=rebuilt,
        optimizer=paddle.optimizer.Adam(parameters=rebuilt.parameters()),
        scaler=restored,
        scheduler=None,
    )
    assert restored.loaded["scale"][0] == 1024.0 and restored.loaded["incr_count"] == 3
