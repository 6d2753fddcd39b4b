"""Citizen routes of third-party messages (docs/integrators/remote-content.md): remote details,
precondition and Premium attachments, fetched from the sender when the citizen asks.

The message is looked up with the session's fiscal code, so another citizen's (or
an unknown) id answers 404, like a message without third-party data. The sender's
errors become 404 (it answered 404) or 502 (anything else), never its body. Every
call counts in `postino_remote_content_calls_total{kind, outcome}`. An attachment
is streamed as it arrives; a failure after the first byte (too large, timeout)
aborts the connection so the citizen never gets a silently truncated PDF.
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
from worker.ingress.keys import RUNTIME, SENDERS, STORES
from worker.ingress.problems import json_response, problem
from worker.services import citizen
from worker.services import remote_content as rc
from worker.services.rc_configurations import environment_for

log = logs.get("postino.third_party")
routes = web.RouteTableDef()
BASE = "/api/v1/citizen/messages/{id}/third-party"
_PRIVATE = {"Cache-Control": "private, no-store"}
_MAGIC = b"%PDF-"


async def senders_ctx(app: web.Application) -> AsyncIterator[None]:
    async with sender_client(app[RUNTIME].settings) as client:
        app[SENDERS] = client
        yield


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
    fiscal_code = await citizen.authenticate(request.app[STORES].citizens, bearer(request))
    if fiscal_code is None:
        return problem(401, "Unauthorized", "missing, unknown or expired session token")
    kind, message_id = "attachment", request.match_info["id"]
    try:
        message, config = await _target(request, fiscal_code)
        opened = await rc.attachment(
            request.app[SENDERS], config, message, request.match_info["attachment_url"]
        )
        async with opened as download:
            chunks = download.chunks()
            head = await _head(chunks)
            if not head.startswith(_MAGIC):
                raise rc.SenderFailed("not_pdf")
            response = web.StreamResponse(headers={**_PRIVATE, "X-Content-Type-Options": "nosniff"})
            response.content_type = rc.PDF
            if download.length is not None:
                response.content_length = download.length
            await response.prepare(request)
            await response.write(head)
            try:
                async for chunk in chunks:
                    await response.write(chunk)
            except rc.SenderFailed as exc:
                _count(kind, exc.reason)
                log.info(
                    "remote_content_aborted", kind=kind, reason=exc.reason, message_id=message_id
                )
                if request.transport is not None:
                    request.transport.abort()
                return response
    except (rc.NotFound, rc.SenderFailed) as exc:
        return _failed(kind, exc, message_id)
    _count(kind, "ok")
    await response.write_eof()
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
