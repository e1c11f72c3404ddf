"""fundus_utils.engine.loop: learning, heads, auxiliary losses, resuming, checkpoints, divergence, results."""
from __future__ import annotations

import json
import math
import sys
import types

import numpy as np
import pytest

from fit_helpers import SeparableSet, TinyCNN, TupleCNN, loaders, weights_of
import fundus_utils as fu
from fundus_utils.engine import checkpoints, runtime
from fundus_utils.engine import loop as train
from fundus_utils.engine import results as results_io
from fundus_utils.engine.metrics import binary_metrics

import paddle  # noqa: E402  (after fundus_utils: NumPy's random module must be imported first)


def _fit(model, train_loader, valid_loader, **kwargs):
    kwargs.setdefault("verbose", False)
    return train.fit(model, train_loader, valid_loader, **kwargs)


def _model(outputs=1, dropout=0.2, seed=0):
    runtime.set_seed(seed)
    return TinyCNN(outputs=outputs, dropout=dropout)


# --------------------------------------------------------------------------- learning and heads
def test_tiny_cnn_learns_separable_task(capsys):
    model = _model()
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


@pytest.mark.parametrize("label_shape", [(), (1,)])
@pytest.mark.parametrize("label_dtype", ["int64", "float32"])
def test_label_shapes_and_dtypes_train_identically(label_shape, label_dtype):
    reference = _fit(_model(), *loaders(), epochs=2, lr=1e-2)
    history = _fit(_model(), *loaders(label_shape=label_shape, label_dtype=label_dtype), epochs=2, lr=1e-2)
    assert history.train_loss == reference.train_loss
    assert history.valid_auc == reference.valid_auc


def test_multiclass_head_uses_softmax_and_argmax():
    model = _model(outputs=3)
    train_loader, valid_loader = loaders(num_classes=3, n_train=150, n_valid=60)
    history = _fit(model, train_loader, valid_loader, epochs=5, lr=2e-2)
    assert history.valid_acc[-1] > 0.9
    result = fu.evaluate(model, valid_loader)
    assert result["probs"].shape == (60, 3)
    np.testing.assert_allclose(result["probs"].sum(axis=1), 1.0, rtol=1e-5)
    assert result["accuracy"] == pytest.approx(np.mean(result["probs"].argmax(1) == result["labels"]))
    assert len(result["per_class_recall"]) == 3 and np.shape(result["confusion"]) == (3, 3)
    assert math.isfinite(history.valid_auc[-1])


def test_two_logit_head_reports_binary_metrics():
    model = _model(outputs=2)
    history = _fit(model, *loaders(), epochs=3, lr=1e-2)
    result = fu.evaluate(model, loaders()[1])
    assert result["probs"].shape == (37, 2)
    assert result["auc"] == pytest.approx(history.valid_auc[-1])
    expected = binary_metrics(result["probs"][:, 1], result["labels"])
    assert result["sensitivity"] == expected["sensitivity"]


def test_binary_accuracy_thresholds_sigmoid_not_index_zero():
    model = _model()
    _fit(model, *loaders(), epochs=3, lr=1e-2)
    result = fu.evaluate(model, loaders()[1])
    assert result["probs"].ndim == 1
    assert result["accuracy"] == pytest.approx(np.mean((result["probs"] >= 0.5) == result["labels"]))
    assert result["accuracy"] != pytest.approx(np.mean(result["labels"] == 0))


def test_labels_outside_the_head_are_refused():
    train_loader, valid_loader = loaders(num_classes=3)
    with pytest.raises(ValueError, match="1 output"):
        _fit(_model(outputs=1), train_loader, valid_loader, epochs=1)


# --------------------------------------------------------------------------- auxiliary heads
def _bce(logits: np.ndarray, labels: np.ndarray) -> float:
    x, y = logits.reshape(-1).astype(np.float64), labels.reshape(-1).astype(np.float64)
    return float(np.mean(np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))))


