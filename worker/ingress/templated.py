"""Submit by template: the body's `template` becomes `content.subject` and `.markdown`.

`from_template(raw, service, cache)` turns a templated body into the plain body a
sender could have written, so the filled text then goes through the one submit path
and every rule of a message (docs/integrators/sending.md: lengths, text rules, no
personal data in the subject) applies to it as to any text. The values were checked
before filling by the same text rules (a value is one line of text: no control
characters).

A body without `"template"` costs one substring search: the cache is in memory, the
database is never asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from schemas.messages import TemplatedMessage
from worker.core.text_rules import MESSAGE_MULTILINE
from worker.ingress.bodies import BodyError, decode_body
from worker.services.directory import Service
from worker.services.templates import TemplateCache, TemplateError, fill

_KEY = b'"template"'
_GENERIC = msgspec.json.Decoder(dict[str, Any])
_ENCODE = msgspec.json.Encoder()


class _Probe(msgspec.Struct):
    """Only whether the body names a template (every other field ignored here)."""

    template: Any = None


_PROBE = msgspec.json.Decoder(_Probe)


@dataclass(frozen=True, slots=True)
class Filled:
    """The plain body, and the template version it was written from."""

    body: bytes
    template_id: str
    template_version: int


class TemplateRefused(Exception):
    """The 400's detail: a templated body that cannot be filled."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _names_template(raw: bytes) -> bool:
    if _KEY not in raw:
        return False
    try:
        return _PROBE.decode(raw).template is not None
    except (msgspec.DecodeError, msgspec.ValidationError):
        return False  # the plain path says what is wrong with it


def from_template(raw: bytes, service: Service, cache: TemplateCache) -> Filled | None:
    """The filled body (None: `raw` names no template); raises `TemplateRefused`."""
    if not _names_template(raw):
        return None
    try:
        message = decode_body(raw, TemplatedMessage, multiline=MESSAGE_MULTILINE)
    except BodyError as exc:
        raise TemplateRefused(exc.detail) from exc
    for written in ("subject", "markdown"):
        if written in message.content:
            raise TemplateRefused(f"content.{written}: give a template or the text, not both")
    ref = message.template
    try:
        template = cache.find(service.id, ref.id, ref.version)
        subject, markdown = fill(template, ref.values)
    except TemplateError as exc:
        raise TemplateRefused(str(exc)) from exc
    body = _GENERIC.decode(raw)
    del body["template"]
    body["content"] = {**message.content, "subject": subject, "markdown": markdown}
    return Filled(_ENCODE.encode(body), template.id, template.version)
