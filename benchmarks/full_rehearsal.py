"""Full-mode rehearsal on the CPU: every architecture notebook's full-mode model, trained here.

Full mode (224 px, the real architectures, a GPU) is how most learners run the course, and no
GPU is available to us. This script trains what full mode trains, on the CPU:

* the real architecture, built by the notebook's own code: the cells listed in
  ``fundus_utils.notebook_code.ARCHITECTURE_CELLS`` (by cell id) are executed from the
  notebook, so a change to a notebook's network is rehearsed;
* the full recipe of ``fundus_utils.run_settings(arch, "full")``: optimizer, learning rate, batch
  size, augmentation, image size; float32 (AMP needs a GPU); the notebook's BN recalibration,
  learning-rate schedule and auxiliary-head weights as its main ``fit`` call uses them;
* on the full-resolution 400/400 sample (2124 x 2056, generated once; the real data if found);
* two processes at a time (Paddle's CPU kernels use one core per process).

Where a recipe's epoch count does not fit in the time budget, the rehearsal trains its first
``REHEARSED_EPOCHS`` epochs: that number is fixed in this file before the run, from measured
step costs, never chosen from results, and the CSV says so (``epochs_recipe`` beside
``epochs_rehearsed``). A learning-rate schedule keeps the recipe's length (T_max = the recipe's
epochs): the rehearsal shows the recipe's first epochs, not a compressed recipe.

Writes ``benchmarks/results/full_rehearsal.csv`` (one row per run) and ``full_rehearsal.json``
(the same rows with each run's per-epoch history). ``seconds_per_epoch`` is the wall time of
training, BN recalibration and validation divided by the rehearsed epochs, with two runs
sharing the machine; ``peak_rss_mib`` the peak resident memory of the run's process.

    python benchmarks/full_rehearsal.py              # the rehearsal (about 2 hours, 2 cores)
    python benchmarks/full_rehearsal.py --plan       # measured step costs and the time plan
    python benchmarks/full_rehearsal.py --smoke      # a few seconds per run: tiny sizes, 1 step
    python benchmarks/full_rehearsal.py --only alexnet,vgg16 --out /tmp/r
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import fundus_utils as fu  # noqa: E402  (before paddle: see fundus_utils/_compat.py)
from fundus_utils.notebook_code import notebook_namespace  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
COLUMNS = (
    "notebook",
    "run",
    "model",
    "image_size",
    "optimizer",
    "learning_rate",
    "batch_size",
    "augment",
    "epochs_recipe",
    "epochs_rehearsed",
    "valid_accuracy",
    "valid_auc",
    "called_pm",
    "seconds_per_epoch",
    "peak_rss_mib",
    "data",
)


@dataclass(frozen=True)
class Rehearsal:
    run: str
    notebook: str
    arch: str  # the key of fu.run_settings
    build: str  # expression evaluated in the notebook's namespace
    epochs: int  # REHEARSED epochs: fixed before the run from measured step costs
    recalibrate_bn: bool = False  # as the notebook's main fit call
    cosine: bool = False  # the notebook's main fit call uses a cosine schedule
    validate_each_epoch: bool = True  # False: validate after the last epoch only (VGG-16: time)
    model: str | None = None  # name in the table (default: the settings' model name)
    momentum: float | None = None  # a candidate recipe: Momentum instead of the recipe's Adam

    def settings(self):
        settings = fu.run_settings(self.arch, "full")
        if self.momentum is None:
            return settings
        return dataclasses.replace(settings, momentum=self.momentum)


# Rehearsed epochs, fixed before the run from the step costs measured on 2026-12-07 (``--plan``:
# s per training image at the full batch and 224 px, one core each, with other work running:
# VGG-16 3.79, ResNet-50 1.00, ConvMixer-256/8 0.65, ResNet-18 0.42, GoogLeNet 0.35, AlexNet
# 0.29, LeNet-5 0.06, repaired LeNet 0.04): two queues of about 105 minutes on the 2-core
# machine. ``alexnet_momentum`` is a candidate: the published AlexNet recipe with Momentum 0.9
# (the published recipe of the other networks) instead of Adam, in case Adam at 1e-3 collapses
# on the sample as a 3-epoch probe with batch 16 and augmentation did. The repaired LeNet was
# first given 6 of its 20 epochs; its epochs turned out to cost 25 s, so it was rehearsed again
# with all 20 (the recipe's own number) in a run of its own (``--only lenet``).
REHEARSALS = (
    Rehearsal("vgg16", "03_vgg", "vgg16", "VGG()", 3, validate_each_epoch=False),
    Rehearsal(
        "lenet_original",
        "01_lenet",
        "lenet",
        "LeNet5(image_size=IMAGE_SIZE)",
        3,
        model="LeNet-5 (original)",
    ),
    Rehearsal("lenet", "01_lenet", "lenet", "LeNetRepaired()", 20, recalibrate_bn=True),
    Rehearsal("alexnet", "02_alexnet", "alexnet", "AlexNet()", 5, recalibrate_bn=True),
    Rehearsal(
        "alexnet_momentum",
        "02_alexnet",
        "alexnet",
        "AlexNet()",
        5,
        recalibrate_bn=True,
        momentum=0.9,
    ),
    Rehearsal("googlenet", "04_googlenet", "googlenet", "GoogLeNet()", 5),
    Rehearsal(
        "resnet50",
        "05_resnet",
        "resnet50",
        "resnet(Bottleneck, RESNET50_LAYERS)",
        3,
        recalibrate_bn=True,
    ),
    Rehearsal(
        "resnet18",
        "05_resnet",
        "resnet18",
        "resnet(BasicBlock, RESNET18_LAYERS)",
        5,
        recalibrate_bn=True,
        cosine=True,
    ),
    Rehearsal("convmixer", "06_convmixer", "convmixer", "ConvMixer()", 5, recalibrate_bn=True),
)
# Which runs each of the two processes takes, in order (balanced by measured cost).
QUEUES = (
    ("vgg16", "lenet_original", "lenet", "alexnet", "alexnet_momentum"),
    ("googlenet", "resnet50", "resnet18", "convmixer"),
)
SMOKE = {"image_size": 64, "train_limit": 8, "valid_limit": 8, "batch_size": 4, "epochs": 1}


def rehearse(rehearsal: Rehearsal, smoke: bool) -> dict:
    """Train one run in this process; return its CSV row plus its per-epoch history."""
    import numpy as np
    import paddle

    settings = rehearsal.settings()
    size = SMOKE["image_size"] if smoke else settings.image_size
    batch = SMOKE["batch_size"] if smoke else settings.batch_size
    epochs = SMOKE["epochs"] if smoke else rehearsal.epochs
    limits = (
        {"train_limit": SMOKE["train_limit"], "valid_limit": SMOKE["valid_limit"]} if smoke else {}
    )
    data = fu.prepare_data(sample="default" if smoke else "full", verbose=False, progress=False)
    fu.pick_device()
    fu.set_seed(0)
    train_loader, valid_loader = fu.make_loaders(
        data, image_size=size, batch_size=batch, augment=settings.augment, progress=False, **limits
    )
    namespace = notebook_namespace(rehearsal.notebook, size)
    fu.set_seed(0)
    model = eval(rehearsal.build, namespace)  # noqa: S307 - our own expression, from this file
    scheduler = (
        paddle.optimizer.lr.CosineAnnealingDecay(settings.learning_rate, T_max=settings.epochs)
        if rehearsal.cosine
        else None
    )
    start = time.perf_counter()
    history = fu.fit(
        model,
        train_loader,
        valid_loader if rehearsal.validate_each_epoch else None,
        epochs=epochs,
        lr=settings.learning_rate,
        seed=0,
        recalibrate_bn=min(16, len(train_loader)) if rehearsal.recalibrate_bn else 0,
        optimization=fu.Optimization(scheduler=scheduler, **settings.optimizer_options()),
    )
    result = fu.evaluate(model, valid_loader)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_mib = peak / 2**20 if sys.platform == "darwin" else peak / 2**10
    return {
        "notebook": rehearsal.notebook,
        "run": rehearsal.run,
        "model": rehearsal.model or settings.model_name,
        "image_size": size,
        "optimizer": settings.optimizer_name,
        "learning_rate": settings.learning_rate,
        "batch_size": batch,
        "augment": settings.augment,
        "epochs_recipe": settings.epochs,
        "epochs_rehearsed": epochs,
        "valid_accuracy": round(float(result["accuracy"]), 4),
        "valid_auc": round(float(result["auc"]), 4),
        "called_pm": round(float(np.mean(result["probs"] >= result["threshold"])), 4),
        "seconds_per_epoch": round(seconds / epochs, 1),
        "peak_rss_mib": round(peak_mib),
        "data": f"{data.source_kind}, {len(train_loader.dataset)}/{len(valid_loader.dataset)}",
        "history": history.to_dict(),
    }


def run_queues(queues, smoke: bool, out: Path, log_dir: Path) -> list[dict]:
    """Run each queue in its own sequence of child processes, the queues side by side."""
    out.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    pending = [list(queue) for queue in queues]
    running: list[tuple[subprocess.Popen, str, Path, object]] = []
    rows = []

    def start_next(queue: list[str]) -> None:
        name = queue.pop(0)
        row_file = out / f".{name}.row.json"
        row_file.unlink(missing_ok=True)
        log = open(log_dir / f"{name}.log", "w", encoding="utf-8")  # noqa: SIM115 - closed below
        command = [sys.executable, __file__, "--child", name, "--row", str(row_file)]
        command += ["--smoke"] if smoke else []
        print(f"[{time.strftime('%H:%M:%S')}] start {name} (log: {log.name})", flush=True)
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        running.append((process, name, row_file, log))

    for queue in pending:
        if queue:
            start_next(queue)
    while running:
        time.sleep(0.2)
        for entry in list(running):
            process, name, row_file, log = entry
            if process.poll() is None:
                continue
            running.remove(entry)
            log.close()
            if process.returncode != 0 or not row_file.is_file():
                tail = Path(log.name).read_text(encoding="utf-8")[-2000:]
                raise SystemExit(f"rehearsal {name}: exit {process.returncode}; log tail:\n{tail}")
            row = json.loads(row_file.read_text(encoding="utf-8"))
            row_file.unlink()
            rows.append(row)
            print(
                f"[{time.strftime('%H:%M:%S')}] done {name}: accuracy {row['valid_accuracy']}, "
                f"AUC {row['valid_auc']}, called PM {row['called_pm']}, "
                f"{row['seconds_per_epoch']} s/epoch",
                flush=True,
            )
            queue = next(q for q, original in zip(pending, queues) if name in original)
            if queue:
                start_next(queue)
    order = [r.run for r in REHEARSALS]
    return sorted(rows, key=lambda row: order.index(row["run"]))


def write_results(
    rows: list[dict], out: Path, total_seconds: float, smoke: bool, note: str = ""
) -> Path:
    """The CSV (one row per run) and a JSON with each run's history; both complete or absent."""
    from fundus_utils.core.atomic import write_file

    csv_path = out / "full_rehearsal.csv"

    def write_csv(temporary: str) -> None:
        with open(temporary, "w", encoding="utf-8", newline="") as handle:
            handle.write(
                "# Full-mode rehearsal on the CPU (benchmarks/full_rehearsal.py"
                + (" --smoke" if smoke else "")
                + "). epochs_rehearsed < epochs_recipe: the recipe's first epochs, a number "
                "fixed before the run from measured step costs, never chosen from results. "
                f"Total wall time {total_seconds / 60:.1f} min, two runs at a time.{note}\n"
            )
            writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)

    write_file(csv_path, write_csv)
    payload = {"total_seconds": round(total_seconds, 1), "smoke": smoke, "runs": rows}
    text = json.dumps(payload, indent=1, allow_nan=True)
    write_file(
        out / "full_rehearsal.json",
        lambda temporary: Path(temporary).write_text(text + "\n", encoding="utf-8"),
    )
    return csv_path


