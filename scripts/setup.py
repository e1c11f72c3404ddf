"""Set up the course environment on Windows, macOS and Linux: a virtual environment with Paddle,
requirements.txt and fundus_utils.

    python scripts/setup.py            Windows: py -3.12 scripts\\setup.py
    bash scripts/setup.sh              Linux, macOS: runs this file with $PYTHON (default python3)

The logic lives here once, in the standard library only, and this file runs on Python 3.6+ (no
`from __future__ import annotations`, typing's generics): an interpreter that cannot run the course
(3.9, macOS's /usr/bin/python3) or has no Paddle wheel (3.14) is told in one line what to do,
before anything is created or installed.

    FUNDUS_VENV    where the environment goes (default: .venv in the repository)
    FUNDUS_PADDLE  the Paddle wheel to install when none is importable (default: paddlepaddle-gpu
                   when nvidia-smi sees a GPU, else paddlepaddle, the CPU wheel)
    FUNDUS_SETUP_DRY_RUN=1  say which Paddle wheel would be installed and why, then stop;
                   nothing is created or installed
    PYTHON         read by setup.sh: the interpreter it runs this file with. Here the environment
                   is built from the interpreter that runs this file.

Where Paddle is already installed (AI Studio, a GPU box with paddlepaddle-gpu), the environment is
created on top of it (--system-site-packages) and Paddle is NOT installed again: the CPU and GPU
wheels both provide the module `paddle`, and installing one over the other breaks it.

At the end it says where the environment's interpreter is (bin/python, or Scripts\\python.exe on
Windows) and how to run the course with it. With --print-python every message goes to stderr and
stdout gets that path alone, for course.sh and test.sh.
"""

import argparse
import locale
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Dict, List, Optional, TextIO, Tuple

REPO = Path(__file__).resolve().parents[1]
COURSE_PYTHON = (3, 10)  # pyproject.toml's requires-python
RECOMMENDED_PYTHON = (3, 12)  # every wheel below has it: CPU and GPU, Paddle 2.6 and 3.x
PADDLE_INDEX = "https://www.paddlepaddle.org.cn/packages/stable"
Version = Tuple[int, int]

# The Python versions each Paddle wheel exists for, from PyPI's file lists (December 2026):
# paddlepaddle 3.1-3.3.1 cp39-cp313 (3.0.0 cp38-cp313), 2.6.2 cp38-cp312; paddlepaddle-gpu only
# up to 2.6.2, cp38-cp312 (Linux and Windows). Paddle's own index has the 3.x GPU wheels (taken
# here to match the CPU ones: not checked, the index was unreachable). None has a 3.14 wheel.
# Key: (distribution, "3" / "2.6" for a pin, None for no version).
WHEEL_PYTHONS: Dict[Tuple[str, Optional[str]], Tuple[Version, Version, str]] = {
    ("paddlepaddle", None): ((3, 9), (3, 13), "Paddle 3.x has wheels for Python 3.9 to 3.13"),
    ("paddlepaddle", "3"): ((3, 9), (3, 13), "Paddle 3.x has wheels for Python 3.9 to 3.13"),
    ("paddlepaddle", "2.6"): ((3, 8), (3, 12), "Paddle 2.6 has wheels for Python 3.8 to 3.12"),
    ("paddlepaddle-gpu", None): (
        (3, 8),
        (3, 12),
        "PyPI's newest, Paddle 2.6.2, has wheels for Python 3.8 to 3.12",
    ),
    ("paddlepaddle-gpu", "2.6"): ((3, 8), (3, 12), "Paddle 2.6 has wheels for Python 3.8 to 3.12"),
    ("paddlepaddle-gpu", "3"): (
        (3, 9),
        (3, 13),
        "Paddle 3.x GPU wheels are for Python 3.9 to 3.13",
    ),
}
NEWEST_PADDLE_PYTHON = (3, 13)
_SPEC = re.compile(
    r"^\s*(paddlepaddle(?:[-_]gpu)?)\s*(?:\[[^\]]*\])?\s*(?:==\s*(\d+)\.(\d+)[\w.*+!-]*)?\s*$",
    re.IGNORECASE,
)
_WHEEL_FILE = re.compile(r"^(paddlepaddle(?:_gpu)?)-[^-]+-cp3(\d+)-", re.IGNORECASE)


class SetupError(Exception):
    """A problem the user can fix; its message is the one line printed."""


