"""Export a trained model for inference, load it back, and predict on image files.

``export_model`` writes, into one folder, Paddle's inference model (``model.*``,
via ``paddle.jit.save``: ``model.pdmodel`` + ``model.pdiparams`` on Paddle 2.6,
``model.json`` + ``model.pdiparams`` on 3.x) and ``fundus_model.json`` with the
image size and class names. ``predict`` preprocesses exactly like training
(:func:`fundus_utils.data.images.load_rgb` then :func:`~fundus_utils.data.images.to_chw_float`).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import paddle
from paddle import nn
from paddle.static import InputSpec

from .core.config import CLASS_NAMES, IMAGE_SIZE
from .core.errors import FundusDataError
from .data.images import load_rgb, to_chw_float
from .inspection import eval_mode, main_output

__all__ = ["export_model", "load_exported", "predict"]

MODEL_PREFIX = "model"  # paddle.jit.save path prefix inside the folder
PARAMS_SUFFIX = ".pdiparams"  # written by paddle.jit.save on every version
PIR_PROGRAM_SUFFIX = ".json"  # program written by Paddle 3.x (PIR)
LEGACY_PROGRAM_SUFFIX = ".pdmodel"  # program written by Paddle 2.x, or 3.x with PIR off
PIR_FLAG = "FLAGS_enable_pir_api"
INFO_FILE = "fundus_model.json"
INPUT_NAME = "image"
PM_CLASS_NAME = CLASS_NAMES[1]
PROBABILITY_DIGITS = 3  # digits printed by predict_cli


def _ascii_scratch() -> Path | None:
    """A new temporary folder whose absolute path is ASCII, or None when there is none."""
    candidates = [tempfile.gettempdir(), os.environ.get("SystemDrive", "") + os.sep, os.getcwd()]
    for base in candidates:
        if base and base.isascii() and os.path.isdir(base) and os.access(base, os.W_OK):
            return Path(tempfile.mkdtemp(prefix="fundus-export-", dir=base))
    return None


@contextmanager
def _ascii_folder(folder: Path, *, save: bool) -> Iterator[Path]:
    """``folder`` itself when its path is ASCII, else an ASCII scratch folder standing in for it.

    paddle.jit.save and paddle.jit.load hand the absolute path to C++ code that cannot open a
    path with non-ASCII characters on Windows (Paddle issue 49062, e.g. under C:\\Users\\张三):
    it writes nothing, or somewhere else. So the model is written to (``save``) or read from an
    ASCII folder, and Python, which handles any path, moves or copies the files. The course's
    CI runs 01 from a path with Chinese characters under a GBK locale to check this.
    """
    folder = folder.resolve()
    if str(folder).isascii():
        yield folder
        return
    scratch = _ascii_scratch()
    if scratch is None:
        raise FundusDataError(
            f"{folder}: expected a folder Paddle can write its model to, found a path with "
            "non-ASCII characters and no ASCII temporary folder to use instead: set "
            "FUNDUS_WORKDIR (or TMP) to a folder like C:\\fundus_work and run the cell again"
        )
    try:
        if not save:
            for file in folder.glob(f"{MODEL_PREFIX}.*"):
                shutil.copy2(file, scratch / file.name)
        yield scratch
        if save:
            for file in scratch.glob(f"{MODEL_PREFIX}.*"):
                shutil.move(str(file), str(folder / file.name))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def export_model(
    model: nn.Layer,
    out_dir: str | Path,
    image_size: int = IMAGE_SIZE,
    class_names: Sequence[str] = CLASS_NAMES,
) -> Path:
    """Save ``model`` as an inference model in ``out_dir`` and return that folder.

    Taught in 01_lenet, §6.7, and 07_compare, §4.

    The input is declared as ``[None, 3, image_size, image_size]`` float32 (any
    batch size). The model is traced in eval mode (BatchNorm statistics and
    Dropout frozen); its train/eval flags are restored afterwards.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in [*out_dir.glob(f"{MODEL_PREFIX}.*"), out_dir / INFO_FILE]:
        old.unlink(missing_ok=True)  # Paddle 2.6 and 3.x write different files: never leave a mix
    spec = InputSpec([None, 3, image_size, image_size], "float32", name=INPUT_NAME)
    with eval_mode(model), _ascii_folder(out_dir, save=True) as folder:
        paddle.jit.save(model, str(folder / MODEL_PREFIX), input_spec=[spec])
    info = {
        "image_size": int(image_size),
        "class_names": list(class_names),
        "input": [None, 3, int(image_size), int(image_size)],
        "preprocessing": "fundus_utils.data.images.load_rgb + to_chw_float",
        "paddle_version": paddle.__version__,
    }
    (out_dir / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return out_dir


def export_info(model_dir: str | Path) -> dict:
    """The ``fundus_model.json`` written beside an exported model."""
    path = Path(model_dir) / INFO_FILE
    if not path.is_file():
        raise FundusDataError(
            f"{model_dir}: expected an exported model folder with {INFO_FILE}, "
            "found none (export it with fundus_utils.export.export_model)"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def _pir_enabled() -> bool:
    """Paddle 3.x saves and loads programs as PIR JSON unless FLAGS_enable_pir_api=0."""
    try:
        return bool(paddle.get_flags([PIR_FLAG])[PIR_FLAG])
    except (ValueError, KeyError):
        return False


def _check_program_format(model_dir: Path) -> None:
    """Refuse, with the way out, a program this Paddle cannot read (2.6 vs 3.x formats)."""
    readable, other = (
        (PIR_PROGRAM_SUFFIX, LEGACY_PROGRAM_SUFFIX)
        if _pir_enabled()
        else (LEGACY_PROGRAM_SUFFIX, PIR_PROGRAM_SUFFIX)
    )
    if (model_dir / (MODEL_PREFIX + readable)).is_file():
        return
    if not (model_dir / (MODEL_PREFIX + other)).is_file():
        raise FundusDataError(
            f"{model_dir}: expected an exported model ({MODEL_PREFIX}{readable} "
            f"and {MODEL_PREFIX}{PARAMS_SUFFIX}), found none"
        )
    if readable == PIR_PROGRAM_SUFFIX:
        raise FundusDataError(
            f"{model_dir}: expected a Paddle 3 program ({MODEL_PREFIX}{readable}), found a "
            f"Paddle 2.x one ({MODEL_PREFIX}{other}); load it with the environment "
            f"variable {PIR_FLAG}=0 set before Python starts, or re-export the model"
        )
    raise FundusDataError(
        f"{model_dir}: expected a Paddle 2.x program ({MODEL_PREFIX}{readable}), found a "
        f"Paddle 3 one ({MODEL_PREFIX}{other}) that Paddle {paddle.__version__} cannot "
        "read; re-export the model with this Paddle version"
    )


def load_exported(model_dir: str | Path) -> nn.Layer:
    """Load an exported model (``paddle.jit.load``), in eval mode.

    Not used in the notebooks; used by fu.predict.

    Paddle 3.x writes its program as ``model.json`` (PIR), 2.6 as ``model.pdmodel``;
    neither version reads the other's by default, and the error says what to do.
    """
    model_dir = Path(model_dir)
    if not (model_dir / (MODEL_PREFIX + PARAMS_SUFFIX)).is_file():
        raise FundusDataError(
            f"{model_dir}: expected an exported model ({MODEL_PREFIX}{PARAMS_SUFFIX} "
            "and its program), found none"
        )
    _check_program_format(model_dir)
    with _ascii_folder(model_dir, save=False) as folder:
        model = paddle.jit.load(str(folder / MODEL_PREFIX))
    model.eval()
    return model


def _probabilities(logits: paddle.Tensor) -> np.ndarray:
    """Sigmoid of a single logit (probability of PM), softmax over K logits."""
    values = logits.numpy().reshape(-1).astype(np.float64)
    if values.size == 1:
        return np.array([1.0 / (1.0 + np.exp(-values[0]))])
    shifted = np.exp(values - values.max())
    return shifted / shifted.sum()


def _prediction(path: str, probabilities: np.ndarray, class_names: Sequence[str]) -> dict[str, Any]:
    if probabilities.size == 1:
        return {"path": path, "pm_probability": float(probabilities[0])}
    names = (
        list(class_names)
        if len(class_names) == probabilities.size
        else [str(index) for index in range(probabilities.size)]
    )
    result: dict[str, Any] = {
        "path": path,
        "probabilities": dict(zip(names, map(float, probabilities))),
        "predicted_class": names[int(probabilities.argmax())],
    }
    if PM_CLASS_NAME in names:
        result["pm_probability"] = result["probabilities"][PM_CLASS_NAME]
    return result


def _predict_one(
    model: nn.Layer, path: str, image_size: int, class_names: Sequence[str]
) -> dict[str, Any]:
    try:
        image = to_chw_float(load_rgb(path, image_size))
    except FundusDataError as error:
        return {"path": path, "error": str(error)}
    except OSError as error:  # e.g. permission denied
        return {"path": path, "error": f"{path}: cannot read the file ({error.strerror or error})"}
    with paddle.no_grad():
        logits = main_output(model(paddle.to_tensor(image[None])))
    return _prediction(path, _probabilities(logits), class_names)


def predict(
    model_dir_or_layer: str | Path | nn.Layer,
    image_paths: Sequence[str | Path],
    image_size: int | None = None,
    class_names: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Predict each image file; one dict per path, in order.

    Taught in 01_lenet, §6.7, and 07_compare, §4.

    ``{"path", "pm_probability"}`` for a 1-logit binary model (sigmoid of the
    logit); for K logits ``{"path", "probabilities", "predicted_class"}`` (softmax)
    plus ``pm_probability`` when a class is named "PM"; ``{"path", "error"}`` for a
    missing or unreadable image, while the other images still get predictions.
    ``model_dir_or_layer`` is an :func:`export_model` folder (image size and class
    names come from its JSON unless given) or an in-memory ``nn.Layer`` (default
    size ``config.IMAGE_SIZE``, run in eval mode and restored afterwards).
    """
    if isinstance(model_dir_or_layer, nn.Layer):
        model, info = model_dir_or_layer, {}
    else:
        model, info = load_exported(model_dir_or_layer), export_info(model_dir_or_layer)
    size = int(image_size or info.get("image_size", IMAGE_SIZE))
    names = list(class_names or info.get("class_names", CLASS_NAMES))
    with eval_mode(model):
        return [_predict_one(model, str(path), size, names) for path in image_paths]


def format_prediction(result: dict[str, Any]) -> str:
    """One CLI line: ``path<TAB>PM probability 0.873`` or ``path<TAB>error: ...``."""
    if "error" in result:
        return f"{result['path']}\terror: {result['error']}"
    if "pm_probability" in result:
        return f"{result['path']}\tPM probability {result['pm_probability']:.{PROBABILITY_DIGITS}f}"
    best = result["predicted_class"]
    return (
        f"{result['path']}\tpredicted {best} "
        f"(probability {result['probabilities'][best]:.{PROBABILITY_DIGITS}f})"
    )


def predict_cli(model_dir: str, images: list[str]) -> int:
    """``python -m fundus_utils predict MODEL_DIR IMAGE...``: print one line per image.

    Returns the exit code: 0 when every image got a prediction, 1 otherwise
    (including a missing model folder, reported as ``error: ...`` on stderr).
    """
    try:
        results = predict(model_dir, images)
    except FundusDataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for result in results:
        print(format_prediction(result))
    return 0 if all("error" not in result for result in results) else 1
