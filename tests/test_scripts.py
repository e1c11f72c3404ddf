"""The maintainer scripts: the clean-notebook check, and setup.sh's choice of Paddle wheel.

The rest of the set-up (scripts/setup.py, which setup.sh runs) is tested in test_setup.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import clean_notebooks  # noqa: E402


def _dirty_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {"state": {}}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# title"),
        nbformat.v4.new_code_cell("print(1)"),
        nbformat.v4.new_code_cell("print(2)"),
    ]
    nb.cells[1].execution_count, nb.cells[2].execution_count = 7, 3
    nb.cells[1].outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="bar 10%"),
        nbformat.v4.new_output("stream", name="stdout", text="1\n"),
    ]
    nb.cells[1].metadata["collapsed"] = True
    nbformat.write(nb, path)
    return path


def test_check_names_a_dirty_notebook_and_clean_fixes_it(tmp_path, capsys):
    path = _dirty_notebook(tmp_path / "dirty.ipynb")
    clean_notebooks.REPO = tmp_path  # report paths relative to tmp_path
    assert clean_notebooks.main(["--check", str(path)]) == 1
    assert "not clean: dirty.ipynb" in capsys.readouterr().out
    assert clean_notebooks.main([str(path)]) == 0
    assert clean_notebooks.main(["--check", str(path)]) == 0
    cleaned = json.loads(path.read_text(encoding="utf-8"))
    assert "widgets" not in cleaned["metadata"]
    assert [c.get("execution_count") for c in cleaned["cells"]] == [None, 1, 2]
    assert [o["name"] for o in cleaned["cells"][1]["outputs"]] == ["stdout"]
    assert cleaned["cells"][1]["metadata"] == {}


def test_committed_notebooks_are_clean():
    assert clean_notebooks.main(["--check"]) == 0


def _dry_run(tmp_path: Path, cuda: str | None) -> str:
    """setup.sh's dry run (which creates no venv), with a stand-in nvidia-smi reporting ``cuda``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if cuda is not None:
        smi = bin_dir / "nvidia-smi"
        smi.write_text(
            "#!/bin/sh\n"
            f"echo '| NVIDIA-SMI 550.54  Driver Version: 550.54  CUDA Version: {cuda} |'\n",
            encoding="utf-8",
        )
        smi.chmod(0o755)
    path = os.pathsep.join(
        [str(bin_dir)]
        + [p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "nvidia-smi").exists()]
    )
    env = {
        **os.environ,
        "PATH": path,
        "FUNDUS_VENV": str(tmp_path / "venv"),
        "FUNDUS_SETUP_DRY_RUN": "1",
        "PYTHON": shutil.which("python3") or sys.executable,
    }
    env.pop("FUNDUS_PADDLE", None)
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "setup.sh")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert not (tmp_path / "venv").exists()
    return done.stdout


@pytest.mark.parametrize(
    "cuda, index", [("11.8", "cu118"), ("12.4", "cu118"), ("12.6", "cu126"), ("13.0", "cu126")]
)
def test_setup_picks_the_gpu_wheel_when_nvidia_smi_sees_a_gpu(tmp_path, cuda, index):
    out = _dry_run(tmp_path, cuda)
    if "using the installed Paddle" in out:
        pytest.skip("python3 itself has Paddle: setup.sh builds on it and installs none")
    assert "installing paddlepaddle-gpu" in out and f"CUDA {cuda}" in out
    assert f"/packages/stable/{index}/" in out
    assert "dry run, nothing installed" in out


def test_setup_picks_the_cpu_wheel_without_a_gpu(tmp_path):
    out = _dry_run(tmp_path, None)
    if "using the installed Paddle" in out:
        pytest.skip("python3 itself has Paddle: setup.sh builds on it and installs none")
    assert "installing paddlepaddle: no GPU" in out
