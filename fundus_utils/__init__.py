"""fundus_utils: what every notebook of the course needs, written once.

Data (finding, unpacking, labelling, caching, loading), the sample set, the
training and evaluation loop, metrics, model inspection, plots, Grad-CAM and
export. Names are imported lazily, so ``import fundus_utils`` is quick and
Paddle is loaded only when something needs it.
"""
from __future__ import annotations

from . import _compat  # noqa: F401  (first: import-order workarounds for Paddle 2.6, see _compat.py)

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "core.config": "module:core.config", "viz.plots": "module:viz.plots", "data.labels": "module:data.labels", "engine.metrics": "module:engine.metrics", "core.paths": "module:core.paths", "samples.pm": "module:samples.pm",
    "engine.results": "module:engine.results", "inspection": "module:inspection", "core.modes": "module:core.modes", "data.datasets": "module:data.datasets",
    "FundusDataError": "core.errors",
    "prepare_data": "data.prepare", "PreparedData": "data.prepare",
    "find_source": "data.source",
    "label_from_name": "data.labels", "training_labels": "data.labels", "convert_xlsx_to_csv": "data.labels",
    "read_labels_csv": "data.labels",
    "load_rgb": "data.images", "to_chw_float": "data.images", "to_display_rgb": "data.images",
    "cached_images": "data.cache",
    "FundusImages": "data.datasets", "training_set": "data.datasets", "validation_set": "data.datasets",
    "class_folder_set": "data.datasets", "train_augmentation": "data.datasets", "make_loader": "data.datasets",
    "make_loaders": "data.datasets",
    "write_sample_source": "samples.pm", "render_sample_image": "samples.pm",
    "samples.grades": "module:samples.grades", "write_graded_sample": "samples.grades",
    "fit": "engine.loop", "evaluate": "engine.loop", "History": "engine.loop", "TrainingDiverged": "engine.loop",
    "set_seed": "engine.runtime", "pick_device": "engine.runtime",
    "binary_metrics": "engine.metrics", "multiclass_metrics": "engine.metrics",
    "shape_walk": "inspection", "count_params": "inspection", "count_flops": "inspection", "activation_memory": "inspection",
    "print_shape_walk": "inspection", "format_shape_walk": "inspection",
    "grad_cam": "viz.gradcam",
    "export_model": "export", "predict": "export", "load_exported": "export",
    "core.progress": "core.progress",
    "run_dir": "engine.results", "load_results": "engine.results", "load_histories": "engine.results",
    "reference_images": "engine.results", "save_gradcam_maps": "engine.results", "load_gradcam_maps": "engine.results",
    "run_mode": "core.modes", "run_settings": "core.modes", "RunSettings": "core.modes",
    "gpu_available": "engine.runtime",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'fundus_utils' has no attribute {name!r}")
    target = _EXPORTS[name]
    module = importlib.import_module(f".{target.removeprefix('module:')}", __name__)
    value = module if target.startswith("module:") else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
