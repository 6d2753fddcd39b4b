"""`application/problem+json` answers, as IO gives them, plus a stable `code`.

Every answer's `type` and `code` come from the catalogue in `problem_types`."""

from __future__ import annotations

import msgspec
from aiohttp import web

from worker.ingress.problem_types import find

PROBLEM = "application/problem+json"


class Problem(msgspec.Struct, omit_defaults=True):
    #: `/problems/<code>`: the problem type, the same on every deployment
    type: str
    title: str
    status: int
    detail: str
    #: the problem type's stable snake_case code (the last segment of `type`)
    code: str = ""


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """The answer; its type is `code`'s, else the catalogue's for `status` and `title`."""
    kind = find(status, title, code)
    body = msgspec.json.encode(
        Problem(
            type=kind.uri if kind else "about:blank",
            title=title,
            status=status,
            detail=detail,
            code=kind.code if kind else "",
        )
    )
    return web.Response(status=status, body=body, content_type=PROBLEM, headers=headers)


def invalid(detail: str) -> web.Response:
    return problem(400, "Invalid message structure", detail)


def json_response(
    value: object, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        body=msgspec.json.encode(value),
        content_type="application/json",
        headers=headers,
    )
