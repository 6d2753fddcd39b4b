"""The one decoder of JSON request bodies, with one text per kind of failure:
`body: empty; ...`, text no store can carry or nesting too deep (docs/integrators/sending.md,
`worker.core.text_rules`), `body: not valid JSON; ...`, or `<field path>: <what>`."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any, TypeVar

import msgspec
from aiohttp import web

from worker.core.text_rules import body_problem
from worker.ingress.problems import problem

T = TypeVar("T")

_AT = re.compile(r"^(?P<what>.*?) - at `\$(?P<path>[^`]*)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]+)`$")
_DECODERS: dict[Any, msgspec.json.Decoder[Any]] = {}

EMPTY = "body: empty; expected a JSON object"
NOT_JSON = "body: not valid JSON; expected a JSON object"


def field_error(exc: msgspec.ValidationError) -> str:
    """msgspec's "Expected ... - at `$.content.subject`" as "content.subject: expected ..."."""
    text = str(exc)
    match = _AT.match(text)
    path, what = (match["path"].lstrip("."), match["what"]) if match else ("", text)
    missing = _MISSING.match(what)
    if missing is not None:
        return f"{path + '.' if path else ''}{missing['field']}: required"
    return f"{path or 'body'}: {what[:1].lower()}{what[1:]}"


class BodyError(Exception):
    """Why a body was refused: `detail` is the text of the 400."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def decode_body(
    raw: bytes,
    body_type: type[T],
    *,
    multiline: Collection[str] = (),
    empty_as: bytes | None = None,
) -> T:
    """The body as `body_type`; raises `BodyError`. Only the fields named in
    `multiline` may hold line breaks and tabs. An empty body is refused unless
    `empty_as` stands in for it (`b"{}"`: every field optional)."""
    if not raw.strip():
        if empty_as is None:
            raise BodyError(EMPTY)
        raw = empty_as
    refused = body_problem(raw, multiline=multiline)
    if refused is not None:  # before decoding: text no store can carry, or too deep
        raise BodyError(refused.detail)
    decoder = _DECODERS.get(body_type)
    if decoder is None:
        decoder = _DECODERS[body_type] = msgspec.json.Decoder(body_type)
    try:
        decoded: T = decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise BodyError(field_error(exc)) from exc
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise BodyError(NOT_JSON) from exc
    return decoded


async def read_body(
    request: web.Request,
    body_type: type[T],
    *,
    multiline: Collection[str] = (),
    empty_as: bytes | None = None,
) -> T | web.Response:
    """The request's body as `body_type`, or the 400 problem that refuses it."""
    raw = await request.read()
    try:
        return decode_body(raw, body_type, multiline=multiline, empty_as=empty_as)
    except BodyError as exc:
        return problem(400, "Bad request", exc.detail)
