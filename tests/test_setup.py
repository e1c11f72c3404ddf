"""scripts/setup.py, the set-up for Windows, macOS and Linux, and the bash scripts that call it.

No network and no installs: the version check is unit-tested and the real script runs in dry-run
mode (which creates nothing) under the interpreters pyenv has here; a venv creation that fails
the Debian way is simulated with a stand-in ``venv`` module; course.sh and test.sh run against a
stand-in interpreter that only records how it was called.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import sysconfig
import types
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "setup.py"
_spec = importlib.util.spec_from_file_location("course_setup", SCRIPT)
setup = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(setup)

PYENV = Path("/root/.pyenv/versions")
PY39, PY312, PY313 = (PYENV / v / "bin" / "python3" for v in ("3.9.18", "3.12.1", "3.13.0"))
LINUX_FIX = "install Python 3.12 or 3.13 and run `PYTHON=python3.12 bash scripts/setup.sh`"
GPU_FIX = "install Python 3.12 and run `PYTHON=python3.12 bash scripts/setup.sh`"


# --- the version check -----------------------------------------------------------------------

# (wheel, the Python minors it may be installed on); None: Paddle is already there
SUPPORTED = [
    (None, {10, 12, 13, 14}),
    ("paddlepaddle", {10, 12, 13}),
    ("paddlepaddle==3.3.1", {10, 12, 13}),
    ("paddlepaddle==2.6.2", {10, 12}),
    ("paddlepaddle-gpu", {10, 12}),
    ("paddlepaddle-gpu==2.6.2", {10, 12}),
    ("paddlepaddle-gpu==3.2.0", {10, 12, 13}),
]


@pytest.mark.parametrize("minor", [9, 10, 12, 13, 14])
@pytest.mark.parametrize("wheel, ok", SUPPORTED)
def test_check_python_accepts_exactly_the_pythons_with_a_wheel(wheel, ok, minor):
    message = setup.check_python((3, minor), wheel, platform="linux")
    if minor in ok:
        assert message is None
    else:
        assert message is not None and "\n" not in message
        assert message.startswith(f"setup: Python 3.{minor} ")
        assert "PYTHON=python3.12 bash scripts/setup.sh" in message


def test_the_lines_printed_for_3_9_and_3_14():
    assert setup.check_python((3, 9, 18), "paddlepaddle", platform="linux") == (
        "setup: Python 3.9 is too old (the course needs Python 3.10 or newer): " + LINUX_FIX
    )
    assert setup.check_python((3, 14, 0), "paddlepaddle", platform="linux") == (
        "setup: Python 3.14 has no paddlepaddle wheel yet (Paddle 3.x has wheels for Python 3.9 "
        "to 3.13): " + LINUX_FIX
    )


def test_the_fix_is_the_platforms_command():
    windows = setup.check_python((3, 14), "paddlepaddle", platform="win32")
    assert windows.endswith(
        "install Python 3.12 or 3.13 from python.org and run `py -3.12 scripts\\setup.py`"
    )
    assert "bash" not in windows
    mac = setup.check_python((3, 9), "paddlepaddle", platform="darwin")
    assert "(python.org, or `brew install python@3.12`)" in mac
    assert mac.endswith("run `PYTHON=python3.12 bash scripts/setup.sh`")


def test_a_pinned_wheel_is_kept_in_the_suggested_command():
    message = setup.check_python(
        (3, 13), "paddlepaddle==2.6.2", platform="linux", asked="paddlepaddle==2.6.2"
    )
    assert message == (
        "setup: Python 3.13 has no paddlepaddle==2.6.2 wheel (Paddle 2.6 has wheels for Python "
        "3.8 to 3.12): install Python 3.12 and run "
        "`FUNDUS_PADDLE=paddlepaddle==2.6.2 PYTHON=python3.12 bash scripts/setup.sh`"
    )


@pytest.mark.parametrize("cuda, index", [("12.4", "cu118"), ("12.6", "cu126"), (None, "cu126")])
def test_the_gpu_wheel_on_3_13_offers_paddle_3_from_paddles_index(cuda, index):
    message = setup.check_python((3, 13), "paddlepaddle-gpu", platform="linux", cuda=cuda)
    assert message.startswith(
        "setup: Python 3.13 has no paddlepaddle-gpu wheel (PyPI's newest, Paddle 2.6.2, has "
        f"wheels for Python 3.8 to 3.12): {GPU_FIX}, or install Paddle 3.x"
    )
    assert "`python3.13 -m pip install paddlepaddle-gpu==3.2.0 -i " in message
    assert f"/packages/stable/{index}/`) and run this again" in message
    asked = setup.check_python((3, 13), "paddlepaddle-gpu", platform="linux", asked="x")
    assert asked.endswith("and run this again without FUNDUS_PADDLE")
    # Paddle 3.x has no 3.14 wheel either; asking for Paddle 2.6 by name is not answered with 3.x
    assert setup.check_python((3, 14), "paddlepaddle-gpu", "linux", cuda) == (
        "setup: Python 3.14 has no paddlepaddle-gpu wheel yet (PyPI's newest, Paddle 2.6.2, has "
        f"wheels for Python 3.8 to 3.12): {GPU_FIX}"
    )
    assert "Paddle 3.x" not in setup.check_python((3, 13), "paddlepaddle-gpu==2.6.2", "linux")


def test_other_wheel_spellings():
    assert setup.check_python((3, 13), "PaddlePaddle_GPU", platform="linux") is not None
    # only the course's own 3.10+ where the range is not known: pip decides
    assert setup.check_python((3, 14), "paddlepaddle>=3", platform="linux") is None
    assert setup.check_python((3, 9), "paddlepaddle>=3", platform="linux") is not None
    wheel = "/w/paddlepaddle_gpu-3.2.0-cp312-cp312-linux_x86_64.whl"
    assert setup.check_python((3, 12), wheel, platform="linux") is None
    assert setup.check_python((3, 11), wheel, platform="linux") == (
        "setup: Python 3.11 cannot install paddlepaddle_gpu-3.2.0-cp312-cp312-linux_x86_64.whl "
        "(a wheel for Python 3.12 only): install Python 3.12 and run "
        "`PYTHON=python3.12 bash scripts/setup.sh`"
    )
    mac_gpu = setup.check_python((3, 12), "paddlepaddle-gpu", platform="darwin")
    assert mac_gpu.startswith("setup: paddlepaddle-gpu has no macOS wheels")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux wording of the fix")
@pytest.mark.parametrize("cuda", [None, "12.6"])
def test_python_3_14_emulated_stops_before_creating_anything(tmp_path, monkeypatch, capsys, cuda):
    """3.14 is not installed here: the script's whole flow (not a dry run) under a stand-in
    ``sys.version_info``, without a GPU and with one."""
    emulated = types.SimpleNamespace(**{**vars(sys), "version_info": (3, 14, 0, "final", 0)})
    monkeypatch.setattr(setup, "sys", emulated)
    monkeypatch.setattr(setup, "paddle_version", lambda python: None)  # no Paddle yet
    monkeypatch.setattr(setup, "driver_cuda", lambda: cuda)
    monkeypatch.setattr(setup, "create_venv", lambda *a: pytest.fail("created a venv"))
    monkeypatch.setenv("FUNDUS_VENV", str(tmp_path / "venv"))
    for name in ("FUNDUS_PADDLE", "FUNDUS_SETUP_DRY_RUN"):
        monkeypatch.delenv(name, raising=False)
    assert setup.main([]) == 1
    out, err = capsys.readouterr()
    wheel = "paddlepaddle-gpu" if cuda else "paddlepaddle"
    why = (
        "PyPI's newest, Paddle 2.6.2, has wheels for Python 3.8 to 3.12): " + GPU_FIX
        if cuda
        else "Paddle 3.x has wheels for Python 3.9 to 3.13): " + LINUX_FIX
    )
    expected = f"setup: Python 3.14 has no {wheel} wheel yet ({why}\n"
    assert (out, err) == ("", expected)
    assert not (tmp_path / "venv").exists()


# --- the environment's interpreter, venv failures --------------------------------------------


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_venv_python_finds_either_layout(tmp_path):
    posix, nt, both = tmp_path / "posix", tmp_path / "nt", tmp_path / "both"
    assert setup.venv_python(posix) is None
    assert setup.venv_python(posix, windows=False) is None
    bin_python = _touch(posix / "bin" / "python")
    exe = _touch(nt / "Scripts" / "python.exe")
    for windows in (False, True):
        assert setup.venv_python(posix, windows=windows) == bin_python
        assert setup.venv_python(nt, windows=windows) == exe
    _touch(both / "bin" / "python")
    _touch(both / "Scripts" / "python.exe")
    assert setup.venv_python(both, windows=True).name == "python.exe"
    assert setup.venv_python(both, windows=False).name == "python"
    (tmp_path / "dir-only" / "bin" / "python").mkdir(parents=True)  # not an interpreter
    assert setup.venv_python(tmp_path / "dir-only") is None


DEBIAN_OUTPUT = """\
The virtual environment was not created successfully because ensurepip is not
available.  On Debian/Ubuntu systems, you need to install the python3-venv
package using the following command.

    apt install python3.11-venv

