"""Build an architecture notebook's network from the notebook's own cells.

The course writes each network out in its notebook, never in the package. Two tools need those
networks outside the notebook: the full-mode rehearsal on the CPU (benchmarks/full_rehearsal.py)
and the GPU step measurement of ``python -m fundus_utils check``. They execute the cells that
define the network (listed by cell id in ``ARCHITECTURE_CELLS``), so what they train is what
the notebook teaches; a cell id that disappears is an error, not a silent stand-in.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

__all__: list[str] = []  # internal: used by the check command and the benchmarks

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
# notebook -> the cells (by id) that define its networks, executed in this order
ARCHITECTURE_CELLS = {
    "01_lenet": ["b3fc477d", "e9d0bee4"],
    "02_alexnet": ["74766cb4", "4fda8710"],
    "03_vgg": ["195a90a1", "d8adf1f2"],
    "04_googlenet": ["1c524b33", "fd3a78f9", "2a4f823f", "8ea2cf47"],
    "05_resnet": ["3eb5fff6", "1fc11379"],
    "06_convmixer": ["626784ec"],
}
# arch (fu.run_settings' key) -> (notebook, expression that builds its full-mode network)
FULL_NETWORKS = {
    "lenet": ("01_lenet", "LeNetRepaired()"),
    "alexnet": ("02_alexnet", "AlexNet()"),
    "vgg16": ("03_vgg", "VGG()"),
    "googlenet": ("04_googlenet", "GoogLeNet()"),
    "resnet18": ("05_resnet", "resnet(BasicBlock, RESNET18_LAYERS)"),
    "resnet50": ("05_resnet", "resnet(Bottleneck, RESNET50_LAYERS)"),
    "convmixer": ("06_convmixer", "ConvMixer()"),
}


def notebook_namespace(notebook: str, image_size: int = 224, folder: Path = NOTEBOOKS) -> dict:
    """Execute ``notebook``'s architecture cells and return the names they define."""
    import fundus_utils as fu

    import numpy as np
    import paddle
    import paddle.nn as nn
    import paddle.nn.functional as F

    path = folder / f"{notebook}.ipynb"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: expected the course notebook; found no such file")
    cells = {c.get("id"): c for c in json.loads(path.read_text(encoding="utf-8"))["cells"]}
    namespace = {"fu": fu, "np": np, "paddle": paddle, "nn": nn, "F": F, "SEED": 0}
    namespace["IMAGE_SIZE"] = image_size
    for cell_id in ARCHITECTURE_CELLS[notebook]:
        if cell_id not in cells:
            raise KeyError(f"{path}: expected a cell with id {cell_id!r}; found none")
        with contextlib.redirect_stdout(io.StringIO()):  # the cells' own printouts
            exec(compile("".join(cells[cell_id]["source"]), f"{path}#{cell_id}", "exec"), namespace)
    return namespace


def build_network(notebook: str, expression: str, image_size: int = 224):
    """``expression`` (e.g. ``"VGG()"``) evaluated among ``notebook``'s architecture cells."""
    return eval(expression, notebook_namespace(notebook, image_size))  # noqa: S307 - ours
