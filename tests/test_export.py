"""Export -> load -> predict round trip, per-image errors, and the CLI's exit codes."""

from __future__ import annotations

import json

from fundus_utils.core.errors import FundusDataError
from fundus_utils.data.images import load_rgb, to_chw_float
from fundus_utils.export import export_info, export_model, load_exported, predict, predict_cli

import cv2
import numpy as np
import paddle
import pytest
from paddle import nn

SIZE = 32


def tiny_model(num_outputs: int = 1) -> nn.Layer:
    paddle.seed(7)
    model = nn.Sequential(
        nn.Conv2D(3, 4, 3),
        nn.BatchNorm2D(4),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.AdaptiveAvgPool2D(1),
        nn.Flatten(),
        nn.Linear(4, num_outputs),
    )
    with paddle.no_grad():  # non-trivial BatchNorm statistics, so eval vs train mode matters
        model[1]._mean.set_value(np.full(4, 0.3, np.float32))
        model[1]._variance.set_value(np.full(4, 2.0, np.float32))
    return model


@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(3)
    paths = []
    for name in ("a.jpg", "b.png"):
        image = (rng.random((90, 70, 3)) * 255).astype(np.uint8)
        cv2.imencode((tmp_path / name).suffix, image)[1].tofile(tmp_path / name)
        paths.append(str(tmp_path / name))
    (tmp_path / "truncated.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a whole jpeg")
    return {
        "good": paths,
        "missing": str(tmp_path / "missing.jpg"),
        "truncated": str(tmp_path / "truncated.jpg"),
    }


def in_memory_probability(model: nn.Layer, path: str) -> float:
    model.eval()
    with paddle.no_grad():
        logit = model(paddle.to_tensor(to_chw_float(load_rgb(path, SIZE))[None]))
    return float(1.0 / (1.0 + np.exp(-float(logit.numpy().reshape(-1)[0]))))


def test_round_trip_matches_the_in_memory_model(tmp_path, images):
    model = tiny_model()
    model.train()
    out_dir = export_model(model, tmp_path / "export", image_size=SIZE)
    assert model.training and model[3].training  # modes restored
    assert (
        json.loads((out_dir / "fundus_model.json").read_text(encoding="utf-8"))["image_size"]
        == SIZE
    )
    assert export_info(out_dir)["class_names"] == ["non-PM", "PM"]
    results = predict(out_dir, images["good"])
    assert [r["path"] for r in results] == images["good"]
    for result, path in zip(results, images["good"]):
        assert result["pm_probability"] == pytest.approx(
            in_memory_probability(model, path), abs=1e-5
        )


def test_predict_on_a_layer_equals_predict_on_its_export(tmp_path, images):
    model = tiny_model()
    exported = predict(export_model(model, tmp_path / "export", image_size=SIZE), images["good"])
    in_memory = predict(model, images["good"], image_size=SIZE)
    for a, b in zip(exported, in_memory):
        assert a["pm_probability"] == pytest.approx(b["pm_probability"], abs=1e-5)


def test_loaded_model_accepts_any_batch_size(tmp_path):
    model = tiny_model()
    loaded = load_exported(export_model(model, tmp_path / "export", image_size=SIZE))
    batch = paddle.to_tensor(
        np.random.default_rng(0).normal(size=(3, 3, SIZE, SIZE)).astype(np.float32)
    )
    model.eval()
    np.testing.assert_allclose(loaded(batch).numpy(), model(batch).numpy(), atol=1e-5)


def test_bad_images_get_errors_and_the_others_still_get_predictions(tmp_path, images):
    out_dir = export_model(tiny_model(), tmp_path / "export", image_size=SIZE)
    paths = [images["good"][0], images["missing"], images["truncated"], images["good"][1]]
    results = predict(out_dir, paths)
    assert [sorted(r) for r in results] == [
        ["path", "pm_probability"],
        ["error", "path"],
        ["error", "path"],
        ["path", "pm_probability"],
    ]
    assert "missing.jpg: expected an image file" in results[1]["error"]
    assert "truncated" in results[2]["error"]
    assert all(0.0 < r["pm_probability"] < 1.0 for r in (results[0], results[3]))