You may need to use sudo with that command.  After installing the python3-venv
package, recreate your virtual environment.

Failing command: /work/.venv/bin/python3
"""
UPSTREAM_OUTPUT = (
    "Error: Command '['/env/bin/python3', '-Im', 'ensurepip', '--upgrade', '--default-pip']' "
    "returned non-zero exit status 1.\n"
)


@pytest.mark.parametrize(
    "output, debian",
    [(DEBIAN_OUTPUT, False), (DEBIAN_OUTPUT.replace("apt install", "apt-get install"), False)]
    + [(UPSTREAM_OUTPUT, True)],
)
def test_the_debian_venv_failure_is_one_line_with_the_apt_command(output, debian):
    hint = setup.venv_failure_hint(output, Path("/work/.venv"), (3, 11, 2), debian)
    assert hint == (
        "setup: cannot create /work/.venv: this Python 3.11 has no ensurepip (Debian and Ubuntu "
        "ship it apart): run `sudo apt install python3.11-venv` (python3-venv for the system's "
        "default python3), then run this again"
    )


def test_other_venv_failures_are_named():
    elsewhere = setup.venv_failure_hint(UPSTREAM_OUTPUT, Path("/v"), (3, 12), debian=False)
    assert "no ensurepip" in elsewhere and "apt" not in elsewhere
    denied = "Error: [Errno 13] Permission denied: '/v'"
    other = setup.venv_failure_hint(denied + "\n", Path("/v"), (3, 12), debian=False)
    assert other == f"setup: python -m venv could not create /v: {denied}"


def test_link_base_site_packages_exposes_the_running_pythons_packages(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = setup.venv_python(venv)
    assert python is not None
    pth = setup.link_base_site_packages(python)
    assert pth.name == "base-environment.pth" and venv.resolve() in pth.resolve().parents
    seen = subprocess.run(
        [str(python), "-c", "import sys; print('\\n'.join(sys.path))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert sysconfig.get_paths()["purelib"] in seen  # where this runner's packages (Paddle) are


@pytest.mark.parametrize("installed", [None, "3.3.1"])
@pytest.mark.parametrize("print_python", [True, False])
def test_the_install_steps_and_the_interpreter_printed_at_the_end(
    tmp_path, monkeypatch, capsys, installed, print_python
):
    """An existing environment (its interpreter, pip and Paddle stubbed): what is installed, in
    which order, and where the messages and the interpreter's path go."""
    python = _touch(tmp_path / "venv" / "bin" / "python")
    monkeypatch.setenv("FUNDUS_VENV", str(tmp_path / "venv"))
    monkeypatch.setenv("FUNDUS_PADDLE", "paddlepaddle==2.6.2")
    monkeypatch.delenv("FUNDUS_SETUP_DRY_RUN", raising=False)
    monkeypatch.setattr(setup, "probe_venv", lambda path: ((3, 12), True))
    versions = iter([installed, installed or "2.6.2"])  # before, after
    monkeypatch.setattr(setup, "paddle_version", lambda path: next(versions))
    calls = []
    monkeypatch.setattr(setup, "_pip", lambda *call: calls.append(call))
    assert setup.setup(print_python=print_python) == 0
    out, err = capsys.readouterr()
    first = (
        "setup: installing paddlepaddle==2.6.2: asked for by FUNDUS_PADDLE"
        if installed is None
        else "setup: using the installed Paddle 3.3.1 (never installed over: CPU and GPU wheels "
        "collide)"
    )
    said = [
        first,
        "setup: installing requirements.txt and fundus_utils",
        f"setup: ready: {python} (Paddle {installed or '2.6.2'})",
    ]
    if print_python:
        assert (out, err.splitlines()) == (f"{python}\n", said)
    else:
        run = f"setup: run the course with: {python} -m fundus_utils course"
        assert (out.splitlines(), err) == (said + [run], "")
    wheel = [["paddlepaddle==2.6.2"]] if installed is None else []
    assert [call[1] for call in calls] == [["--upgrade", "pip"]] + wheel + [
        ["-r", str(REPO / "requirements.txt")],
        ["--no-deps", "-e", str(REPO)],
    ]
    assert all(call[0] == python and call[3] == print_python for call in calls)


