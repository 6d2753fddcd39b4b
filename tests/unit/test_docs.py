"""The documentation: the site builds strictly, the generated reference is fresh, the
README is a short door whose links resolve, and nothing cites a file outside the
repository."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from devkit import reference

ROOT = Path(__file__).resolve().parents[2]
#: Files beside the checkout that the repository must never send a reader to.
_OUTSIDE = re.compile(r"\b(?:DESIGN\.md|STYLE\.md|IO-RULES)")
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_every_generated_reference_page_is_what_its_generator_renders() -> None:
    stale = reference.stale()
    assert stale == [], f"stale generated pages {stale}: run `make reference` and commit"


def test_the_site_builds_strictly_offline(tmp_path: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    site = str(tmp_path / "site")
    built = subprocess.run(  # noqa: S603 (a fixed command line)
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", site],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    assert (tmp_path / "site" / "integrators" / "api" / "index.html").exists()


def test_the_readme_is_a_short_door_whose_links_all_resolve() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    links = _LINK.findall(readme)
    assert links, "the README points to the docs"
    for link in links:
        assert "://" not in link, f"{link}: link into the repository, not out of it"
        target = ROOT / link.split("#", 1)[0]
        assert target.exists(), f"README links to {link}, which does not exist"


def _tracked() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files"],  # noqa: S607 (git from PATH, as a developer runs it)
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [name for name in listed if (ROOT / name).is_file()]


def test_nothing_in_the_repository_cites_a_file_outside_it() -> None:
    citing = []
    for name in _tracked():
        if name == Path(__file__).relative_to(ROOT).as_posix():
            continue
        try:
            text = (ROOT / name).read_text()
        except UnicodeDecodeError:
            continue
        citing += [f"{name}: {m}" for m in _OUTSIDE.findall(text)]
    assert citing == [], "cite the docs/ page that says it instead"


def _layer_position(section: str, module: str) -> int:
    """Where the architecture page first names a module: `worker/roles/`, `worker/ops.py`,
    or, for the shared layer, its bare name in backticks (`settings`)."""
    path = module.replace(".", "/")
    spots = [section.find(form) for form in (f"`{path}", f"`{module.rsplit('.', 1)[-1]}`")]
    found = [spot for spot in spots if spot >= 0]
    assert found, f"the architecture page does not name {module}"
    return min(found)


def test_the_architecture_page_lists_the_import_contract_layers_in_order() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contract = next(c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers")
    page = (ROOT / "docs" / "architecture" / "index.md").read_text()
    section = page.split("\n## Layers\n", 1)[1].split("\n## ", 1)[0]
    positions = [
        min(_layer_position(section, m.strip()) for m in layer.split(":"))
        for layer in contract["layers"]
    ]
    assert positions == sorted(positions), "the page's order differs from pyproject.toml's"


def test_every_source_path_the_docs_name_exists() -> None:
    """A page that names `worker/...`, `schemas/...`, `devkit/...` or `tests/...` sends a
    reader to a file: after a move, the page must follow."""
    named = re.compile(r"`((?:worker|schemas|devkit|tests)/[A-Za-z0-9_./-]+?)[.,:;]?`")
    missing = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for path in named.findall(page.read_text()):
            if not (ROOT / path.rstrip("/")).exists():
                missing.append(f"{page.relative_to(ROOT)}: {path}")
    assert missing == []
