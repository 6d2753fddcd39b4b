"""Outbound HTTP shared by the push gateway and sender webhooks; failures classified here.

Retryable: timeouts, connection errors, 408, 429 and 5xx. Permanent: any other non-2xx
answer (the peer refused the request; sending it again cannot help). Both errors are
chained (`from`) and their text names the peer and the status or exception class only,
never the URL or the body.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from opentelemetry.trace import SpanKind

from worker import tracing
from worker.core.errors import PermanentError, RetryableError

_RETRYABLE_STATUS = frozenset({408, 429})


def classify_status(status: int, what: str) -> None:
    """Raise the failure class of a non-2xx HTTP answer; return on 2xx."""
    if 200 <= status < 300:
        return
    if status in _RETRYABLE_STATUS or status >= 500:
        raise RetryableError(f"{what} answered {status}")
    raise PermanentError(f"{what} answered {status}")


class HttpClient:
    """Owns one aiohttp session; `start()`/`stop()` are paired and idempotent.

    `post()` opens the session on first use, so a caller that never called `start()`
    still works (and must still call `stop()`).
    """

    def __init__(self, timeout_seconds: float) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    def _new_session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(timeout=self._timeout)

    async def start(self) -> None:
        if self._session is None:
            self._session = self._new_session()

    async def stop(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def _ready(self) -> aiohttp.ClientSession:
        if self._session is None:
            await self.start()
        if self._session is None:
            raise RuntimeError("session not started")
        return self._session

    async def _post(
        self, url: str, what: str, *, message_id: str | None = None, **kwargs: Any
    ) -> None:
        """POST and read the answer; raise RetryableError or PermanentError on failure.
        Traced as a client span in the trace of `message_id`, `traceparent` sent on."""
        if not tracing.ENABLED:
            await self._send(url, what, **kwargs)
            return
        parent = tracing.context_of(message_id)
        with tracing.span(
            f"POST {what}", kind=SpanKind.CLIENT, parent=parent, attributes={"http.method": "POST"}
        ) as current:
            headers = dict(kwargs.pop("headers", None) or {})
            tracing.inject_http(headers)
            try:
                await self._send(url, what, headers=headers, **kwargs)
            except Exception as exc:
                tracing.failed(current, exc)
                raise

    async def _send(self, url: str, what: str, **kwargs: Any) -> None:
        session = await self._ready()
        try:
            async with session.post(url, **kwargs) as resp:
                await resp.read()
                classify_status(resp.status, what)
        except TimeoutError as exc:
            raise RetryableError(f"{what} timed out") from exc
        except aiohttp.ClientError as exc:
            raise RetryableError(f"{what} unreachable: {type(exc).__name__}") from exc
