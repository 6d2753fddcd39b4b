"""deploy/Dockerfile and .dockerignore, read as a builder would (no Docker engine here)."""

from __future__ import annotations

import fnmatch
import re
import tomllib

from tests.deploy.tools import DEPLOY, ROOT

DOCKERFILE = (DEPLOY / "Dockerfile").read_text()
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _context_includes(path: str) -> bool:
    """Whether .dockerignore lets `path` into the build context (last matching rule wins)."""
    included = True
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        rule = line.strip()
        if not rule or rule.startswith("#"):
            continue
        negate = rule.startswith("!")
        pattern = rule.lstrip("!").rstrip("/")
        if (
            fnmatch.fnmatch(path, pattern)
            or path.startswith(pattern + "/")
            or (pattern.startswith("**/") and fnmatch.fnmatch(path.rsplit("/", 1)[-1], pattern[3:]))
        ):
            included = negate
    return included


def test_the_base_image_is_pinned_by_digest_in_every_stage() -> None:
    [image] = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE, re.MULTILINE)
    assert re.fullmatch(r"python:3\.\d+-slim-\w+@sha256:[0-9a-f]{64}", image)
    froms = re.findall(r"^FROM (\S+)", DOCKERFILE, re.MULTILINE)
    assert froms == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]
    assert "imagetools inspect" in DOCKERFILE  # how to move the pin is written beside it


def test_uv_is_installed_from_hash_pinned_wheels_of_the_makefiles_version() -> None:
    assert "--require-hashes" in DOCKERFILE
    pins = (DEPLOY / "uv-requirements.txt").read_text()
    [version] = re.findall(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert f"uv=={version} \\" in pins
    assert len(re.findall(r"--hash=sha256:[0-9a-f]{64}", pins)) >= 2


def test_the_image_runs_as_a_numeric_user_and_installs_runtime_dependencies_only() -> None:
    [user] = re.findall(r"^USER (\S+)$", DOCKERFILE, re.MULTILINE)
    assert re.fullmatch(r"[1-9]\d{4,}:[1-9]\d{4,}", user)
    syncs = re.findall(r"uv sync [^\n]*", DOCKERFILE)
    assert syncs and all("--no-dev" in s and "--extra" not in s for s in syncs)
    assert "--all-extras" not in DOCKERFILE


def test_the_build_context_holds_what_the_image_copies_and_nothing_local() -> None:
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE, re.MULTILINE)
    sources = [s for line in copied for s in line.split()]
    force_included = PROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    for source in force_included:
        assert source in sources, f"the wheel needs {source}: COPY it in deploy/Dockerfile"
    for source in sources:
        assert _context_includes(source), f"{source} is copied but .dockerignore excludes it"
    for local in (".venv/bin/python", ".tools/bin/uv", "var/id-secret", ".git/HEAD", "tests"):
        assert not _context_includes(local), local
    assert (
        (ROOT / "LICENSE").read_text().startswith(" " * 22 + "EUROPEAN UNION PUBLIC LICENCE v. 1.2")
    )
    assert PROJECT["project"]["license"] == "EUPL-1.2"
