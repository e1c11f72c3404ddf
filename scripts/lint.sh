#!/usr/bin/env bash
# Lint and clean-notebook checks (run by scripts/test.sh, so by CI): ruff over the package, tests,
# scripts, benchmarks and the notebooks' code cells, then the clean-notebook check.
# To fix what it reports:  ruff format . && ruff check --fix . && python scripts/clean_notebooks.py
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${FUNDUS_VENV:-$REPO/.venv}/bin/python"
cd "$REPO"
echo "lint: ruff check, ruff format --check, clean notebooks"
"$PY" -m ruff check --quiet .
"$PY" -m ruff format --check --quiet .
"$PY" scripts/clean_notebooks.py --check
echo "lint: clean"
