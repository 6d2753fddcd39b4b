"""The push gateway: one JSON POST per push; failures classified once, here.

Retryable: timeouts, connection errors, 408, 429 and 5xx. Permanent: any other
non-2xx answer (the gateway refused the push; sending it again cannot help).
"""

from __future__ import annotations

from typing import Any

import aiohttp

from worker.errors import PermanentError, RetryableError
from worker.services.notify_ports import Push

_RETRYABLE_STATUS = frozenset({408, 429})


def classify_status(status: int, what: str) -> None:
    """Raise the failure class of a non-2xx HTTP answer (shared by push and webhooks)."""
    if 200 <= status < 300:
        return
    if status in _RETRYABLE_STATUS or status >= 500:
        raise RetryableError(f"{what} answered {status}")
    raise PermanentError(f"{what} answered {status}")


class HttpPushGateway:
    """Owns one aiohttp session; `start()`/`stop()` are paired and idempotent."""

    def __init__(self, url: str, timeout_seconds: float) -> None:
        self._url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def _ready(self) -> aiohttp.ClientSession:
        if self._session is None:
            await self.start()
        if self._session is None:
            raise RuntimeError("session not started")
        return self._session

    async def stop(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def send(self, push: Push) -> None:
        session = await self._ready()
        payload: dict[str, Any] = {
            "fiscal_code": push.fiscal_code,
            "message_id": push.message_id,
            "notification_id": push.notification_id,
            "kind": push.kind,
            "title": push.title,
            "body": push.body,
        }
        try:
            async with session.post(self._url, json=payload) as resp:
                await resp.read()
                classify_status(resp.status, "push gateway")
        except TimeoutError as exc:
            raise RetryableError("push gateway timed out") from exc
        except aiohttp.ClientError as exc:
            raise RetryableError(f"push gateway unreachable: {type(exc).__name__}") from exc