def test_k_logit_model_reports_class_probabilities(tmp_path, images):
    out_dir = export_model(tiny_model(2), tmp_path / "export", image_size=SIZE)
    (result,) = predict(out_dir, images["good"][:1])
    assert set(result["probabilities"]) == {"non-PM", "PM"}
    assert sum(result["probabilities"].values()) == pytest.approx(1.0)
    assert result["pm_probability"] == result["probabilities"]["PM"]
    assert result["predicted_class"] == max(
        result["probabilities"], key=result["probabilities"].get
    )


def test_cli_prints_one_line_per_image_and_returns_the_exit_code(tmp_path, images, capsys):
    out_dir = str(export_model(tiny_model(), tmp_path / "export", image_size=SIZE))
    assert predict_cli(out_dir, images["good"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    for line, path in zip(lines, images["good"]):
        shown_path, message = line.split("\t")
        assert shown_path == path and message.startswith("PM probability 0.")
        assert len(message.split()[-1]) == len("0.873")

    assert predict_cli(out_dir, [images["missing"], images["good"][0]]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(images["missing"] + "\terror: ")
    assert lines[1].startswith(images["good"][0] + "\tPM probability ")


def test_cli_without_an_exported_model_fails_cleanly(tmp_path, images, capsys):
    assert predict_cli(str(tmp_path / "nothing_here"), images["good"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ") and "nothing_here" in captured.err
    with pytest.raises(FundusDataError):
        load_exported(tmp_path / "nothing_here")


def test_a_program_in_the_other_paddle_versions_format_is_refused_with_a_way_out(tmp_path):
    out_dir = export_model(tiny_model(), tmp_path / "export", image_size=SIZE)
    (program,) = [
        path for path in out_dir.iterdir() if path.name in ("model.json", "model.pdmodel")
    ]
    other_format = out_dir / ("model.pdmodel" if program.suffix == ".json" else "model.json")
    program.rename(other_format)  # what the other Paddle version would have written
    with pytest.raises(FundusDataError, match="re-export"):
        load_exported(out_dir)
    other_format.unlink()
    with pytest.raises(FundusDataError, match="found none"):
        load_exported(out_dir)


def test_re_export_replaces_files_of_an_earlier_export(tmp_path):
    from fundus_utils.export import export_model

    import paddle

    stale = tmp_path / "model.pdmodel"  # as a Paddle 2.6 export would have left
    stale.write_bytes(b"old program")
    export_model(
        paddle.nn.Sequential(
            paddle.nn.Conv2D(3, 1, 3), paddle.nn.AdaptiveAvgPool2D(1), paddle.nn.Flatten()
        ),
        tmp_path,
        image_size=16,
    )
    assert not stale.exists() or stale.read_bytes() != b"old program"


def test_command_line_predict_prints_no_paddle_log_lines(tmp_path, images):
    # Paddle's glog writes "I1201 12:00:00.0 123 pir_interpreter.cc:1606] New Executor ..." lines
    # when an exported program first runs; fundus_utils._compat silences them before Paddle loads.
    import os
    import re
    import subprocess
    import sys

    out_dir = str(export_model(tiny_model(), tmp_path / "export", image_size=SIZE))
    env = {k: v for k, v in os.environ.items() if k != "GLOG_minloglevel"}
    done = subprocess.run(
        [sys.executable, "-m", "fundus_utils", "predict", out_dir, *images["good"]],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert len(done.stdout.splitlines()) == len(images["good"])
    log_lines = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if re.match(r"[IWE]\d{4} \d\d:\d\d:\d\d", line)
    ]
    assert not log_lines, log_lines


def test_export_and_load_through_an_ascii_folder_for_a_non_ascii_path(tmp_path, monkeypatch):
    # paddle.jit.save cannot write under C:\Users\张三\ on Windows (Paddle issue 49062): the
    # package writes into an ASCII scratch folder and moves the files with Python.
    import fundus_utils.export as export

    saved_to = []
    real_save = paddle.jit.save
    monkeypatch.setattr(
        paddle.jit,
        "save",
        lambda layer, path, **kw: (saved_to.append(path), real_save(layer, path, **kw)),
    )
    out = export.export_model(
        paddle.nn.Sequential(paddle.nn.Flatten(), paddle.nn.Linear(3 * 8 * 8, 1)),
        tmp_path / "张三" / "inference",
        image_size=8,
    )
    assert saved_to[0].isascii() and not saved_to[0].startswith(str(out))
    assert (out / "model.pdiparams").is_file() and not list(
        export.Path(export.tempfile.gettempdir()).glob("fundus-export-*")
    )
    assert export.load_exported(out) is not None