@pytest.mark.parametrize("eval_tuple", [False, True])
def test_tuple_output_loss_is_weighted_sum(eval_tuple):
    runtime.set_seed(0)
    model = TupleCNN(eval_tuple=eval_tuple)
    data = SeparableSet(24, seed=3)
    whole = paddle.io.DataLoader(data, batch_size=24)  # one batch: the epoch loss is that batch's loss
    model.train()
    with paddle.no_grad():
        main, aux1, aux2 = (t.numpy() for t in model(paddle.to_tensor(data.images)))
    weights = (1.0, 0.5, 0.25)
    expected = sum(w * _bce(out, data.labels) for w, out in zip(weights, (main, aux1, aux2)))
    frozen = paddle.optimizer.SGD(learning_rate=0.0, parameters=model.parameters())
    history = _fit(model, whole, whole, epochs=1, aux_weights=weights, optimization=fu.Optimization(optimizer=frozen))
    assert history.train_loss[0] == pytest.approx(expected, rel=1e-5)
    assert history.valid_loss[0] == pytest.approx(_bce(main, data.labels), rel=1e-5)  # main head only


def test_aux_weights_must_match_outputs():
    runtime.set_seed(0)
    with pytest.raises(ValueError, match="3 outputs"):
        _fit(TupleCNN(), *loaders(), epochs=1, aux_weights=(1.0, 0.3))


# --------------------------------------------------------------------------- resume and checkpoints
def test_resume_gives_same_weights_as_uninterrupted_run(tmp_path):
    def run(epochs, folder, resume=False, seed=0):
        model = _model(seed=seed)  # a fresh model each time, as after a restart
        scheduler = paddle.optimizer.lr.StepDecay(learning_rate=1e-2, step_size=1, gamma=0.7)
        history = _fit(model, *loaders(), epochs=epochs, optimization=fu.Optimization(scheduler=scheduler), checkpoints=fu.Checkpointing(folder, resume=resume))
        return model, history

    straight, straight_history = run(4, tmp_path / "straight")
    run(2, tmp_path / "interrupted")                      # "killed" after epoch 2
    resumed, resumed_history = run(4, tmp_path / "interrupted", resume=True, seed=123)
    assert resumed_history.epochs == straight_history.epochs == 4
    assert resumed_history.train_loss == straight_history.train_loss
    assert resumed_history.lr == straight_history.lr       # the scheduler state came back too
    straight_weights, resumed_weights = weights_of(straight), weights_of(resumed)
    assert straight_weights.keys() == resumed_weights.keys()
    for name in straight_weights:
        np.testing.assert_array_equal(resumed_weights[name], straight_weights[name], err_msg=name)
    assert fu.load_checkpoint(fu.checkpoint_path(tmp_path / "interrupted"))["epoch"] == 4


def test_resume_of_finished_run_trains_nothing(tmp_path):
    first = _model()
    _fit(first, *loaders(), epochs=2, checkpoints=fu.Checkpointing(tmp_path))
    second = _model(seed=7)
    history = _fit(second, *loaders(), epochs=2, checkpoints=fu.Checkpointing(tmp_path, resume=True))
    assert history.epochs == 2
    for name, value in weights_of(first).items():
        np.testing.assert_array_equal(weights_of(second)[name], value)


