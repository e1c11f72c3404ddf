"""Constants shared by the whole course: named once, imported everywhere."""

from __future__ import annotations

__all__ = [
    "CLASS_NAMES",
    "CLASS_PREFIXES",
    "SUBCLASS_NAMES",
    "IMAGE_SIZE",
    "MEAN_RGB",
    "STD_RGB",
    "SOURCE_ZIPS",
    "VALID_XLSX_NAME",
    "LABELS_CSV_NAME",
    "PREPARED_MARKER",
    "SAMPLE_MARKER",
    "SAMPLE_NOTICE",
]

# --- iChallenge-PM layout (as AI Studio dataset 19065 ships it) -------------
TRAIN_ZIP = "training.zip"
VALID_ZIP = "validation.zip"
VALID_GT_ZIP = "valid_gt.zip"
SOURCE_ZIPS = (TRAIN_ZIP, VALID_ZIP, VALID_GT_ZIP)
NESTED_TRAIN_ZIP = "PALM-Training400.zip"  # the zip inside training.zip
TRAIN_DIR_NAME = "PALM-Training400"
VALID_DIR_NAME = "PALM-Validation400"
VALID_GT_DIR_NAME = "PALM-Validation-GT"
VALID_XLSX_NAME = "PM_Label_and_Fovea_Location.xlsx"
LABELS_CSV_NAME = "labels.csv"
LABEL_COLUMNS = ("ID", "imgName", "Label", "Fovea_X", "Fovea_Y")

# File-name prefix of a training image -> binary label (P = pathologic myopia).
CLASS_PREFIXES = {"P": 1, "H": 0, "N": 0}
SUBCLASS_NAMES = {"P": "pathologic myopia", "H": "high myopia", "N": "normal"}
CLASS_NAMES = ("non-PM", "PM")

# AI Studio conventions.
AISTUDIO_DATA_ROOT = "/home/aistudio/data"
AISTUDIO_DATASET_DIR = "/home/aistudio/data/data19065"
AISTUDIO_WORK_ROOT = "/home/aistudio/work"

# Environment variables the package reads.
ENV_DATA = "FUNDUS_DATA"  # explicit source folder
ENV_WORKDIR = "FUNDUS_WORKDIR"  # where unpacked data and caches go
ENV_QUICK = "FUNDUS_QUICK"  # "1": quick mode (CI, the README's test command)
ENV_BUDGET = "FUNDUS_BUDGET"  # "cpu" | "full": the course command's budget
ENV_RUNS = "FUNDUS_RUNS"  # where each run's checkpoints and results JSON go
ENV_PROGRESS = "FUNDUS_PROGRESS"  # "text": plain progress bars, never notebook widgets

# --- preprocessing ----------------------------------------------------------
IMAGE_SIZE = 224
# Images are scaled to [0, 1], then normalised per channel (RGB order) with the
# ImageNet statistics, the convention of paddle.vision.models.
MEAN_RGB = (0.485, 0.456, 0.406)
STD_RGB = (0.229, 0.224, 0.225)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")

# Marker files.
PREPARED_MARKER = "prepared.json"  # written last into a prepared folder
SAMPLE_MARKER = "FUNDUS_SAMPLE.json"  # sits beside (and inside) a sample source's zips
RESULTS_NAME = "results.json"  # one per training run, in runs_dir()/<run name>/

SAMPLE_NOTICE = (
    "SAMPLE SET: the real iChallenge-PM data was not found, so the course runs on a "
    "generated sample set (scikit-image's CC0 fundus photograph with synthetic "
    "findings painted on). Results on it are sample results, not iChallenge-PM results."
)
