"""The status callbacks as OpenAPI 3.1 `webhooks`: what Postino POSTs to a sender.

A service with a `callback_url` receives each status event of its messages (the
`messages.status` record's JSON, unchanged) as one signed POST. The headers and the
retry rules stated here are the ones `callback_send` and `callbacks` apply.
"""

from __future__ import annotations

from typing import Any

from schemas.events import StatusEvent
from worker.services.callback_send import IDEMPOTENCY_HEADER, SIGNATURE_HEADER

#: The request body of every callback.
WEBHOOK_TYPES: tuple[Any, ...] = (StatusEvent,)

_DESCRIPTION = (
    "Every status change of the service's messages, as its status event (`kind`:"
    " `message`, `notification`, `read`, `paid`; `read` and `paid` only for ADVANCED"
    " messages, `read` only with the citizen's consent), filtered by the service's"
    " `callback_events`. At least once and in no guaranteed order: keep the highest"
    " `seq` per message. A 2xx ends it; a timeout, 429 or 5xx is retried through the"
    " retry tiers for up to `POSTINO_CALLBACK_MAX_AGE_SECONDS` (24 h); any other answer"
    " ends it."
)
_HEADERS = [
    {
        "name": SIGNATURE_HEADER,
        "in": "header",
        "required": True,
        "description": '`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" under'
        " the service's callback_secret>`: verify it, and refuse an old `t`",
        "schema": {"type": "string", "pattern": "^t=[0-9]+,v1=[0-9a-f]{64}$"},
        "example": "t=1767225600,v1=" + "0" * 64,
    },
    {
        "name": IDEMPOTENCY_HEADER,
        "in": "header",
        "required": True,
        "description": "the same on every attempt of one event: drop a repeat by it",
        "schema": {"type": "string"},
    },
    {
        "name": "traceparent",
        "in": "header",
        "required": False,
        "description": "W3C trace context of the message, when tracing is on",
        "schema": {"type": "string"},
    },
]


def webhooks(refs: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    """The `webhooks` member; `refs` maps each type of `WEBHOOK_TYPES` to its schema."""
    return {
        "statusEvent": {
            "post": {
                "summary": "A status event of one of the service's messages",
                "description": _DESCRIPTION,
                "operationId": "status_event_callback",
                "tags": ["callbacks"],
                "parameters": _HEADERS,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": refs[StatusEvent]}},
                },
                "responses": {
                    "2XX": {"description": "received: no further attempt"},
                    "429": {"description": "retried later"},
                    "5XX": {"description": "retried later"},
                    "default": {"description": "any other answer: refused, not retried"},
                },
            }
        }
    }