def plan(steps: int = 3) -> None:
    """Measure a few training steps of every run at its full batch and size; print the plan."""
    import numpy as np
    import paddle
    import paddle.nn.functional as F

    fu.pick_device()
    costs = {}
    for rehearsal in REHEARSALS:
        settings = rehearsal.settings()
        namespace = notebook_namespace(rehearsal.notebook, settings.image_size)
        fu.set_seed(0)
        model = eval(rehearsal.build, namespace)  # noqa: S307
        model.train()
        optimizer = paddle.optimizer.Momentum(0.001, parameters=model.parameters())
        size, batch = settings.image_size, settings.batch_size
        images = paddle.randn([batch, 3, size, size])
        labels = paddle.to_tensor(np.arange(batch) % 2, dtype="float32").reshape([-1, 1])
        timings = []
        for _ in range(steps + 1):
            start = time.perf_counter()
            outputs = model(images)
            main = outputs[0] if isinstance(outputs, (tuple, list)) else outputs
            F.binary_cross_entropy_with_logits(main, labels).backward()
            optimizer.step()
            optimizer.clear_grad()
            timings.append(time.perf_counter() - start)
        per_image = float(np.median(timings[1:])) / batch
        costs[rehearsal.run] = per_image
        print(f"{rehearsal.run:15} {per_image:.3f} s per training image (batch {batch}, {size} px)")
    for index, queue in enumerate(QUEUES):
        minutes = 0.0
        for name in queue:
            rehearsal = next(r for r in REHEARSALS if r.run == name)
            # 400 training images; validation of 400 costs about a third of training them; x1.6
            # for loading, augmentation and recalibration (the AlexNet probe measured about 2x).
            validations = rehearsal.epochs if rehearsal.validate_each_epoch else 1
            seconds = costs[name] * 400 * (rehearsal.epochs + validations / 3) * 1.6
            minutes += seconds / 60
            print(
                f"  queue {index + 1}: {name:15} {rehearsal.epochs} epoch(s) "
                f"~{seconds / 60:.0f} min"
            )
        print(f"queue {index + 1}: ~{minutes:.0f} min in all")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one step per run")
    parser.add_argument("--plan", action="store_true", help="measure step costs, print the plan")
    parser.add_argument("--only", help="comma-separated run names (default: every run)")
    parser.add_argument("--out", default=str(RESULTS), help="folder of the CSV and JSON")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--row", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        rehearsal = next(r for r in REHEARSALS if r.run == args.child)
        row = rehearse(rehearsal, args.smoke)
        Path(args.row).write_text(json.dumps(row), encoding="utf-8")
        return 0
    if args.plan:
        plan()
        return 0
    queues = QUEUES
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {r.run for r in REHEARSALS}
        if unknown:
            parser.error(
                f"--only: unknown run(s) {sorted(unknown)}; expected some of "
                f"{[r.run for r in REHEARSALS]}"
            )
        queues = tuple(tuple(n for n in q if n in wanted) for q in QUEUES)
    out = Path(args.out)
    if args.smoke and args.out == str(RESULTS):
        out = Path(tempfile.mkdtemp(prefix="rehearsal-smoke-"))
    start = time.perf_counter()
    # Prepared once here, so that the first two children do not both generate the sample set.
    fu.prepare_data(sample="default" if args.smoke else "full", verbose=False, progress=False)
    rows = run_queues(queues, args.smoke, out, out / "full_rehearsal_logs")
    path = write_results(rows, out, time.perf_counter() - start, args.smoke)
    print(path.read_text(encoding="utf-8"))
    print(
        json.dumps(
            {
                "csv": str(path),
                "runs": len(rows),
                "total_seconds": round(time.perf_counter() - start, 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
