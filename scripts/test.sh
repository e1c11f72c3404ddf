#!/usr/bin/env bash
# Set up (scripts/setup.sh and the test tools), lint (scripts/lint.sh), then run the unit tests and
# every notebook under nbval, in quick mode.
# Extra arguments go to pytest, e.g.  bash scripts/test.sh -x -k labels
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$REPO/scripts/setup.sh"
PY="${FUNDUS_VENV:-$REPO/.venv}/bin/python"
"$PY" -m pip install -q -r "$REPO/requirements-test.txt"
bash "$REPO/scripts/lint.sh"
export FUNDUS_QUICK=1
cd "$REPO"
shopt -s nullglob
notebooks=(notebooks/*.ipynb)
if [ ${#notebooks[@]} -gt 0 ]; then
  exec "$PY" -m pytest tests "${notebooks[@]}" --nbval --nbval-current-env \
    --nbval-sanitize-with notebooks/sanitize.cfg --durations=15 "$@"
fi
exec "$PY" -m pytest tests --durations=10 "$@"
