"""fit under ``python -m paddle.distributed.launch --nproc_per_node 2`` on CPU (gloo)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HELPER = Path(__file__).resolve().parents[1] / "fit_helpers.py"  # tests/fit_helpers.py
TIMING = ("seconds", "images_per_s")


def _launch_two_ranks(out: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    command = [
        sys.executable,
        "-m",
        "paddle.distributed.launch",
        "--nproc_per_node",
        "2",
        "--log_dir",
        str(out / "logs"),
        str(HELPER),
        str(out),
    ]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def _logs(out: Path) -> str:
    return "\n".join(
        f"--- {p.name}\n{p.read_text(encoding='utf-8', errors='replace')[-3000:]}"
        for p in sorted((out / "logs").glob("workerlog.*"))
    )


def test_two_process_data_parallel_run(tmp_path):
    out = tmp_path / "dist"
    out.mkdir()
    finished = _launch_two_ranks(out)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:] + _logs(out)

    # Both ranks end with identical weights.
    rank0, rank1 = np.load(out / "weights_rank0.npz"), np.load(out / "weights_rank1.npz")
    assert sorted(rank0.files) == sorted(rank1.files) and rank0.files
    for name in rank0.files:
        np.testing.assert_array_equal(rank0[name], rank1[name], err_msg=name)

    # Only rank 0 wrote results and checkpoints.
    assert (out / "results_rank0.json").is_file() and not (out / "results_rank1.json").exists()
    assert (out / "ckpt_rank0" / "last.pdckpt").is_file() and not (out / "ckpt_rank1").exists()
    results = json.loads((out / "results_rank0.json").read_text(encoding="utf-8"))
    assert results["world_size"] == 2 and results["epochs"] == 3

    # Only rank 0 printed the per-epoch summary.
    log0, log1 = (
        (out / "logs" / f"workerlog.{r}").read_text(encoding="utf-8", errors="replace")
        for r in (0, 1)
    )
    assert log0.count("train loss") == 3 and "train loss" not in log1

    # Evaluation gathered the whole validation set (37 samples: unequal shards of 19 and 18)
    # in dataset order, identical on both ranks and equal to a direct forward pass.
    eval0, eval1 = np.load(out / "eval_rank0.npz"), np.load(out / "eval_rank1.npz")
    np.testing.assert_array_equal(eval0["labels"], eval0["dataset_labels"])
    np.testing.assert_array_equal(eval0["probs"], eval1["probs"])
    np.testing.assert_allclose(eval0["probs"], eval0["direct"], rtol=1e-5, atol=1e-6)

    # Training metrics were summed over both ranks, so the histories agree.
    history0, history1 = (
        json.loads((out / f"history_rank{r}.json").read_text(encoding="utf-8")) for r in (0, 1)
    )
    for name in history0:
        if name not in TIMING:
            assert history0[name] == history1[name], name