def wheel_pythons(wheel: str) -> Optional[Tuple[Version, Version, str]]:
    """The Python versions ``wheel`` (a FUNDUS_PADDLE value) has wheels for, or None if unknown.

    Only the spellings whose range is known are judged; anything else (``paddlepaddle>=3``, a URL
    without a Python tag) is left to pip, after the course's own 3.10+ check.
    """
    name = wheel.replace("\\", "/").rsplit("/", 1)[-1]
    if name.lower().endswith(".whl"):
        found = _WHEEL_FILE.match(name)
        if found is None:
            return None
        version = (3, int(found.group(2)))
        return version, version, f"a wheel for Python 3.{version[1]} only"
    found = _SPEC.match(wheel)
    if found is None:
        return None
    dist = found.group(1).lower().replace("_", "-")
    if found.group(2) is None:
        pin = None
    elif found.group(2) == "3":
        pin = "3"
    elif (found.group(2), found.group(3)) == ("2", "6"):
        pin = "2.6"
    else:
        return None
    return WHEEL_PYTHONS[(dist, pin)]


def cuda_index(cuda: str) -> str:
    """Paddle's index folder for the 3.x GPU wheels that a driver supporting CUDA ``cuda`` runs."""
    parts = (cuda.split(".") + ["0"])[:2]
    major, minor = (int(p) if p.isdigit() else 0 for p in parts)
    return "cu126" if major * 100 + minor >= 1206 else "cu118"


def paddle3_gpu_command(cuda: Optional[str], python: str = "python") -> str:
    """The pip command for a Paddle 3.x GPU wheel from Paddle's own index."""
    index = cuda_index(cuda) if cuda else "cu126"
    return f"{python} -m pip install paddlepaddle-gpu==3.2.0 -i {PADDLE_INDEX}/{index}/"


def fix_hint(
    suggest: Version,
    also: Optional[Version] = None,
    platform: str = sys.platform,
    paddle: Optional[str] = None,
) -> str:
    """What to install and the command to run again, for this platform."""
    want = f"{suggest[0]}.{suggest[1]}"
    versions = want if also is None else f"{want} or {also[0]}.{also[1]}"
    if platform.startswith("win"):
        return f"install Python {versions} from python.org and run `py -{want} scripts\\setup.py`"
    where = f" (python.org, or `brew install python@{want}`)" if platform == "darwin" else ""
    env = f"FUNDUS_PADDLE={shlex.quote(paddle)} " if paddle else ""
    command = f"{env}PYTHON=python{want} bash scripts/setup.sh"
    return f"install Python {versions}{where} and run `{command}`"


def python_problem(
    version: Tuple[int, ...],
    wheel: Optional[str],
    platform: str = sys.platform,
    cuda: Optional[str] = None,
    asked: Optional[str] = None,
) -> Optional[Tuple[str, str]]:
    """None if Python ``version`` can run the course with ``wheel``, else (what is wrong, the fix).

    ``wheel`` is the Paddle wheel about to be installed (None when Paddle is already there, so
    only the course's own 3.10+ applies), ``cuda`` the driver's CUDA version when nvidia-smi sees
    a GPU, ``asked`` the FUNDUS_PADDLE value (repeated in the suggested command).
    """
    v = (version[0], version[1])
    shown = f"{v[0]}.{v[1]}"
    known = wheel_pythons(wheel) if wheel else None
    low, high = COURSE_PYTHON, NEWEST_PADDLE_PYTHON
    if known is not None:
        low, high = max(known[0], COURSE_PYTHON), known[1]
    suggest = max(low, min(high, RECOMMENDED_PYTHON))
    hint = fix_hint(suggest, high if high > suggest else None, platform, asked)
    if wheel and platform == "darwin" and wheel_dist(wheel) == "paddlepaddle-gpu":
        return (
            "paddlepaddle-gpu has no macOS wheels (Paddle's GPU wheels are for Linux and Windows "
            "with an NVIDIA GPU)",
            "unset FUNDUS_PADDLE to install the CPU wheel paddlepaddle",
        )
    if v < COURSE_PYTHON:
        floor = f"{COURSE_PYTHON[0]}.{COURSE_PYTHON[1]}"
        return f"Python {shown} is too old (the course needs Python {floor} or newer)", hint
    if known is None or low <= v <= high:
        return None
    yet = " yet" if v > NEWEST_PADDLE_PYTHON else ""
    name = (wheel or "").replace("\\", "/").rsplit("/", 1)[-1]
    if name.lower().endswith(".whl"):
        return f"Python {shown} cannot install {name} ({known[2]})", hint
    spec = _SPEC.match(wheel or "")
    # PyPI's GPU wheel stops at 3.12; Paddle's own index has 3.x GPU wheels up to the newest
    pypi_gpu = (
        spec is not None
        and wheel_dist(wheel or "") == "paddlepaddle-gpu"
        and not spec.group(2)
        and v <= NEWEST_PADDLE_PYTHON
    )
    reason = f"Python {shown} has no {wheel} wheel{yet} ({known[2]})"
    if pypi_gpu:  # a GPU user can also take Paddle 3.x from Paddle's own index
        python = f"py -{shown}" if platform.startswith("win") else f"python{shown}"
        hint += (
            ", or install Paddle 3.x for your CUDA into this Python first "
            f"(`{paddle3_gpu_command(cuda, python)}`) and run this again"
            + (" without FUNDUS_PADDLE" if asked else "")
        )
    return reason, hint


