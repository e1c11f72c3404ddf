"""check_environment: every missing module named at once, with the command that installs it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from fundus_utils.core import environment
from fundus_utils.core.environment import subprocess_env

import pytest


def test_all_installed_says_so(capsys):
    environment.check_environment(aistudio=False)
    assert "all 10 modules the course needs are installed" in capsys.readouterr().out


def test_missing_modules_are_named_with_one_pip_command(monkeypatch):
    monkeypatch.setitem(environment.REQUIRED_MODULES, "no_such_module_a", "dist-a")
    monkeypatch.setitem(environment.REQUIRED_MODULES, "no_such_module_b", "dist-b")
    with pytest.raises(environment.MissingModules) as error:
        environment.check_environment(aistudio=False)
    message = str(error.value)
    assert "no_such_module_a, no_such_module_b" in message
    assert "-m pip install dist-a dist-b" in message


def test_on_aistudio_the_install_is_persistent(monkeypatch):
    monkeypatch.setitem(environment.REQUIRED_MODULES, "no_such_module_a", "dist-a")
    with pytest.raises(ImportError) as error:
        environment.check_environment(aistudio=True)
    lines = str(error.value).splitlines()
    assert "!pip install -t /home/aistudio/external-libraries dist-a" in lines
    assert "import sys; sys.path.append('/home/aistudio/external-libraries')" in lines


def test_subprocess_env_extends_pythonpath_with_the_kernels_path(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/opt/earlier")
    monkeypatch.setattr(sys, "path", [*sys.path, "/home/aistudio/external-libraries"])
    env = subprocess_env(PYTHONUNBUFFERED="1")
    folders = env["PYTHONPATH"].split(os.pathsep)
    assert folders[1] == "/opt/earlier"  # kept, after the package's folder
    assert "/home/aistudio/external-libraries" in folders
    assert (Path(folders[0]) / "fundus_utils" / "__init__.py").is_file()
    assert env["PYTHONUNBUFFERED"] == "1" and len(folders) == len(set(folders))
