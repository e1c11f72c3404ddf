"""fundus_utils.engine.results: the results JSON a run writes, and gathering the runs' results."""

from __future__ import annotations

import json

import fundus_utils as fu
from fundus_utils.engine import results as results_io
from fundus_utils.inspection import count_flops

import numpy as np
import paddle  # noqa: E402  (after fundus_utils: NumPy's random module must be imported first)
import pytest
from fit_helpers import loaders, quiet_fit, seeded_model


def test_results_json_has_the_fields(tmp_path):
    model = seeded_model()
    train_loader, valid_loader = loaders(batch_size=8)
    history = quiet_fit(
        model,
        train_loader,
        valid_loader,
        epochs=2,
        run_name="tiny-cnn",
        reporting=fu.Reporting(input_shape=(1, 3, 16, 16)),
    )
    path = fu.runs_dir() / "tiny-cnn" / "results.json"
    assert str(path).startswith(str(tmp_path))  # conftest points FUNDUS_RUNS into tmp_path
    results = json.loads(
        path.read_text(encoding="utf-8"),
        parse_constant=lambda name: pytest.fail(f"non-JSON {name}"),
    )
    assert results["architecture"] == "tiny-cnn" and results["model_class"] == "TinyCNN"
    assert results["parameters"] == sum(int(np.prod(p.shape)) for p in model.parameters())
    assert (
        isinstance(results["flops"], int)
        and results["flops"] == count_flops(model, (1, 3, 16, 16)) > 0
    )
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
    quiet_fit(
        seeded_model(),
        *loaders(),
        epochs=1,
        run_name="x",
        reporting=fu.Reporting(results_path=target),
    )
    assert json.loads(target.read_text(encoding="utf-8"))["architecture"] == "x"
    assert not (fu.runs_dir() / "x").exists()
    assert not list(target.parent.glob(".*"))  # no temporary file left behind


def write_result(root, name, **fields):
    folder = root / name
    folder.mkdir(parents=True)
    record = {
        "architecture": name,
        "parameters": 10,
        "final_metrics": {"sensitivity": 0.5, "confusion": [[3, 1], [2, 4]]},
        "history": {"epochs": 1},
    }
    (folder / "results.json").write_text(json.dumps(record | fields), encoding="utf-8")


def test_load_results_makes_one_row_per_run(tmp_path):
    write_result(tmp_path, "b_net", final_valid_auc=0.7, data_kind="sample", model="B-Net, 1/4")
    write_result(tmp_path, "a_net", final_valid_auc=0.9, data_kind="real", best_valid_auc=0.99)
    table = results_io.load_results(tmp_path)
    assert table["arch"].tolist() == ["a_net", "b_net"]
    assert table["model"].tolist() == ["a_net", "B-Net, 1/4"]  # the run name when not given
    assert table["final_valid_auc"].tolist() == [0.9, 0.7]
    assert table["final_valid_sensitivity"].tolist() == [0.5, 0.5]
    assert table["predicted_pm_share"].tolist() == [0.5, 0.5]  # (1 + 4) of 10 called PM
    assert not [c for c in table.columns if c.startswith("best")]  # nothing picked on validation
    assert set(results_io.load_histories(tmp_path)) == {"a_net", "b_net"}
    assert results_io.load_results(tmp_path / "none").empty