def test_a_paddle_that_does_not_import_after_the_install_is_an_error(tmp_path, monkeypatch):
    python = _touch(tmp_path / "venv" / "bin" / "python")
    monkeypatch.setenv("FUNDUS_VENV", str(tmp_path / "venv"))
    monkeypatch.setenv("FUNDUS_PADDLE", "paddlepaddle")
    monkeypatch.delenv("FUNDUS_SETUP_DRY_RUN", raising=False)
    monkeypatch.setattr(setup, "probe_venv", lambda path: ((3, 12), True))
    monkeypatch.setattr(setup, "paddle_version", lambda path: None)
    monkeypatch.setattr(setup, "_pip", lambda *call: None)
    with pytest.raises(setup.SetupError, match="cannot import paddle after the install") as err:
        setup.setup()
    assert str(python) in str(err.value) and "\n" not in str(err.value)


# --- the real script, dry run and failures -----------------------------------------------------


def _env(tmp_path: Path, **extra: str) -> dict:
    """A clean environment for the script: no nvidia-smi, no set-up variables from outside."""
    path = os.pathsep.join(
        p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "nvidia-smi").exists()
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FUNDUS_", "PYTHON"))}
    env.update(PATH=path, FUNDUS_VENV=str(tmp_path / "venv"), PIP_NO_INDEX="1")
    env.update(extra)
    return env


