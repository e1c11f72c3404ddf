"""Each run's results file: written by :func:`fit`, read back for comparison. Taught in 07_compare.

Each architecture notebook trains with ``fit(..., run_name=ARCH)``, which writes
``runs_dir()/ARCH/results.json``. The comparison notebook and the course command read
them back here, so no number is ever retyped.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import paddle
import pandas as pd

from .. import inspection
from ..core.atomic import write_file
from ..core.config import RESULTS_NAME
from ..core.paths import runs_dir
from . import runtime
from .distributed import batch_size_of
from .epoch import Run
from .history import History

__all__ = ["run_dir", "read_results", "load_results", "load_histories"]

TABLE_COLUMNS = {  # results JSON key -> table column; the final epoch's numbers, never a "best"
    "architecture": "arch",
    "model": "model",
    "parameters": "params",
    "flops": "flops",
    "image_size": "image_size",
    "epochs": "epochs",
    "seconds_per_epoch": "seconds_per_epoch",
    "final_valid_acc": "final_valid_acc",
    "final_valid_auc": "final_valid_auc",
    "data_kind": "data_kind",
    "device": "device",
}


def run_dir(run_name: str, root: str | Path | None = None) -> Path:
    """The folder of one run: ``runs_dir()/run_name`` (created). Taught in 01_lenet, §6.7."""
    folder = Path(root or runs_dir()) / run_name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def read_results(root: str | Path | None = None) -> list[dict]:
    """Every run's results JSON below ``root`` (default :func:`runs_dir`), sorted by folder name.

    Taught in 07_compare, §1.
    """
    root = Path(root or runs_dir())
    return [
        json.loads(p.read_text(encoding="utf-8")) for p in sorted(root.glob(f"*/{RESULTS_NAME}"))
    ]


def _predicted_positive_share(confusion) -> float | None:
    """Share of images predicted as class 1 in a 2 x 2 confusion matrix (rows: true labels)."""
    if not confusion or len(confusion) != 2:
        return None
    matrix = np.asarray(confusion, dtype=float)
    return float(matrix[:, 1].sum() / matrix.sum()) if matrix.sum() else None


def load_results(root: str | Path | None = None) -> pd.DataFrame:
    """One row per run: parameters, FLOPs, seconds/epoch, the final epoch's validation metrics
    (those of the model the run leaves behind and exports; no epoch is picked on validation),
    data kind, device.

    Taught in 07_compare, §1.
    """
    rows = []
    for result in read_results(root):
        row = {column: result.get(key) for key, column in TABLE_COLUMNS.items()}
        row["model"] = row["model"] or row["arch"]  # results written before the column existed
        final = result.get("final_metrics") or {}
        row["final_valid_sensitivity"] = final.get("sensitivity")
        row["final_valid_specificity"] = final.get("specificity")
        row["predicted_pm_share"] = _predicted_positive_share(final.get("confusion"))
        row["classes"] = len(final.get("confusion") or []) or None
        row["processes"] = result.get("world_size")
        row["flops_image_size"] = (result.get("flops_input_shape") or [None])[-1]
        rows.append(row)
    columns = list(TABLE_COLUMNS.values()) + [
        "final_valid_sensitivity",
        "final_valid_specificity",
        "predicted_pm_share",
        "classes",
        "processes",
        "flops_image_size",
    ]
    return pd.DataFrame(rows, columns=columns)


def load_histories(root: str | Path | None = None) -> dict[str, dict]:
    """``{architecture: history dict}`` of every run, for plotting curves side by side.

    Not used in the notebooks; ``fu.plot_histories`` draws what it returns (07_compare reads
    the runs through :func:`load_results`).
    """
    return {r["architecture"]: r["history"] for r in read_results(root) if r.get("history")}


def results_file(results_path, run_name) -> Path | None:
    if results_path is not None:
        return Path(results_path)
    if run_name is not None:
        return runs_dir() / run_name / RESULTS_NAME
    return None


def _model_size(net: paddle.nn.Layer, input_shape) -> tuple[int, int | None]:
    """(parameter count, FLOPs or None): a results file records both."""
    params = inspection.count_params(net)
    try:
        flops = inspection.count_flops(net, tuple(input_shape))
    except Exception as error:  # noqa: BLE001 - a FLOPs count must not cost a finished training run
        print(f"Note: FLOPs not counted ({type(error).__name__}: {error}).")
        flops = None
    return int(params), (None if flops is None else int(flops))


def _json_safe(value):
    """NaN/inf -> None, NumPy scalars/arrays -> Python, recursively (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def write_results(
    path: Path,
    *,
    net,
    run: Run,
    history: History,
    run_name,
    device: str,
    train_loader,
    input_shape,
    final_metrics: dict | None,
    model_name: str | None = None,
) -> None:
    params, flops = _model_size(net, input_shape)
    image_shape = run.image_shape or list(input_shape[1:])
    results = {
        "architecture": run_name or type(net).__name__,
        "model": model_name or run_name or type(net).__name__,
        "model_class": type(net).__name__,
        "parameters": params,
        "flops": flops,
        "flops_input_shape": list(input_shape),
        "epochs": history.epochs,
        "seconds_per_epoch": float(np.mean(history.seconds)) if history.epochs else None,
        "monitor": history.monitor,
        "best_epoch": history.best_epoch,
        "best_valid_acc": (history.best or {}).get("valid_acc"),
        "best_valid_auc": (history.best or {}).get("valid_auc"),
        "final_valid_acc": (history.last or {}).get("valid_acc"),
        "final_valid_auc": (history.last or {}).get("valid_auc"),
        "best": history.best,
        "final": history.last,
        "final_metrics": {
            k: v for k, v in (final_metrics or {}).items() if k not in ("probs", "labels")
        },
        "device": runtime.device_description(device),
        "amp": run.amp,
        "optimizer": type(run.optimizer).__name__,
        "world_size": runtime.world_size(),
        "paddle_version": paddle.__version__,
        "data_kind": getattr(getattr(train_loader, "dataset", None), "source_kind", "unknown"),
        "image_size": image_shape[-1] if image_shape[-1] == image_shape[-2] else image_shape[-2:],
        "batch_size": batch_size_of(train_loader),
        "history": history.to_dict(),
        "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    text = json.dumps(_json_safe(results), indent=2, allow_nan=False)
    write_file(path, lambda temporary: Path(temporary).write_text(text + "\n", encoding="utf-8"))
