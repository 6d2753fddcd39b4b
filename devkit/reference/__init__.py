"""Reference pages generated from the code, so each fact is written once: `PAGES` maps a
page under docs/ to the function that renders it. `make reference` writes them;
`python -m devkit.reference --check` (and a unit test) fails when one is stale."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from devkit.reference import settings

ROOT = Path(__file__).resolve().parents[2]

#: Page (relative to the repository root) -> its renderer.
PAGES: dict[str, Callable[[], str]] = {
    "docs/reference/settings.md": settings.render,
}


def stale() -> list[str]:
    """The pages whose checked-in text differs from what the code renders now."""
    found = []
    for page, render in PAGES.items():
        path = ROOT / page
        if not path.is_file() or path.read_text() != render():
            found.append(page)
    return found


def write() -> list[str]:
    """Render every page; returns the ones that changed."""
    changed = stale()
    for page in changed:
        path = ROOT / page
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(PAGES[page]())
    return changed
