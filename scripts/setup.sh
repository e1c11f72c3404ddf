#!/usr/bin/env bash
# Set up the course environment: a virtual environment with Paddle and requirements.txt.
#
#   FUNDUS_VENV    where the environment goes (default: .venv in the repository)
#   FUNDUS_PADDLE  the Paddle wheel to install when none is importable (default: paddlepaddle, the CPU wheel)
#   PYTHON         the interpreter to build it from (default: python3, 3.10 or newer)
#
# Where Paddle is already installed (AI Studio, a GPU box with paddlepaddle-gpu), the environment is
# created on top of it (--system-site-packages) and Paddle is NOT installed again: the CPU and GPU
# wheels both provide the module `paddle`, and installing one over the other breaks it.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${FUNDUS_VENV:-$REPO/.venv}"
PYTHON="${PYTHON:-python3}"
paddle_version() { "$1" -c "import paddle; print(paddle.__version__)" 2>/dev/null; }

if [ ! -x "$VENV/bin/python" ]; then
  if [ -z "${FUNDUS_PADDLE:-}" ] && base=$(paddle_version "$PYTHON"); then
    echo "setup: $PYTHON already has Paddle $base; building $VENV on top of it (Paddle is not reinstalled)"
    "$PYTHON" -m venv --system-site-packages "$VENV"
    # --system-site-packages exposes the *interpreter's* packages; when $PYTHON is itself a
    # virtual environment, its own site-packages (where Paddle is) must be added explicitly.
    site="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    "$PYTHON" -c 'import sysconfig; p = sysconfig.get_paths(); print(p["purelib"]); print(p["platlib"])' \
      | sort -u > "$site/base-environment.pth"
  else
    echo "setup: creating $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
fi
PY="$VENV/bin/python"
"$PY" -m pip install -q --upgrade pip
if have=$(paddle_version "$PY"); then
  echo "setup: using the installed Paddle $have"
else
  wheel="${FUNDUS_PADDLE:-paddlepaddle}"
  echo "setup: installing $wheel (no Paddle was importable)"
  "$PY" -m pip install -q "$wheel"
fi
echo "setup: installing requirements.txt and fundus_utils"
"$PY" -m pip install -q -r "$REPO/requirements.txt"
"$PY" -m pip install -q --no-deps -e "$REPO"
echo "setup: ready: $PY (Paddle $(paddle_version "$PY"))"