def check_python(
    version: Tuple[int, ...],
    wheel: Optional[str],
    platform: str = sys.platform,
    cuda: Optional[str] = None,
    asked: Optional[str] = None,
) -> Optional[str]:
    """None if Python ``version`` can run the course with ``wheel``, else the one line to print.

    Arguments as for python_problem.
    """
    problem = python_problem(version, wheel, platform, cuda, asked)
    return None if problem is None else f"setup: {problem[0]}: {problem[1]}"


def wheel_dist(wheel: str) -> str:
    """The distribution name in a FUNDUS_PADDLE value ('paddlepaddle-gpu'), lower case."""
    name = wheel.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if name.lower().endswith(".whl"):
        name = name.split("-", 1)[0]
    found = re.match(r"[A-Za-z0-9._-]+", name)
    return (found.group(0) if found else name).lower().replace("_", "-")


def venv_python(venv: Path, windows: Optional[bool] = None) -> Optional[Path]:
    """The interpreter of the virtual environment ``venv``, in either layout, or None.

    POSIX venvs have bin/python, Windows ones Scripts\\python.exe (MSYS2 and Cygwin Pythons on
    Windows make bin/). The current OS's layout is looked at first.
    """
    windows = os.name == "nt" if windows is None else windows
    posix = [venv / "bin" / "python", venv / "bin" / "python3"]
    nt = [venv / "Scripts" / "python.exe", venv / "Scripts" / "python"]
    for candidate in nt + posix if windows else posix + nt:
        if candidate.is_file():
            return candidate
    return None


def _run_python(python: Path, code: str) -> Optional[str]:
    """stdout of ``python -c code``, or None if it fails. UTF-8 both ways (non-ASCII paths, GBK)."""
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    try:
        done = subprocess.run(
            [str(python), "-c", code],
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            env=env,
        )
    except OSError:
        return None
    return done.stdout if done.returncode == 0 else None


def paddle_version(python: Path) -> Optional[str]:
    """The version of the Paddle that ``python`` imports, or None (in a subprocess: it is slow)."""
    out = _run_python(python, "import paddle; print(paddle.__version__)")
    lines = (out or "").strip().splitlines()
    return lines[-1].strip() if lines else None


def probe_venv(python: Path) -> Optional[Tuple[Version, bool]]:
    """The Python version of an existing environment and whether it has pip, or None if broken."""
    out = _run_python(
        python,
        "import sys, importlib.util; print('%d.%d' % sys.version_info[:2]); "
        "print(importlib.util.find_spec('pip') is not None)",
    )
    if out is None:
        return None
    lines = out.split()
    if len(lines) != 2:
        return None
    major, minor = lines[0].split(".")
    return (int(major), int(minor)), lines[1] == "True"


