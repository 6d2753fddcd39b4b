"""Documentation pages generated from the code and the checked-in contracts.

Each page of `PAGES` is rendered from its source (the OpenAPI and AsyncAPI documents,
`deploy/topics.yaml`, the metrics registry, the command line, the problem catalogue,
the settings declarations). `make reference` (`python -m devkit.docsgen --write`)
writes them under `docs/`; a test fails when a checked-in page differs from what its
generator renders now, so the reference never drifts from the code. Rendering is
deterministic and offline.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from devkit.docsgen import api, cli, errors, kafka, metrics, settings, topics

ROOT = Path(__file__).resolve().parents[2]
DOCS = "docs"

#: Page (relative to docs/) -> its generator; a generator returning None leaves the
#: page to be written by hand (see `devkit.docsgen.settings`).
PAGES: dict[str, Callable[[Path], str | None]] = {
    "integrators/api.md": api.render,
    "integrators/errors.md": errors.render,
    "producers/contract.md": kafka.render,
    "reference/topics.md": topics.render,
    "reference/metrics.md": metrics.render,
    "reference/cli.md": cli.render,
    "reference/settings.md": settings.render,
}


def rendered(root: Path = ROOT) -> dict[Path, str]:
    """Every generated page by its path, as its generator renders it now."""
    found: dict[Path, str] = {}
    for page, render in PAGES.items():
        text = render(root)
        if text is not None:
            found[root / DOCS / page] = text
    return found


def stale(root: Path = ROOT) -> list[Path]:
    """The generated pages whose checked-in text differs from their generator's."""
    return [
        path
        for path, text in rendered(root).items()
        if not path.exists() or path.read_text() != text
    ]


def write(root: Path = ROOT) -> list[Path]:
    """Write the stale pages; returns them."""
    changed = stale(root)
    pages = rendered(root)
    for path in changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(pages[path])
    return changed
