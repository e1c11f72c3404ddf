#!/usr/bin/env bash
# Check that installing the course's requirements into an AI Studio-like environment leaves the
# preinstalled stack alone (see the comments at the top of requirements.txt).
#
#   scripts/check_aistudio_install.sh [PYTHON]     PYTHON: a Python 3.10 interpreter
#                                                  (default: $PYTHON, else python3.10)
#   CHECK_PADDLE=0   do not install Paddle into the test environment (faster; but Paddle's own
#                    dependencies, protobuf, httpx, ..., then go unchecked)
#   KEEP_VENV=1      keep the temporary environment and print where it is
#
# What it does, in a temporary virtual environment (nothing is installed anywhere else):
#   1. installs the stack AI Studio's notebook environment ships: numpy 1.26, opencv-python 4.8,
#      scikit-image 0.21, matplotlib 3.10, Pillow 10.4, and Paddle 3.2 (else 3.0; the CPU wheel
#      from PyPI stands in for AI Studio's paddlepaddle-gpu);
#   2. asks pip what `pip install -r requirements.txt` would do (`--dry-run --report`), and the
#      same with requirements-test.txt added; prints every would-be install as a table.
# Exit status: 1 if a package installed in step 1 would change major version (for 0.x versions:
# minor version, 0.21 -> 0.22) or be downgraded, or if a second OpenCV distribution
# (opencv-python-headless, opencv-contrib-python, ...) or a second Paddle wheel would be added;
# 2 on a usage or setup error; 0 otherwise.
# pip's own configuration (pip.conf, PIP_* variables: indexes, constraints) applies as usual.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${1:-${PYTHON:-python3.10}}"

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then
  echo "check: $PYTHON is not a Python 3.10 interpreter (AI Studio runs 3.10)" >&2
  exit 2
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/check_aistudio.XXXXXX")"
if [ "${KEEP_VENV:-}" = 1 ]; then
  trap 'echo "check: kept $WORK"' EXIT
else
  trap 'rm -rf "$WORK"' EXIT
fi
VPY="$WORK/venv/bin/python"
LOG="$WORK/pip.log"
# Run pip quietly; its output goes to $LOG and is shown only when it fails.
pip_q() {
  if ! "$VPY" -m pip "$@" >>"$LOG" 2>&1; then
    echo "check: pip $* failed:" >&2
    tail -n 30 "$LOG" >&2
    return 1
  fi
}
step_start() { STEP_T0=$SECONDS; echo "check: $1"; }
step_end() { echo "check:   ($((SECONDS - STEP_T0)) s)"; }

# --- step 1: the AI Studio-like environment -------------------------------------------------
step_start "creating a Python 3.10 environment in $WORK/venv"
"$PYTHON" -m venv "$WORK/venv"
pip_q install -q --upgrade pip || exit 2 # --dry-run --report needs pip >= 22.2
step_end

step_start "installing AI Studio's preinstalled stack"
pip_q install -q "numpy==1.26.*" "opencv-python==4.8.*" "scikit-image==0.21.*" \
  "matplotlib==3.10.*" "Pillow==10.4.*" || exit 2
if [ "${CHECK_PADDLE:-1}" != 0 ]; then
  if pip_q install -q "paddlepaddle==3.2.*" || pip_q install -q "paddlepaddle==3.0.*"; then
    :
  else
    echo "check: WARNING: neither paddlepaddle 3.2 nor 3.0 installs here; checking without Paddle"
  fi
fi
step_end
"$VPY" -m pip freeze >"$WORK/before.txt"
echo "check: preinstalled: $(grep -Ei '^(numpy|opencv|scikit-image|matplotlib|pillow|paddle)' \
  "$WORK/before.txt" | tr '\n' ' ')"

