"""Citizen routes of third-party messages (docs/integrators/remote-content.md): remote details,
precondition and Premium attachments, fetched from the sender when the citizen asks.

The message is looked up with the session's fiscal code, so another citizen's (or
an unknown) id answers 404, like a message without third-party data. The sender's
errors become 404 (it answered 404) or 502 (anything else), never its body. Every
call counts in `postino_remote_content_calls_total{kind, outcome}`. An attachment
is streamed as it arrives; a failure after the first byte (too large, timeout)
aborts the connection so the citizen never gets a silently truncated PDF; a citizen
who leaves mid-PDF ends the request quietly (`client_gone`), not as a server error.

Calls in flight are capped per sender (service) and per citizen, in each ingress
process (`POSTINO_REMOTE_CONTENT_PER_SENDER`, `..._PER_CITIZEN`): past a cap the
citizen gets 429 with `Retry-After` at once, so one slow sender or one citizen
opening many attachments never holds the shared pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from worker import logs, metrics
from worker.bootstrap import sender_client
from worker.ingress import openapi
from worker.ingress.auth import bearer
from worker.ingress.citizen import citizen_only
from worker.ingress.keys import REMOTE_LIMITS, RUNTIME, SENDERS, STORES, UNKNOWN_TOKENS
from worker.ingress.problems import json_response, problem
from worker.services import citizen
from worker.services import remote_content as rc
from worker.services.concurrency import CallLimits
from worker.services.rc_configurations import environment_for

log = logs.get("postino.third_party")
routes = web.RouteTableDef()
BASE = "/api/v1/citizen/messages/{id}/third-party"
_PRIVATE = {"Cache-Control": "private, no-store"}
_MAGIC = b"%PDF-"


async def senders_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[RUNTIME].settings
    app[REMOTE_LIMITS] = CallLimits(
        settings.remote_content.per_sender, settings.remote_content.per_citizen
    )
    async with sender_client(settings) as client:
        app[SENDERS] = client
        yield


def _busy(kind: str) -> web.Response:
    _count(kind, "busy")
    return problem(
        429,
        "Too many requests",
        "too many calls to this sender, or of this citizen, are in progress; retry shortly",
        headers={"Retry-After": "1"},
    )


def _count(kind: str, outcome: str) -> None:
    metrics.REMOTE_CONTENT.labels(kind=kind, outcome=outcome).inc()


def _failed(kind: str, exc: Exception, message_id: str) -> web.Response:
    if isinstance(exc, rc.NotFound):
        _count(kind, "not_found")
        return problem(404, "Not found", "no such content")
    reason = exc.reason if isinstance(exc, rc.SenderFailed) else "error"
    _count(kind, reason)
    log.info("remote_content_failed", kind=kind, reason=reason, message_id=message_id)
    return problem(502, "Bad gateway", "the sender's systems did not answer usably; retry later")


async def _target(
    request: web.Request, fiscal_code: str
) -> tuple[rc.ThirdPartyMessage, rc.RemoteConfig]:
    """The citizen's third-party message and the configuration that serves it: the
    one its `configuration_id` names (its test environment for a test user), else
    its service's own."""
    stores = request.app[STORES]
    row = await stores.citizens.message(fiscal_code, request.match_info["id"])
    message = None if row is None else rc.third_party_message({**row, "fiscal_code": fiscal_code})
    if message is None:
        raise rc.NotFound("no third-party message")
    chosen = message.data.configuration_id
    if chosen is None:
        config = await stores.services.remote_content(message.sender_service_id)
    else:
        found = await stores.rc_configurations.for_service(chosen, message.sender_service_id)
        config = None if found is None else environment_for(found, fiscal_code)
    if config is None:
        raise rc.SenderFailed("not_configured")
    return message, config


