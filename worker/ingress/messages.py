"""Sender API: submit a message, read its status (docs/integrators/sending.md).

Submit runs the checks of 1.2 in order (body, personal data, gating, CIDRs, limits)
and answers 201 only after the broker acknowledged the record. It never touches the
database: the status route recognises the ids it signed (`ACCEPTED`) until deliver
has stored them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from aiohttp import web

from schemas.messages import NewMessage, TemplatedMessage
from schemas.patterns import is_fiscal_code
from worker import logs
from worker.core.errors import RetryableError, UnpublishableError
from worker.core.text_rules import MESSAGE_MULTILINE
from worker.ingress import openapi
from worker.ingress.auth import sender
from worker.ingress.bodies import BodyError, decode_body
from worker.ingress.keys import RUNTIME, STORES, TEMPLATES
from worker.ingress.limits import limit_refusal, lookup_sender
from worker.ingress.network import cidr_refusal
from worker.ingress.problems import invalid, json_response, problem
from worker.ingress.sender_views import (
    MessageCreated,
    MessageStatusView,
    accepted_view,
    status_view,
)
from worker.ingress.templated import Filled, TemplateRefused, from_template
from worker.services import accept
from worker.services.directory import Service
from worker.services.gating import check_content, check_service

_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")

routes = web.RouteTableDef()

log = logs.get("postino.ingress")


def decode_message(
    body: bytes, path_fiscal_code: str | None
) -> tuple[NewMessage, str] | web.Response:
    try:
        message = decode_body(body, NewMessage, multiline=MESSAGE_MULTILINE)
    except BodyError as exc:
        return invalid(exc.detail)
    if (message.fiscal_code is None) == (path_fiscal_code is None):
        return invalid("fiscal_code: give it in the body or in the path, exactly once")
    fiscal_code = message.fiscal_code or path_fiscal_code or ""
    if not is_fiscal_code(fiscal_code):
        return invalid("fiscal_code: not a valid fiscal code")
    return message, fiscal_code


async def _body(request: web.Request, service: Service) -> tuple[bytes, Filled | None]:
    """The body as sent, or as filled from the template it names (docs/integrators/templates.md)."""
    raw = await request.read()
    filled = from_template(raw, service, request.app[TEMPLATES])
    return (raw, None) if filled is None else (filled.body, filled)


async def _checked(
    request: web.Request, service: Service, path_fiscal_code: str | None
) -> tuple[NewMessage, str, Filled | None] | web.Response:
    """The checks of 1.1 and 1.2, in order (on the filled text of a template); the
    message, its citizen and its template when all pass."""
    idempotency_key = request.headers.get("Idempotency-Key")
    if idempotency_key is not None and not _IDEMPOTENCY_KEY.fullmatch(idempotency_key):
        return problem(400, "Bad request", "Idempotency-Key: 1 to 255 visible ASCII characters")
    try:
        raw, filled = await _body(request, service)
    except TemplateRefused as exc:
        return invalid(exc.detail)
    decoded = decode_message(raw, path_fiscal_code)
    if isinstance(decoded, web.Response):
        return decoded
    message, fiscal_code = decoded
    refusal = check_content(message.content) or check_service(
        service, fiscal_code, message.feature_level_type, message.content
    )
    if refusal is not None:
        return problem(refusal.status, refusal.title, refusal.detail, code=refusal.code)
    return (
        cidr_refusal(request, service)
        or limit_refusal(request, service)
        or (message, fiscal_code, filled)
    )


async def _submit(request: web.Request, path_fiscal_code: str | None) -> web.Response:
    service = sender(request)
    if isinstance(service, web.Response):
        return service
    checked = await _checked(request, service, path_fiscal_code)
    if isinstance(checked, web.Response):
        return checked
    message, fiscal_code, filled = checked
    runtime = request.app[RUNTIME]
    try:
        new_id = await accept.publish_message(
            message,
            fiscal_code,
            service,
            publisher=runtime.publisher,
            signer=runtime.signer,
            topics=runtime.settings.kafka.topics,
            idempotency_key=request.headers.get("Idempotency-Key"),
            template=(filled.template_id, filled.template_version) if filled else None,
        )
    except RetryableError:
        return problem(503, "Service unavailable", "the message could not be accepted; retry")
    except UnpublishableError:
        # The broker's record size limit is below the body limit: an operator's mismatch.
        log.error("message_over_broker_limit")
        return problem(413, "Payload too large", "the message exceeds the broker's size limit")
    logs.bind(message_id=new_id)
    return created(new_id, fiscal_code)


def created(new_id: str, fiscal_code: str) -> web.Response:
    """The 201 (`MessageCreated`), its JSON written directly: an id is 26 Crockford
    characters, nothing to escape."""
    return web.Response(
        status=201,
        body=b'{"id":"%s"}' % new_id.encode(),
        headers={
            "Location": f"/api/v1/messages/{fiscal_code}/{new_id}",
            "Content-Type": "application/json",
        },
    )


@routes.post("/api/v1/messages")
async def submit(request: web.Request) -> web.Response:
    return await _submit(request, None)


@routes.post("/api/v1/messages/{fiscal_code}")
async def submit_legacy(request: web.Request) -> web.Response:
    return await _submit(request, request.match_info["fiscal_code"])


# What the sender sees: per-channel status of the MESSAGE notification (not reminders),
# and whether the citizen lets this service see read status (absent row: allowed).
@routes.get("/api/v1/messages/{fiscal_code}/{id}")
async def status(request: web.Request) -> web.Response:
    service = lookup_sender(request)
    if isinstance(service, web.Response):
        return service
    fiscal_code, message_id = request.match_info["fiscal_code"], request.match_info["id"]
    runtime = request.app[RUNTIME]
    row = await request.app[STORES].messages.status_row(message_id)
    if row is not None and row["fiscal_code"] == fiscal_code:
        if row["sender_service_id"] != service.id:
            return problem(403, "Forbidden", "only the sending service may read this message")
        return json_response(status_view(row))
    level = (
        None
        if row is not None
        else runtime.signer.issued_level(message_id, service.id, fiscal_code)
    )
    if level is not None:
        now = datetime.now(UTC)
        return json_response(accepted_view(message_id, fiscal_code, service.id, level, now))
    return problem(404, "Not found", "no such message")


_SUBMITTED = {201: MessageCreated}
_EXAMPLE = {
    "fiscal_code": "RSSMRA80A01H501U",
    "feature_level_type": "STANDARD",
    "content": {
        "subject": "Avviso di pagamento TARI 2026",
        "markdown": "Gentile cittadino,\n\nè disponibile l'avviso di pagamento della **tassa sui"
        " rifiuti** (TARI) per il 2026. Può pagarlo dall'app IO entro la scadenza indicata.",
        "due_date": "2026-06-30T23:59:59Z",
        "payment_data": {"amount": 12000, "notice_number": "012345678901234567"},
    },
}
openapi.declare(
    "POST",
    "/api/v1/messages",
    "Submit a message (fiscal code in the body)",
    tag="sender",
    security="sender",
    request=(NewMessage, TemplatedMessage),
    responses=_SUBMITTED,
    headers=("Idempotency-Key",),
    errors=(503,),
    location=True,
    example=_EXAMPLE,
)
openapi.declare(
    "POST",
    "/api/v1/messages/{fiscal_code}",
    "Submit a message (legacy: fiscal code in the path)",
    tag="sender",
    security="sender",
    request=(NewMessage, TemplatedMessage),
    responses=_SUBMITTED,
    headers=("Idempotency-Key",),
    errors=(503,),
    location=True,
    example={k: v for k, v in _EXAMPLE.items() if k != "fiscal_code"},
)
openapi.declare(
    "GET",
    "/api/v1/messages/{fiscal_code}/{id}",
    "Status of a message (only its sender may read it)",
    tag="sender",
    security="sender",
    responses={200: MessageStatusView},
)
