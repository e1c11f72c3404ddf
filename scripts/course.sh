#!/usr/bin/env bash
# Set up (scripts/setup.sh), then run the whole course: every notebook, top to bottom.
# Arguments go to `python -m fundus_utils course`, e.g.  --quick  or  --out DIR  (see --help).
# Windows (PowerShell):  py -3.12 scripts\setup.py  then  .venv\Scripts\python -m fundus_utils course
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# setup.py says what it does on stderr and prints the environment's interpreter on stdout
PY="$(bash "$REPO/scripts/setup.sh" --print-python)"
if [ "${FUNDUS_SETUP_DRY_RUN:-}" = 1 ]; then exit 0; fi
cd "$REPO"
exec "$PY" -m fundus_utils course "$@"
