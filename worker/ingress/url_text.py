"""Query parameters and path segments follow the text rules of bodies (docs/integrators/sending.md).

A NUL, another control character, an unpaired surrogate, DEL or a character that
looks like something else (`text_rules.value_problem`) in a query parameter (name
or value) or a path segment answers 400 naming it, before any handler runs: such
text never reaches a query (PostgreSQL refuses a NUL with an error, which was a 500).
"""

from __future__ import annotations

from collections.abc import Iterator

from aiohttp import web

from worker.core.text_rules import TextProblem, value_problem
from worker.ingress.problems import problem


def _values(request: web.Request) -> Iterator[tuple[str, str]]:
    for name, value in request.match_info.items():
        yield name, value
    for name, value in request.query.items():
        yield f"{name} (a query parameter name)", name
        yield name, value


def url_problem(request: web.Request) -> TextProblem | None:
    """The first problem of the request's path segments and query, or None."""
    if not request.match_info and not request.rel_url.raw_query_string:
        return None  # nothing to check (a submit): no generator, no query parsed
    for name, value in _values(request):
        found = value_problem(name, value)
        if found is not None:
            return found
    return None


def url_refusal(request: web.Request) -> web.Response | None:
    """The 400 to answer before any handler runs, or None (the edge middleware calls it)."""
    found = url_problem(request)
    if found is not None:
        return problem(400, "Bad request", found.detail)
    return None
