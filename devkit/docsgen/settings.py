"""The settings reference page: the slot the typed settings declarations fill.

Contract: `render(root)` returns the whole Markdown of `docs/reference/settings.md`
(start it with `BANNER`; one table per section: variable, type, default, description),
generated from the declarations in `worker/settings.py`. While it returns None,
`make reference` leaves that page as it is (written by hand) and the staleness test
skips it; once it returns the page, the page is generated and checked like the others.
"""

from __future__ import annotations

from pathlib import Path


def render(root: Path) -> str | None:
    del root
    return None