def test_checkpoint_files_and_contents(tmp_path):
    model = _model()
    history = _fit(model, *loaders(), epochs=2, monitor="loss", checkpoints=fu.Checkpointing(tmp_path))
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
    _fit(_model(), *loaders(), epochs=1, checkpoints=fu.Checkpointing(tmp_path))
    last = tmp_path / "last.pdckpt"
    before = last.read_bytes()

    def crash_midway(obj, path, *args, **kwargs):
        with open(path, "wb") as handle:
            handle.write(before[: len(before) // 2])  # a partial file ...
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp"))  # ... only as temp
        assert last.read_bytes() == before
        raise OSError("disk full")

    monkeypatch.setattr(checkpoints.paddle, "save", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        _fit(_model(), *loaders(), epochs=2, checkpoints=fu.Checkpointing(tmp_path, resume=True))
    monkeypatch.undo()
    assert last.read_bytes() == before
    assert fu.load_checkpoint(last)["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pdckpt", "last.pdckpt"]


def test_temporary_file_is_never_taken_as_checkpoint(tmp_path, capsys):
    tmp_path.joinpath(".last.pdckpt.999.tmp").write_bytes(b"half a checkpoint")
    history = train.fit(_model(), *loaders(), epochs=1, checkpoints=fu.Checkpointing(tmp_path, resume=True))
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

    model = _model()
    optimizer = paddle.optimizer.Adam(parameters=model.parameters())
    path = tmp_path / "last.pdckpt"
    checkpoints.save_checkpoint(path, net=model, optimizer=optimizer, scaler=StandInScaler(1024.0),
                           scheduler=None, history=fu.History(), seed=0)
    restored, rebuilt = StandInScaler(1.0), _model(seed=1)
    checkpoints.resume_from(path, net=rebuilt, optimizer=paddle.optimizer.Adam(parameters=rebuilt.parameters()),
                       scaler=restored, scheduler=None)
    assert restored.loaded["scale"][0] == 1024.0 and restored.loaded["incr_count"] == 3


def test_old_flat_keywords_are_refused_with_a_type_error():
    # fit's options are grouped now: checkpoint_dir=... no longer exists, and resuming without a
    # folder cannot even be written (Checkpointing needs its folder).
    with pytest.raises(TypeError, match="checkpoint_dir"):
        _fit(_model(), *loaders(), epochs=1, checkpoint_dir="x", resume=True)
    with pytest.raises(TypeError, match="folder"):
        fu.Checkpointing(resume=True)


# --------------------------------------------------------------------------- divergence and options
def test_nan_loss_raises_training_diverged():
    train_loader, valid_loader = loaders()
    train_loader.dataset.images[:] = np.nan
    runtime.set_seed(0)
    linear = paddle.nn.Sequential(paddle.nn.Flatten(), paddle.nn.Linear(3 * 16 * 16, 1))  # no ReLU to mask NaN
    with pytest.raises(fu.TrainingDiverged, match=r"epoch 1, step 1.*Lower the learning rate") as error:
        _fit(linear, train_loader, valid_loader, epochs=2, lr=1e-3)
    assert (error.value.epoch, error.value.step) == (1, 1) and math.isnan(error.value.loss_value)


def test_grad_clip_limits_the_update():
    def change(grad_clip):
        model = _model(dropout=0.0)
        before = weights_of(model)["fc.weight"]
        _fit(model, *loaders(n_train=16), epochs=1, lr=1e-2, optimization=fu.Optimization(grad_clip=grad_clip))
        return np.abs(weights_of(model)["fc.weight"] - before).max()

    assert change(1e-12) < 1e-2 * change(None)


def test_scheduler_and_clip_wiring_with_own_optimizer_is_checked():
    model = _model()
    scheduler = paddle.optimizer.lr.StepDecay(learning_rate=0.1, step_size=1)
    plain = paddle.optimizer.SGD(learning_rate=0.1, parameters=model.parameters())
    with pytest.raises(ValueError, match="learning_rate=scheduler"):
        _fit(model, *loaders(), epochs=1, optimization=fu.Optimization(optimizer=plain, scheduler=scheduler))
    with pytest.raises(ValueError, match="grad_clip"):
        _fit(model, *loaders(), epochs=1, optimization=fu.Optimization(optimizer=plain, grad_clip=1.0))


def test_scheduler_is_stepped_once_per_epoch():
    history = _fit(_model(), *loaders(), epochs=3, optimization=fu.Optimization(scheduler=paddle.optimizer.lr.StepDecay(learning_rate=0.1, step_size=1, gamma=0.5)))
    assert history.lr == pytest.approx([0.1, 0.05, 0.025])


def test_amp_request_on_cpu_is_noted_and_ignored(capsys):
    if runtime.gpu_available():
        pytest.fail("this test expects a CPU-only machine")
    history = train.fit(_model(), *loaders(), epochs=1, optimization=fu.Optimization(amp=True))
    assert "amp=True ignored" in capsys.readouterr().out
    assert math.isfinite(history.train_loss[0])


def test_single_class_validation_set_does_not_crash(tmp_path):
    train_loader, _ = loaders()
    only_negatives = SeparableSet(20, seed=5)
    only_negatives.labels[:] = 0
    history = _fit(_model(), train_loader, paddle.io.DataLoader(only_negatives, batch_size=8), epochs=2, checkpoints=fu.Checkpointing(tmp_path))
    assert all(math.isnan(v) for v in history.valid_auc)
    assert history.best_epoch == int(np.argmin(history.valid_loss)) + 1  # falls back to the loss
    assert (tmp_path / "best.pdckpt").is_file()


def test_without_validation_loader():
    history = _fit(_model(), loaders()[0], None, epochs=2)
    assert history.epochs == 2 and all(math.isnan(v) for v in history.valid_loss)
    assert history.best_epoch == 2


# --------------------------------------------------------------------------- history
def _history(monitor, **series):
    history = fu.History(monitor=monitor)
    n = len(next(iter(series.values())))
    for i in range(n):
        row = {name: series.get(name, [0.0] * n)[i] for name in fu.History.SERIES}
        history.append(**row)
    return history


def test_history_best_follows_monitor_direction():
    losses = [0.5, 0.3, 0.4]
    assert _history("loss", valid_loss=losses, valid_auc=[0.9, 0.7, 0.95]).best_epoch == 2
    assert _history("auc", valid_loss=losses, valid_auc=[0.9, 0.7, 0.95]).best_epoch == 3
    tied = _history("acc", valid_loss=[0.5, 0.2, 0.4], valid_acc=[0.8, 0.8, 0.8])
    assert tied.best_epoch == 2  # equal accuracy: the lower validation loss wins
    assert tied.best["valid_loss"] == 0.2 and tied.last["epoch"] == 3


def test_invalid_monitor_is_refused():
    with pytest.raises(ValueError, match="monitor"):
        _fit(_model(), *loaders(), epochs=1, monitor="f1")


def test_history_round_trip_and_dataframe():
    history = _history("auc", valid_loss=[0.5, float("nan")], train_loss=[1.0, 0.8])
    copy = fu.History.from_dict(json.loads(json.dumps(results_io._json_safe(history.to_dict()))))
    assert copy.train_loss == history.train_loss and math.isnan(copy.valid_loss[1])
    frame = history.as_dataframe()
    assert list(frame.index) == [1, 2] and frame.index.name == "epoch"
    assert set(fu.History.SERIES) == set(frame.columns)


# --------------------------------------------------------------------------- results and logging
def test_results_json_has_the_fields(tmp_path):
    model = _model()
    train_loader, valid_loader = loaders(batch_size=8)
    history = _fit(model, train_loader, valid_loader, epochs=2, run_name="tiny-cnn", reporting=fu.Reporting(input_shape=(1, 3, 16, 16)))
    path = fu.runs_dir() / "tiny-cnn" / "results.json"
    assert str(path).startswith(str(tmp_path))  # conftest points FUNDUS_RUNS into tmp_path
    results = json.loads(path.read_text(), parse_constant=lambda name: pytest.fail(f"non-JSON {name}"))
    assert results["architecture"] == "tiny-cnn" and results["model_class"] == "TinyCNN"
    assert results["parameters"] == sum(int(np.prod(p.shape)) for p in model.parameters())
    try:
        import fundus_utils.inspection  # noqa: F401
        assert isinstance(results["flops"], int) and results["flops"] > 0
    except ImportError:
        assert results["flops"] is None
    assert results["epochs"] == 2
    assert results["seconds_per_epoch"] == pytest.approx(np.mean(history.seconds))
    assert results["best"]["epoch"] == history.best_epoch == results["best_epoch"]
    assert results["final"]["valid_acc"] == history.valid_acc[-1] == results["final_valid_acc"]
    assert results["final_metrics"]["confusion"] and "probs" not in results["final_metrics"]
    assert results["device"] == "cpu" and results["paddle_version"] == paddle.__version__
    assert results["data_kind"] == "sample"  # SeparableSet.source_kind
    assert results["image_size"] == 16 and results["batch_size"] == 8
    assert results["history"]["train_loss"] == history.train_loss


def test_results_path_overrides_run_name(tmp_path):
    target = tmp_path / "elsewhere" / "r.json"
    _fit(_model(), *loaders(), epochs=1, run_name="x", reporting=fu.Reporting(results_path=target))
    assert json.loads(target.read_text())["architecture"] == "x"
    assert not (fu.runs_dir() / "x").exists()
    assert not list(target.parent.glob(".*"))  # no temporary file left behind


def test_visualdl_scalars_when_installed(tmp_path, monkeypatch):
    calls = []

    class FakeWriter:
        def __init__(self, logdir):
            calls.append(("open", logdir))

        def add_scalar(self, tag, value, step):
            calls.append((tag, step))

        def close(self):
            calls.append(("close", None))

    monkeypatch.setitem(sys.modules, "visualdl", types.SimpleNamespace(LogWriter=FakeWriter))
    _fit(_model(), *loaders(), epochs=2, reporting=fu.Reporting(log_dir=tmp_path / "vdl"))
    assert calls[0] == ("open", str(tmp_path / "vdl")) and calls[-1] == ("close", None)
    assert ("train/loss", 1) in calls and ("valid/auc", 2) in calls


def test_missing_visualdl_prints_one_note(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "visualdl", None)  # makes `import visualdl` fail
    _fit(_model(), *loaders(), epochs=2, reporting=fu.Reporting(log_dir=tmp_path / "vdl"))
    assert capsys.readouterr().out.count("VisualDL is not installed") == 1