async def _json(request: web.Request, fiscal_code: str, kind: str) -> web.Response:
    client = request.app[SENDERS]
    try:
        message, config = await _target(request, fiscal_code)
        view: Any
        with request.app[REMOTE_LIMITS].slot(message.sender_service_id, fiscal_code) as free:
            if not free:
                return _busy(kind)
            if kind == "details":
                view = await rc.remote_message(client, config, message)
            else:
                view = await rc.precondition(client, config, message)
    except (rc.NotFound, rc.SenderFailed) as exc:
        return _failed(kind, exc, request.match_info["id"])
    _count(kind, "ok")
    return json_response(view, headers=_PRIVATE)


@routes.get(BASE)
@citizen_only
async def third_party(request: web.Request, fiscal_code: str) -> web.Response:
    return await _json(request, fiscal_code, "details")


@routes.get(f"{BASE}/precondition")
@citizen_only
async def precondition(request: web.Request, fiscal_code: str) -> web.Response:
    return await _json(request, fiscal_code, "precondition")


async def _head(chunks: AsyncIterator[bytes]) -> bytes:
    """The first bytes, at least enough to check the PDF signature (or all there is)."""
    head = b""
    async for chunk in chunks:
        head += chunk
        if len(head) >= len(_MAGIC):
            break
    return head


@routes.get(f"{BASE}/attachments/{{attachment_url:.+}}")
async def attachment(request: web.Request) -> web.StreamResponse:
    # `citizen_only` guards JSON handlers; this one streams.
    fiscal_code = await citizen.authenticate(
        request.app[STORES].citizens, bearer(request), request.app[UNKNOWN_TOKENS]
    )
    if fiscal_code is None:
        return problem(401, "Unauthorized", "missing, unknown or expired session token")
    kind, message_id = "attachment", request.match_info["id"]
    try:
        message, config = await _target(request, fiscal_code)
        with request.app[REMOTE_LIMITS].slot(message.sender_service_id, fiscal_code) as free:
            if not free:
                return _busy(kind)
            opened = await rc.attachment(
                request.app[SENDERS], config, message, request.match_info["attachment_url"]
            )
            async with opened as download:
                return await _stream(request, download, message_id)
    except (rc.NotFound, rc.SenderFailed) as exc:
        return _failed(kind, exc, message_id)


async def _stream(
    request: web.Request, download: rc.Download, message_id: str
) -> web.StreamResponse:
    """The PDF, as it arrives. A sender failure after the first byte aborts the
    connection; a citizen who left ends the request as `client_gone`."""
    kind = "attachment"
    chunks = download.chunks()
    head = await _head(chunks)
    if not head.startswith(_MAGIC):
        raise rc.SenderFailed("not_pdf")
    response = web.StreamResponse(headers={**_PRIVATE, "X-Content-Type-Options": "nosniff"})
    response.content_type = rc.PDF
    if download.length is not None:
        response.content_length = download.length
    try:
        await response.prepare(request)
        await response.write(head)
        async for chunk in chunks:
            await response.write(chunk)
        await response.write_eof()
    except rc.SenderFailed as exc:
        _count(kind, exc.reason)
        log.info("remote_content_aborted", kind=kind, reason=exc.reason, message_id=message_id)
        if request.transport is not None:
            request.transport.abort()
        return response
    except ConnectionResetError:  # the citizen left (aiohttp's ClientConnectionResetError)
        _count(kind, "client_gone")
        log.info("remote_content_client_gone", kind=kind, message_id=message_id)
        return response
    _count(kind, "ok")
    return response


_SECURITY: dict[str, Any] = {"tag": "citizen", "security": "citizen"}
openapi.declare(
    "GET",
    BASE,
    "Remote details and Premium attachments of a third-party message, from its sender"
    " (404: none or not yours; 502: the sender failed)",
    responses={200: rc.RemoteMessage},
    **_SECURITY,
)
openapi.declare(
    "GET",
    f"{BASE}/precondition",
    "The precondition of a third-party message, from its sender",
    responses={200: rc.Precondition},
    **_SECURITY,
)
openapi.declare(
    "GET",
    f"{BASE}/attachments/{{attachment_url}}",
    "A listed attachment, streamed from the sender (application/pdf only, at most"
    " POSTINO_ATTACHMENT_MAX_BYTES)",
    responses={200: None},
    content_type=rc.PDF,
    **_SECURITY,
)
