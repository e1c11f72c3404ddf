#!/usr/bin/env bash
# Set up the course environment: a virtual environment with Paddle and requirements.txt.
#
#   FUNDUS_VENV    where the environment goes (default: .venv in the repository)
#   FUNDUS_PADDLE  the Paddle wheel to install when none is importable (default: paddlepaddle-gpu
#                  when nvidia-smi sees a GPU, else paddlepaddle, the CPU wheel)
#   PYTHON         the interpreter to build it from (default: python3, 3.10 or newer)
#   FUNDUS_SETUP_DRY_RUN=1  say which Paddle wheel would be installed and why, then stop
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
# The CUDA version the NVIDIA driver supports ("12.2"), when nvidia-smi runs and sees a GPU.
driver_cuda() { nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9][0-9.]*\).*/\1/p' | head -n 1; }
# Paddle's index folder for Paddle 3.x GPU wheels that this driver's CUDA can run.
cuda_index() {
  local major="${1%%.*}" minor="${1#*.}"; minor="${minor%%.*}"
  if [ $((major * 100 + minor)) -ge 1206 ]; then echo cu126; else echo cu118; fi
}
# Which Paddle wheel to install when none is importable, and why (two lines: wheel, reason).
choose_paddle() {
  if [ -n "${FUNDUS_PADDLE:-}" ]; then
    printf '%s\n%s\n' "$FUNDUS_PADDLE" "asked for by FUNDUS_PADDLE"
  elif cuda=$(driver_cuda) && [ -n "$cuda" ]; then
    printf '%s\n%s\n' "paddlepaddle-gpu" "nvidia-smi sees a GPU (driver supports CUDA $cuda); PyPI's GPU wheel is Paddle 2.6.2. For Paddle 3.x, install the wheel for your CUDA from Paddle's own index first, e.g. python -m pip install paddlepaddle-gpu==3.2.0 -i https://www.paddlepaddle.org.cn/packages/stable/$(cuda_index "$cuda")/ (cu118 for CUDA 11.8 to 12.5, cu126 for 12.6 and newer), then run this script again"
  else
    printf '%s\n%s\n' "paddlepaddle" "no GPU: nvidia-smi is missing or sees none, so the CPU wheel"
  fi
}
if have=$(paddle_version "$PY"); then
  echo "setup: using the installed Paddle $have (never installed over: CPU and GPU wheels collide)"
  [ "${FUNDUS_SETUP_DRY_RUN:-}" = 1 ] && exit 0
else
  { read -r wheel; read -r why; } < <(choose_paddle)
  echo "setup: installing $wheel: $why"
  [ "${FUNDUS_SETUP_DRY_RUN:-}" = 1 ] && { echo "setup: dry run, nothing installed"; exit 0; }
  "$PY" -m pip install -q --upgrade pip
  "$PY" -m pip install -q "$wheel"
fi
"$PY" -m pip install -q --upgrade pip
echo "setup: installing requirements.txt and fundus_utils"
"$PY" -m pip install -q -r "$REPO/requirements.txt"
"$PY" -m pip install -q --no-deps -e "$REPO"
echo "setup: ready: $PY (Paddle $(paddle_version "$PY"))"
