"""fundus_utils.engine.history: the best epoch by the monitored metric, and the round trip."""

from __future__ import annotations

import json
import math

import fundus_utils as fu
from fundus_utils.engine import results as results_io


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


def test_history_round_trip_and_dataframe():
    history = _history("auc", valid_loss=[0.5, float("nan")], train_loss=[1.0, 0.8])
    copy = fu.History.from_dict(json.loads(json.dumps(results_io._json_safe(history.to_dict()))))
    assert copy.train_loss == history.train_loss and math.isnan(copy.valid_loss[1])
    frame = history.as_dataframe()
    assert list(frame.index) == [1, 2] and frame.index.name == "epoch"
    assert set(fu.History.SERIES) == set(frame.columns)
