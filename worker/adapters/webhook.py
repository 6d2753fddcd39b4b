"""Sender webhooks: one signed JSON POST per status event; failures classified here.

The URL is checked again right before each POST (`check_callback_url`: https only,
public addresses only, loopback only when allowed), because DNS may have changed
since the URL was set. An unsafe URL is a permanent failure. Retryable: timeouts,
connection errors, 408, 429 and 5xx; any other non-2xx answer is permanent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import aiohttp

from worker.adapters.postgres import Pool
from worker.adapters.push import classify_status
from worker.errors import PermanentError, RetryableError
from worker.services.callback_url import UnsafeCallbackUrl, check_callback_url
from worker.services.callbacks import Receiver


class HttpWebhookSender:
    """Owns one aiohttp session (`start()`/`stop()` paired, idempotent)."""

    def __init__(self, timeout_seconds: float, *, allow_loopback: bool) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._allow_loopback = allow_loopback
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            # No connection reuse across receivers' limits: a slow receiver must not
            # hold connections another receiver needs.
            connector = aiohttp.TCPConnector(limit=0, limit_per_host=20)
            self._session = aiohttp.ClientSession(timeout=self._timeout, connector=connector)

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

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> None:
        try:
            await check_callback_url(url, allow_loopback=self._allow_loopback)
        except UnsafeCallbackUrl as exc:
            raise PermanentError(str(exc)) from exc
        session = await self._ready()
        try:
            async with session.post(
                url, data=body, headers=dict(headers), allow_redirects=False
            ) as resp:
                await resp.read()
                classify_status(resp.status, "callback receiver")
        except TimeoutError as exc:
            raise RetryableError("callback receiver timed out") from exc
        except aiohttp.ClientError as exc:
            raise RetryableError(f"callback receiver unreachable: {type(exc).__name__}") from exc


_RECEIVERS = """
SELECT id, callback_url, callback_secret FROM services
WHERE id = ANY($1::text[]) AND state <> 'deleted'
  AND callback_url IS NOT NULL AND callback_secret IS NOT NULL
"""


_SETTLED = "SELECT event_key FROM callback_deliveries WHERE event_key = ANY($1::text[])"
_SETTLE = """
INSERT INTO callback_deliveries (event_key, outcome) VALUES ($1, $2)
ON CONFLICT (event_key) DO NOTHING
"""
_PRUNE = "DELETE FROM callback_deliveries WHERE settled_at < $1"


class PostgresCallbacks:
    """Where each service wants its callbacks (read per batch: URLs change at runtime),
    and which events are settled."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def receivers(self, service_ids: Sequence[str]) -> dict[str, Receiver]:
        rows = await self._pool.fetch(_RECEIVERS, list(service_ids))
        return {r["id"]: Receiver(r["callback_url"], r["callback_secret"]) for r in rows}

    async def settled(self, keys: Sequence[str]) -> set[str]:
        return {r["event_key"] for r in await self._pool.fetch(_SETTLED, list(keys))}

    async def settle(self, key: str, outcome: str) -> None:
        await self._pool.execute(_SETTLE, key, outcome)

    async def prune(self, older_than: datetime) -> int:
        """Forget settled events no retry can still concern; returns how many."""
        status = await self._pool.execute(_PRUNE, older_than)
        return int(status.split()[-1])
