#!/usr/bin/env bash
# Set up (scripts/setup.sh), then run the whole course: every notebook, top to bottom.
# Arguments go to `python -m fundus_utils course`, e.g.  --quick  or  --out DIR  (see --help).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$REPO/scripts/setup.sh"
PY="${FUNDUS_VENV:-$REPO/.venv}/bin/python"
cd "$REPO"
exec "$PY" -m fundus_utils course "$@"