# --- step 2: what would `pip install -r ...` do? ------------------------------------------------
# Reads pip's JSON report, compares it with what is installed in this environment, prints the
# table and exits 10 when a preinstalled package would be hurt (the rules are in the header).
check_report() { # $1 = the report, $2 = a label for the table
  "$VPY" - "$1" "$2" <<'PY'
import json
import re
import sys
import textwrap
from importlib import metadata

try:
    from packaging.version import Version
except ImportError:  # packaging is not always installed; pip vendors it
    from pip._vendor.packaging.version import Version

report_path, label = sys.argv[1], sys.argv[2]


def canon(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def major(v):
    """The part of a version whose change is a breaking one: 1 for 1.26.4, (0, 21) for 0.21.0."""
    release = Version(v).release
    return release[:2] if release[0] == 0 else release[:1]


installed = {canon(d.metadata["Name"]): d.version for d in metadata.distributions()}
with open(report_path) as f:
    installs = json.load(f)["install"]
would = {canon(i["metadata"]["name"]): i["metadata"]["version"] for i in installs}
requested = {canon(i["metadata"]["name"]) for i in installs if i.get("requested")}

# Distributions that each provide the module cv2 (resp. paddle): two of them overwrite each other.
families = {
    "OpenCV": {"opencv-python", "opencv-python-headless", "opencv-contrib-python",
               "opencv-contrib-python-headless"},
    "Paddle": {"paddlepaddle", "paddlepaddle-gpu"},
}

rows, problems = [], []
for name in sorted(would):
    new, old = would[name], installed.get(name)
    if old is None:
        change, flag = "new", ""
    elif Version(new) < Version(old):
        change, flag = "downgrade", "DOWNGRADE"
    elif Version(new) == Version(old):
        change, flag = "reinstall", ""
    elif major(new) != major(old):
        change, flag = "upgrade", "MAJOR"
    else:
        change, flag = "upgrade", ""
    if flag:
        problems.append(f"{name} {old} -> {new} ({flag.lower()})")
    rows.append((name, old or "-", new, change + (" (requested)" if name in requested else ""), flag))

for family, members in families.items():
    after = sorted(members & (set(installed) | set(would)))
    if len(after) > 1:
        problems.append(f"second {family} distribution: {', '.join(after)}")
        rows = [r[:4] + (r[4] or f"2nd {family}",) if r[0] in members else r for r in rows]

upgrades = [r for r in rows if r[1] != "-"]
print(f"\n== {label}: {len(rows)} would be installed, {len(rows) - len(upgrades)} of them new, "
      f"{len(upgrades)} already installed ==")
# The full list is long (Jupyter brings ~90 packages); show all changes to installed packages,
# every flagged or requested package, and only count the other new ones.
shown = [r for r in rows if r[1] != "-" or r[4] or r[0] in requested]
w = max([len(r[0]) for r in shown] + [7])
print(f"  {'package':<{w}}  {'installed':<12} {'would be':<12} change")
for name, old, new, change, flag in shown:
    print(f"  {name:<{w}}  {old:<12} {new:<12} {change}{'  <-- ' + flag if flag else ''}")
others = [r[0] for r in rows if r not in shown]
if others:
    print(textwrap.fill(f"+ {len(others)} more new dependencies: {' '.join(others)}", 100,
                        initial_indent="  ", subsequent_indent="    ", break_on_hyphens=False))
if problems:
    print(f"FAIL ({label}): " + "; ".join(problems))
    sys.exit(10)  # not 1: a crash of this script exits 1
print(f"OK ({label}): no installed package changes major version or is downgraded, "
      "no second OpenCV or Paddle distribution")
PY
}

status=0
verdict() { if [ "$1" = 10 ]; then status=1; else echo "check: reading the report failed" >&2; exit 2; fi; }
step_start "dry run: pip install -r requirements.txt"
pip_q install --dry-run --report "$WORK/report.json" -r "$REPO/requirements.txt" || exit 2
check_report "$WORK/report.json" "requirements.txt" || verdict $?
step_end
step_start "dry run: pip install -r requirements.txt -r requirements-test.txt"
pip_q install --dry-run --report "$WORK/report-test.json" \
  -r "$REPO/requirements.txt" -r "$REPO/requirements-test.txt" || exit 2
check_report "$WORK/report-test.json" "requirements.txt + requirements-test.txt" || verdict $?
step_end

if [ "$status" = 0 ]; then
  echo "check: PASS: the requirements leave AI Studio's preinstalled stack as it is"
else
  echo "check: FAIL: see the lines marked <-- above"
fi
exit "$status"
