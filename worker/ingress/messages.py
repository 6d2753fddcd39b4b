"""Sender API: submit a message, read its status (IO-RULES 1, 1.3)."""

from __future__ import annotations

import re
from typing import Any

import msgspec
from aiohttp import web

from schemas.enums import MessageStatus
from schemas.messages import FISCAL_CODE_PATTERN, NewMessage
from worker.errors import RetryableError
from worker.ingress.auth import sender
from worker.ingress.keys import RUNTIME
from worker.ingress.problems import invalid, json_response, problem
from worker.services import accept
from worker.services.gating import check_content, check_service

_FISCAL_CODE = re.compile(FISCAL_CODE_PATTERN)
_NEW_MESSAGE = msgspec.json.Decoder(NewMessage)

routes = web.RouteTableDef()


def _decode(body: bytes, path_fiscal_code: str | None) -> tuple[NewMessage, str] | web.Response:
    try:
        message = _NEW_MESSAGE.decode(body)
    except msgspec.ValidationError as exc:
        return invalid(str(exc))
    except msgspec.DecodeError:
        return invalid("body is not a JSON object")
    if (message.fiscal_code is None) == (path_fiscal_code is None):
        return invalid("fiscal_code: give it in the body or in the path, exactly once")
    fiscal_code = message.fiscal_code or path_fiscal_code or ""
    if not _FISCAL_CODE.match(fiscal_code):
        return invalid("fiscal_code: not a valid fiscal code")
    return message, fiscal_code


async def _submit(request: web.Request, path_fiscal_code: str | None) -> web.Response:
    service = sender(request)
    if isinstance(service, web.Response):
        return service
    decoded = _decode(await request.read(), path_fiscal_code)
    if isinstance(decoded, web.Response):
        return decoded
    message, fiscal_code = decoded
    refusal = check_content(message.content) or check_service(
        service, fiscal_code, message.feature_level_type, message.content
    )
    if refusal is not None:
        return problem(refusal.status, refusal.title, refusal.detail)
    runtime = request.app[RUNTIME]
    try:
        new_id = await accept.publish_message(
            message,
            fiscal_code,
            service,
            publisher=runtime.publisher,
            signer=runtime.signer,
            kafka=runtime.settings.kafka,
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
    except RetryableError:
        return problem(503, "Service unavailable", "the message could not be accepted; retry")
    location = f"/api/v1/messages/{fiscal_code}/{new_id}"
    return json_response({"id": new_id}, status=201, headers={"Location": location})


@routes.post("/api/v1/messages")
async def submit(request: web.Request) -> web.Response:
    return await _submit(request, None)


@routes.post("/api/v1/messages/{fiscal_code}")
async def submit_legacy(request: web.Request) -> web.Response:
    return await _submit(request, request.match_info["fiscal_code"])


_MESSAGE = """
SELECT id, fiscal_code, sender_service_id, created_at, time_to_live, feature_level_type,
       content, status, rejection_reason
FROM messages WHERE id = $1
"""


def _view(row: dict[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {
        "message": {
            "id": row["id"],
            "fiscal_code": row["fiscal_code"],
            "time_to_live": row["time_to_live"],
            "created_at": row["created_at"].isoformat(),
            "sender_service_id": row["sender_service_id"],
            "feature_level_type": row["feature_level_type"],
            "content": row["content"],
        },
        "status": row["status"],
    }
    if row["rejection_reason"]:
        view["rejection_reason"] = row["rejection_reason"]
    return view


@routes.get("/api/v1/messages/{fiscal_code}/{id}")
async def status(request: web.Request) -> web.Response:
    service = sender(request)
    if isinstance(service, web.Response):
        return service
    fiscal_code, message_id = request.match_info["fiscal_code"], request.match_info["id"]
    runtime = request.app[RUNTIME]
    row = await runtime.pool.fetchrow(_MESSAGE, message_id)
    if row is not None and row["fiscal_code"] == fiscal_code:
        if row["sender_service_id"] != service.id:
            return problem(403, "Forbidden", "only the sending service may read this message")
        return json_response(_view(dict(row)))
    if row is None and runtime.signer.issued(message_id, service.id, fiscal_code):
        accepted = {
            "message": {
                "id": message_id,
                "fiscal_code": fiscal_code,
                "sender_service_id": service.id,
            },
            "status": MessageStatus.ACCEPTED.value,
        }
        return json_response(accepted)
    return problem(404, "Not found", "no such message")