def driver_cuda() -> Optional[str]:
    """The CUDA version the NVIDIA driver supports ("12.2"), when nvidia-smi runs and sees a GPU."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        done = subprocess.run([smi], capture_output=True, text=True, errors="replace", timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"CUDA Version: *([0-9][0-9.]*)", done.stdout)
    return found.group(1) if found else None


def choose_paddle(asked: Optional[str], cuda: Optional[str]) -> Tuple[str, str]:
    """Which Paddle wheel to install when none is importable, and why."""
    if asked:
        return asked, "asked for by FUNDUS_PADDLE"
    if cuda:
        return "paddlepaddle-gpu", (
            f"nvidia-smi sees a GPU (driver supports CUDA {cuda}); PyPI's GPU wheel is Paddle "
            "2.6.2. For Paddle 3.x, install the wheel for your CUDA from Paddle's own index first, "
            f"e.g. {paddle3_gpu_command(cuda)} (cu118 for CUDA 11.8 to 12.5, cu126 for 12.6 and "
            "newer), then run this script again"
        )
    return "paddlepaddle", "no GPU: nvidia-smi is missing or sees none, so the CPU wheel"


def venv_failure_hint(output: str, venv: Path, version: Tuple[int, ...], debian: bool) -> str:
    """The one line for a failed ``python -m venv``: Debian/Ubuntu keep ensurepip apart."""
    if "ensurepip" not in output:
        last = [line for line in output.strip().splitlines() if line.strip()]
        said = f": {last[-1].strip()}" if last else ""
        return f"setup: python -m venv could not create {venv}{said}"
    package = f"python{version[0]}.{version[1]}-venv"
    if debian or "apt install" in output or "apt-get install" in output:
        return (
            f"setup: cannot create {venv}: this Python {version[0]}.{version[1]} has no ensurepip "
            f"(Debian and Ubuntu ship it apart): run `sudo apt install {package}` "
            "(python3-venv for the system's default python3), then run this again"
        )
    return (
        f"setup: cannot create {venv}: this Python {version[0]}.{version[1]} has no ensurepip, so "
        "no pip for the environment: use a Python from python.org, Homebrew or pyenv"
    )


def create_venv(venv: Path, system_site: bool) -> Path:
    """Create ``venv`` with the running interpreter; a failure is one line, and no half venv."""
    existed = venv.exists()
    command = [sys.executable, "-m", "venv"] + (["--system-site-packages"] if system_site else [])
    done = subprocess.run(
        command + [str(venv)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        encoding="utf-8",
        errors="replace",
    )
    python = venv_python(venv)
    if done.returncode == 0 and python is not None:
        return python
    if not existed:  # Debian leaves a venv without pip: the next run would take it as ready
        shutil.rmtree(venv, ignore_errors=True)
    debian = Path("/etc/debian_version").exists()
    raise SetupError(venv_failure_hint(done.stdout or "", venv, sys.version_info, debian))


def link_base_site_packages(python: Path) -> Path:
    """Make the environment see the running interpreter's packages (Paddle), also from a venv.

    --system-site-packages exposes the *base* interpreter's packages; when this runs from a
    virtual environment, its own site-packages (where Paddle is) must be added with a .pth file.
    """
    out = _run_python(python, "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    if not out or not out.strip():
        raise SetupError(f"setup: {python} does not run: cannot find its site-packages")
    paths = sysconfig.get_paths()
    lines = "".join(p + "\n" for p in sorted({paths["purelib"], paths["platlib"]}))
    # site.py reads .pth files in the locale encoding before 3.13, and UTF-8 first from 3.13 on
    encoding = "utf-8" if sys.version_info >= (3, 13) else locale.getpreferredencoding(False)
    pth = Path(out.strip()) / "base-environment.pth"
    pth.write_text(lines, encoding=encoding)
    return pth


def _pip(python: Path, args: List[str], what: str, to_stderr: bool) -> None:
    """``python -m pip install -q ARGS``; a failure names what could not be installed."""
    sys.stdout.flush()
    sys.stderr.flush()
    command = [str(python), "-m", "pip", "install", "-q"] + args
    done = subprocess.run(command, stdout=2 if to_stderr else None)
    if done.returncode != 0:
        raise SetupError(
            f"setup: pip could not install {what} (exit {done.returncode}): see pip's message",
            done.returncode,
        )


def _rebuild(problem: Tuple[str, str], venv: Path, version: Version) -> str:
    """``problem`` in an existing environment: another Python helps only once it is deleted."""
    built = f"{venv} was built with Python {version[0]}.{version[1]}"
    return f"setup: {built}; {problem[0]}: delete it, then {problem[1]}"


def setup(print_python: bool = False) -> int:
    """Check, create, install; return the exit code."""
    out: TextIO = sys.stderr if print_python else sys.stdout

    def say(message: str) -> None:
        print(f"setup: {message}", file=out, flush=True)

    venv = Path(os.environ.get("FUNDUS_VENV") or REPO / ".venv").absolute()
    dry = os.environ.get("FUNDUS_SETUP_DRY_RUN", "") == "1"
    asked = os.environ.get("FUNDUS_PADDLE", "").strip() or None
    python = venv_python(venv)
    have = base = None
    if python is not None:
        probed = probe_venv(python)
        if probed is None:
            raise SetupError(
                f"setup: {python} does not run (its base Python moved or was upgraded?): "
                f"delete {venv} and run this again"
            )
        version, has_pip = probed
        problem = python_problem(version, None, asked=asked)
        if problem:
            raise SetupError(_rebuild(problem, venv, version))
        if not has_pip and not dry:
            raise SetupError(
                f"setup: {venv} has no pip (left by a failed venv creation?): delete it and run "
                "this again"
            )
        have = paddle_version(python)
    else:
        if venv.exists() and (not venv.is_dir() or any(venv.iterdir())):
            raise SetupError(
                f"setup: {venv} exists but holds no Python environment (no bin/python, no "
                "Scripts\\python.exe): delete it or point FUNDUS_VENV elsewhere"
            )
        version = sys.version_info[:2]
        message = check_python(version, None, asked=asked)
        if message:
            raise SetupError(message)
        base = None if asked else paddle_version(Path(sys.executable))

    wheel = why = None
    if have is None and base is None:
        cuda = None if asked else driver_cuda()
        wheel, why = choose_paddle(asked, cuda)
        problem = python_problem(version, wheel, cuda=cuda, asked=asked)
        if problem and python is None:
            raise SetupError(f"setup: {problem[0]}: {problem[1]}")
        if problem:
            raise SetupError(_rebuild(problem, venv, version))

    if python is None:
        if base is not None:
            built = f"{venv} would be built" if dry else f"building {venv}"
            say(
                f"{sys.executable} already has Paddle {base}; {built} on top of it "
                "(Paddle is not reinstalled)"
            )
        else:
            say(f"{'dry run: would create' if dry else 'creating'} {venv}")
        if not dry:
            python = create_venv(venv, system_site=base is not None)
            if base is not None:
                link_base_site_packages(python)
        have = base
    if have is not None:
        say(f"using the installed Paddle {have} (never installed over: CPU and GPU wheels collide)")
    else:
        say(f"installing {wheel}: {why}")
    if dry or python is None:
        say("dry run, nothing installed" + ("" if venv.exists() else " or created"))
        return 0
    _pip(python, ["--upgrade", "pip"], "pip", print_python)
    if wheel is not None:
        _pip(python, [wheel], wheel, print_python)
    say("installing requirements.txt and fundus_utils")
    _pip(python, ["-r", str(REPO / "requirements.txt")], "requirements.txt", print_python)
    _pip(python, ["--no-deps", "-e", str(REPO)], "fundus_utils", print_python)
    paddle = paddle_version(python)
    if paddle is None:
        shown = _shell_path(python)
        raise SetupError(
            f"setup: {python} cannot import paddle after the install: "
            f'`{shown} -c "import paddle"` says why'
        )
    say(f"ready: {python} (Paddle {paddle})")
    if print_python:
        print(python, flush=True)
    else:  # for whoever ran this file directly (Windows): the commands of course.sh and test.sh
        say(f"run the course with: {_shell_path(python)} -m fundus_utils course")
    return 0


def _shell_path(path: Path) -> str:
    """``path`` as typed in a shell: relative to the current folder when inside it, quoted if it
    has a space (PowerShell runs a quoted path only after ``&``)."""
    try:
        shown = str(path.relative_to(Path.cwd()))
    except ValueError:
        shown = str(path)
    if " " not in shown:
        return shown
    return f'& "{shown}"' if os.name == "nt" else shlex.quote(shown)


def main(argv: Optional[List[str]] = None) -> int:
    """The command line: python scripts/setup.py [--print-python]."""
    parser = argparse.ArgumentParser(
        description="Set up the course environment (see the module docstring)."
    )
    parser.add_argument(
        "--print-python",
        action="store_true",
        help="messages to stderr; stdout gets the environment's interpreter alone",
    )
    args = parser.parse_args(argv)
    for stream in (sys.stdout, sys.stderr):  # a path a GBK console cannot show must not crash
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    try:
        return setup(print_python=args.print_python)
    except SetupError as err:
        print(err.args[0], file=sys.stderr, flush=True)
        return err.args[1] if len(err.args) > 1 else 1
    except KeyboardInterrupt:
        print("setup: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
