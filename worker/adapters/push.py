"""The push gateway: one JSON POST per push.

Failures are classified once, in `worker.adapters.http`: retryable are timeouts,
connection errors, 408, 429 and 5xx; permanent is any other non-2xx answer (the
gateway refused the push; sending it again cannot help).
"""

from __future__ import annotations

from typing import Any

from worker.adapters.http import HttpClient
from worker.services.notify_ports import Push


class HttpPushGateway(HttpClient):
    """Owns one aiohttp session; `start()`/`stop()` are paired and idempotent."""

    def __init__(self, url: str, timeout_seconds: float) -> None:
        super().__init__(timeout_seconds)
        self._url = url

    async def send(self, push: Push) -> None:
        payload: dict[str, Any] = {
            "fiscal_code": push.fiscal_code,
            "message_id": push.message_id,
            "notification_id": push.notification_id,
            "kind": push.kind,
            "title": push.title,
            "body": push.body,
        }
        # The same push is sent again only when its outcome was in doubt (a timeout, or a
        # crash before the outcome was recorded): a gateway that honours the key drops it.
        headers = {"Idempotency-Key": push.notification_id}
        await self._post(
            self._url, "push gateway", message_id=push.message_id, json=payload, headers=headers
        )