def _run(command: list, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def _need(python: Path) -> None:
    if not python.exists():
        pytest.skip(f"{python} is not installed here")


DRY_RUNS = [
    # interpreter, FUNDUS_PADDLE, exit code, the line it prints (stdout if 0, else stderr)
    (PY39, "", 1, "setup: Python 3.9 is too old (the course needs Python 3.10 or newer): "),
    (PY312, "", 0, "setup: installing paddlepaddle: no GPU: nvidia-smi is missing or sees none"),
    (PY313, "", 0, "setup: installing paddlepaddle: no GPU: nvidia-smi is missing or sees none"),
    (
        PY312,
        "paddlepaddle-gpu",
        0,
        "setup: installing paddlepaddle-gpu: asked for by FUNDUS_PADDLE",
    ),
    (PY313, "paddlepaddle-gpu", 1, "setup: Python 3.13 has no paddlepaddle-gpu wheel (PyPI's "),
    (PY313, "paddlepaddle==2.6.2", 1, "setup: Python 3.13 has no paddlepaddle==2.6.2 wheel "),
    (PY312, "paddlepaddle==2.6.2", 0, "setup: installing paddlepaddle==2.6.2: asked for by"),
]


@pytest.mark.parametrize("python, paddle, code, line", DRY_RUNS)
def test_dry_run_under_each_python(tmp_path, python, paddle, code, line):
    _need(python)
    env = _env(tmp_path, FUNDUS_SETUP_DRY_RUN="1", FUNDUS_PADDLE=paddle)
    done = _run([str(python), str(SCRIPT)], env)
    assert done.returncode == code, done.stderr
    if code:
        assert done.stdout == ""
        assert done.stderr.startswith(line) and done.stderr.count("\n") == 1
    else:
        assert line in done.stdout
        assert done.stdout.endswith("setup: dry run, nothing installed or created\n")
    assert not (tmp_path / "venv").exists()


def test_setup_sh_runs_setup_py_with_PYTHON(tmp_path):
    _need(PY39)
    env = _env(tmp_path, FUNDUS_SETUP_DRY_RUN="1", PYTHON=str(PY39))
    done = _run(["bash", str(REPO / "scripts" / "setup.sh")], env)
    assert done.returncode == 1
    assert done.stderr == (
        "setup: Python 3.9 is too old (the course needs Python 3.10 or newer): " + LINUX_FIX + "\n"
    )
    assert not (tmp_path / "venv").exists()
    env["PYTHON"] = "python3.99"
    missing = _run(["bash", str(REPO / "scripts" / "setup.sh")], env)
    assert missing.returncode == 1
    assert missing.stderr.startswith("setup: python3.99 not found: install Python 3.12")
    py27 = PYENV / "2.7.18" / "bin" / "python"
    if py27.exists():  # cannot even parse setup.py: setup.sh asks first
        env["PYTHON"] = str(py27)
        old = _run(["bash", str(REPO / "scripts" / "setup.sh")], env)
        assert old.returncode == 1
        assert old.stderr.startswith(f"setup: {py27} is older than Python 3.6: install Python 3.12")


def test_an_environment_built_with_3_9_is_named_and_left_alone(tmp_path):
    _need(PY39)
    _need(PY312)
    subprocess.run([str(PY39), "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)
    done = _run([str(PY312), str(SCRIPT)], _env(tmp_path, FUNDUS_SETUP_DRY_RUN="1"))
    assert done.returncode == 1
    assert done.stderr == (
        f"setup: {tmp_path / 'venv'} was built with Python 3.9; Python 3.9 is too old (the course "
        f"needs Python 3.10 or newer): delete it, then {LINUX_FIX}\n"
    )
    assert (tmp_path / "venv" / "bin" / "python").exists()


def test_print_python_sends_the_messages_to_stderr(tmp_path):
    done = _run(
        [sys.executable, str(SCRIPT), "--print-python"],
        _env(tmp_path, FUNDUS_SETUP_DRY_RUN="1", FUNDUS_PADDLE="paddlepaddle"),
    )
    assert done.returncode == 0 and done.stdout == ""
    assert "setup: installing paddlepaddle: asked for by FUNDUS_PADDLE" in done.stderr


def test_a_venv_that_fails_the_debian_way_gives_the_apt_command(tmp_path):
    """``python -m venv`` is a stand-in that fails as Debian's does when python3-venv is missing
    (and leaves a half environment behind); pip has no index, should anything get that far."""
    fake = tmp_path / "fake" / "venv"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("", encoding="utf-8")
    (fake / "__main__.py").write_text(
        "import os, sys\n"
        "os.makedirs(os.path.join(sys.argv[-1], 'bin'))\n"
        "open(os.path.join(sys.argv[-1], 'bin', 'python'), 'w').close()\n"
        f"print({DEBIAN_OUTPUT!r})\n"
        "sys.exit(1)\n",
        encoding="utf-8",
    )
    env = _env(tmp_path, FUNDUS_PADDLE="paddlepaddle", PYTHONPATH=str(fake.parent))
    done = _run([sys.executable, str(SCRIPT)], env)
    minor = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert done.returncode == 1
    assert done.stdout == f"setup: creating {tmp_path / 'venv'}\n"
    assert done.stderr == (
        f"setup: cannot create {tmp_path / 'venv'}: this Python {minor} has no ensurepip (Debian "
        f"and Ubuntu ship it apart): run `sudo apt install python{minor}-venv` (python3-venv for "
        "the system's default python3), then run this again\n"
    )
    assert not (tmp_path / "venv").exists()  # no half environment for the next run to trust


# --- course.sh and test.sh take the interpreter setup.py prints --------------------------------


def _stand_in_python(tmp_path: Path) -> dict:
    """PYTHON that records its arguments and prints a stand-in environment interpreter, which
    records its own calls (with the folder it runs in) and succeeds."""
    log = tmp_path / "calls.log"
    env_python = tmp_path / "venv" / "bin" / "python"
    env_python.parent.mkdir(parents=True)
    env_python.write_text(f'#!/bin/sh\necho "venv $PWD $*" >> "{log}"\n', encoding="utf-8")
    base = tmp_path / "base-python"
    base.write_text(
        "#!/bin/sh\n"
        '[ "$1" = -c ] && exit 0\n'  # setup.sh's "is it Python 3.6+" question
        f'echo "base $*" >> "{log}"\necho "setup: stand-in" >&2\necho "{env_python}"\n',
        encoding="utf-8",
    )
    for script in (env_python, base):
        script.chmod(0o755)
    return {"PYTHON": str(base), "LOG": str(log)}


def test_course_sh_runs_the_course_with_the_printed_interpreter(tmp_path):
    fake = _stand_in_python(tmp_path)
    env = _env(tmp_path, PYTHON=fake["PYTHON"])
    done = _run(["bash", str(REPO / "scripts" / "course.sh"), "--quick", "--seed", "1"], env)
    assert done.returncode == 0, done.stderr
    assert Path(fake["LOG"]).read_text(encoding="utf-8").splitlines() == [
        f"base {SCRIPT} --print-python",
        f"venv {REPO} -m fundus_utils course --quick --seed 1",
    ]
    assert done.stderr == "setup: stand-in\n"


def test_test_sh_installs_lints_and_tests_with_the_printed_interpreter(tmp_path):
    fake = _stand_in_python(tmp_path)
    env = _env(tmp_path, PYTHON=fake["PYTHON"])
    done = _run(["bash", str(REPO / "scripts" / "test.sh"), "-x"], env)
    assert done.returncode == 0, done.stderr
    calls = Path(fake["LOG"]).read_text(encoding="utf-8").splitlines()
    assert calls[0] == f"base {SCRIPT} --print-python"
    assert calls[1].endswith(f"-m pip install -q -r {REPO / 'requirements-test.txt'}")
    assert [c.split(" ", 2)[2] for c in calls[2:5]] == [  # scripts/lint.sh, in FUNDUS_VENV
        "-m ruff check --quiet .",
        "-m ruff format --check --quiet .",
        "scripts/clean_notebooks.py --check",
    ]
    notebooks = sorted(str(p.relative_to(REPO)) for p in (REPO / "notebooks").glob("*.ipynb"))
    assert calls[5].startswith(f"venv {REPO} -m pytest tests {' '.join(notebooks)} notebooks/zh/")
    assert calls[5].endswith(
        "--nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg --durations=15 -x"
    )
    assert len(calls) == 6


@pytest.mark.parametrize("script", ["course.sh", "test.sh"])
def test_a_dry_run_of_course_sh_and_test_sh_stops_after_the_set_up(tmp_path, script):
    env = _env(tmp_path, FUNDUS_SETUP_DRY_RUN="1", FUNDUS_PADDLE="paddlepaddle")
    env["PYTHON"] = sys.executable
    done = _run(["bash", str(REPO / "scripts" / script)], env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr.endswith("setup: dry run, nothing installed or created\n")
    assert not (tmp_path / "venv").exists()
