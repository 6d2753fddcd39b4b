"""Pages generated from the code and the checked-in contracts, so each fact is written
once: `PAGES` maps a page under docs/ to the function that renders it, from the settings
declarations, the OpenAPI and AsyncAPI documents, `deploy/topics.yaml`, the metrics
registry, the command line and the problem catalogue. `make reference` writes them
(`make schemas` too, after the contracts); `python -m devkit.reference --check` and a
unit test fail when one is stale. Rendering is deterministic and offline."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from devkit.reference import api, cli, errors, kafka, metrics, settings, topics

ROOT = Path(__file__).resolve().parents[2]

#: Page (relative to the repository root) -> its renderer.
PAGES: dict[str, Callable[[], str]] = {
    "docs/reference/settings.md": settings.render,
    "docs/reference/topics.md": topics.render,
    "docs/reference/metrics.md": metrics.render,
    "docs/reference/cli.md": cli.render,
    "docs/integrators/api.md": api.render,
    "docs/integrators/errors.md": errors.render,
    "docs/producers/contract.md": kafka.render,
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
