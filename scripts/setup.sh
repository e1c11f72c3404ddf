#!/usr/bin/env bash
# Set up the course environment: a virtual environment with Paddle and requirements.txt.
# The logic lives in scripts/setup.py (standard library only, Python 3.6+; Windows runs it directly:
# py -3.12 scripts\setup.py); this script runs it with $PYTHON and passes its arguments on.
#
#   FUNDUS_VENV    where the environment goes (default: .venv in the repository)
#   FUNDUS_PADDLE  the Paddle wheel to install when none is importable (default: paddlepaddle-gpu
#                  when nvidia-smi sees a GPU, else paddlepaddle, the CPU wheel)
#   PYTHON         the interpreter to build it from (default: python3; 3.10 to 3.13, 3.12 for
#                  the GPU wheel and Paddle 2.6); one that cannot is told what to do, in one line,
#                  before anything is created
#   FUNDUS_SETUP_DRY_RUN=1  say which Paddle wheel would be installed and why, then stop
#   --print-python  messages to stderr, and stdout gets the environment's interpreter alone
#
# Where Paddle is already installed (AI Studio, a GPU box with paddlepaddle-gpu), the environment is
# created on top of it (--system-site-packages) and Paddle is NOT installed again: the CPU and GPU
# wheels both provide the module `paddle`, and installing one over the other breaks it.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "setup: $PYTHON not found: install Python 3.12 (3.10 to 3.13 work) and run \`PYTHON=python3.12 bash scripts/setup.sh\`" >&2
  exit 1
fi
# setup.py itself runs on 3.6+, to say what to do about 3.6 to 3.9; older ones cannot even read it
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 6))' >/dev/null 2>&1; then
  echo "setup: $PYTHON is older than Python 3.6: install Python 3.12 (3.10 to 3.13 work) and run \`PYTHON=python3.12 bash scripts/setup.sh\`" >&2
  exit 1
fi
exec "$PYTHON" "$REPO/scripts/setup.py" "$@"
