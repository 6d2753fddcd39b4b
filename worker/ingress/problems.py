"""`application/problem+json` answers, as IO gives them."""

from __future__ import annotations

import msgspec
from aiohttp import web

PROBLEM = "application/problem+json"


class Problem(msgspec.Struct, omit_defaults=True):
    type: str
    title: str
    status: int
    detail: str


def problem(
    status: int, title: str, detail: str, *, headers: dict[str, str] | None = None
) -> web.Response:
    body = msgspec.json.encode(
        Problem(type="about:blank", title=title, status=status, detail=detail)
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
