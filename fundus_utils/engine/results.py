"""What training runs leave behind, gathered for comparison: results JSONs, histories, Grad-CAM maps.

Each architecture notebook trains with ``fit(..., run_name=ARCH)``, which writes
``runs_dir()/ARCH/results.json``; it also stores Grad-CAM maps of the same reference
images (:func:`save_gradcam_maps`). The comparison notebook and the course command read
them back here, so no number is ever retyped.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.config import RESULTS_NAME
from ..core.paths import runs_dir

GRADCAM_NAME = "gradcam.npz"
TABLE_COLUMNS = {                    # results JSON key -> table column
    "architecture": "arch", "parameters": "params", "flops": "flops", "image_size": "image_size",
    "epochs": "epochs", "seconds_per_epoch": "seconds_per_epoch", "best_epoch": "best_epoch",
    "best_valid_acc": "best_valid_acc", "best_valid_auc": "best_valid_auc",
    "final_valid_acc": "final_valid_acc", "final_valid_auc": "final_valid_auc",
    "data_kind": "data_kind", "device": "device",
}


def run_dir(run_name: str, root: str | Path | None = None) -> Path:
    """The folder of one run: ``runs_dir()/run_name`` (created)."""
    folder = Path(root or runs_dir()) / run_name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def read_results(root: str | Path | None = None) -> list[dict]:
    """Every run's results JSON below ``root`` (default :func:`runs_dir`), sorted by folder name."""
    root = Path(root or runs_dir())
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(root.glob(f"*/{RESULTS_NAME}"))]


def load_results(root: str | Path | None = None) -> pd.DataFrame:
    """One row per run: parameters, FLOPs, seconds/epoch, best/final validation metrics, data kind, device."""
    rows = []
    for result in read_results(root):
        row = {column: result.get(key) for key, column in TABLE_COLUMNS.items()}
        best = result.get("best") or {}
        row["best_valid_sensitivity"] = best.get("valid_sensitivity")
        row["best_valid_specificity"] = best.get("valid_specificity")
        row["classes"] = len((result.get("final_metrics") or {}).get("confusion") or []) or None
        row["processes"] = result.get("world_size")
        row["flops_image_size"] = (result.get("flops_input_shape") or [None])[-1]
        rows.append(row)
    columns = list(TABLE_COLUMNS.values()) + ["best_valid_sensitivity", "best_valid_specificity", "classes",
                                              "processes", "flops_image_size"]
    return pd.DataFrame(rows, columns=columns)


def load_histories(root: str | Path | None = None) -> dict[str, dict]:
    """``{architecture: history dict}`` of every run, for plotting curves side by side."""
    return {r["architecture"]: r["history"] for r in read_results(root) if r.get("history")}


def reference_images(dataset, per_class: int = 1) -> tuple[list[np.ndarray], list[str], list[int]]:
    """The first ``per_class`` images of each class of a (validation) dataset, in a fixed order.

    Every notebook explains the same images, so their Grad-CAM maps can be compared.
    """
    chosen = [i for c in sorted(set(dataset.labels.tolist()), reverse=True)
              for i in np.flatnonzero(dataset.labels == c)[:per_class]]
    return ([dataset[i][0] for i in chosen], [dataset.names[i] for i in chosen],
            [int(dataset.labels[i]) for i in chosen])


def save_gradcam_maps(model, layer, dataset, run_name: str, root: str | Path | None = None) -> Path:
    """Grad-CAM maps of ``model`` (at ``layer``) on the reference images, stored with the run."""
    from ..viz.gradcam import grad_cam
    images, names, labels = reference_images(dataset)
    maps = np.stack([grad_cam(model, image, layer) for image in images])
    path = run_dir(run_name, root) / GRADCAM_NAME
    np.savez_compressed(path, maps=maps, images=np.stack(images), names=np.array(names), labels=np.array(labels))
    return path


def load_gradcam_maps(root: str | Path | None = None) -> dict[str, dict]:
    """``{run name: {"maps", "images", "names", "labels"}}`` of every run that stored Grad-CAM maps."""
    root = Path(root or runs_dir())
    out = {}
    for path in sorted(root.glob(f"*/{GRADCAM_NAME}")):
        with np.load(path) as data:
            out[path.parent.name] = {k: data[k] for k in data.files}
    return out
