"""clean_runs and `python -m fundus_utils clean`: large run files go, results stay."""

from __future__ import annotations

from fundus_utils.__main__ import main
from fundus_utils.core.cleanup import clean_runs


def _runs(root):
    for name, model_bytes in (("vgg16", 3000), ("lenet", 200)):
        run = root / name
        (run / "inference").mkdir(parents=True)
        (run / "inference" / "model.pdiparams").write_bytes(b"x" * model_bytes)
        (run / "results.json").write_text("{}", encoding="utf-8")
        (run / "gradcam.npz").write_bytes(b"maps")
    (root / "vgg16" / "ckpt").mkdir()
    (root / "vgg16" / "ckpt" / "last.pdckpt").write_bytes(b"c" * 500)
    return root


def test_dry_run_lists_sizes_and_removes_nothing(tmp_path):
    root = _runs(tmp_path / "runs")
    listed = clean_runs(root, dry_run=True)
    assert [(p.relative_to(root).as_posix(), n) for p, n in listed] == [
        ("lenet/inference", 200),
        ("vgg16/ckpt/last.pdckpt", 500),
        ("vgg16/inference", 3000),
    ]
    assert all(p.exists() for p, _ in listed)


def test_clean_removes_models_and_checkpoints_and_keeps_results(tmp_path):
    root = _runs(tmp_path / "runs")
    clean_runs(root)
    left = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert left == [
        "lenet/gradcam.npz",
        "lenet/results.json",
        "vgg16/gradcam.npz",
        "vgg16/results.json",
    ]
    assert clean_runs(root) == []


def test_command_line_clean(tmp_path, monkeypatch, capsys):
    root = _runs(tmp_path / "runs")
    monkeypatch.setenv("FUNDUS_RUNS", str(root))
    assert main(["clean", "--dry-run"]) == 0
    assert "would free 0.0 MB in 3 item(s)" in capsys.readouterr().out
    assert (root / "vgg16" / "inference").exists()
    assert main(["clean"]) == 0
    assert "freed 0.0 MB in 3 item(s)" in capsys.readouterr().out
    assert not (root / "vgg16" / "inference").exists()
