"""Sender webhooks: one signed JSON POST per status event.

The URL is checked again right before each POST (`check_callback_url`: https only,
allowed ports, public addresses only, loopback only when allowed), because DNS may
have changed since the URL was set (a host's answer is reused for at most
`dns_cache_seconds`, and checked again at every POST), and the connection goes only
to the addresses that check passed: the session's resolver answers with those pinned
addresses and never looks the host up again, so a DNS answer that changes in between
(rebinding) reaches nothing. The URL's host still names the peer (TLS SNI, certificate check,
`Host`). An unsafe URL is a permanent failure, a lookup that timed out a transient
one; HTTP failures are classified in `worker.adapters.http` (retryable: timeouts,
connection errors, 408, 429 and 5xx; any other non-2xx answer is permanent).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from urllib.parse import urlsplit

import aiohttp

from worker import tracing
from worker.adapters.http import HttpClient
from worker.adapters.pinned import pinned, pinned_connector
from worker.adapters.postgres import Pool, repository
from worker.core.errors import PermanentError, RetryableError
from worker.core.group_commit import GroupCommit
from worker.services.callback_send import Receiver
from worker.services.callback_url import (
    CachedResolver,
    DnsUnavailable,
    Resolver,
    UnsafeCallbackUrl,
    check_callback_url,
    system_resolver,
)


class HttpWebhookSender(HttpClient):
    """Owns one aiohttp session (`start()`/`stop()` paired, idempotent)."""

    def __init__(
        self,
        timeout_seconds: float,
        *,
        allow_loopback: bool,
        allowed_ports: Collection[int] = (),
        resolver: Resolver = system_resolver,
        dns_cache_seconds: float = 30.0,
    ) -> None:
        super().__init__(timeout_seconds)
        self._allow_loopback = allow_loopback
        self._allowed_ports = allowed_ports
        self._resolver: Resolver = (
            CachedResolver(resolver, ttl_seconds=dns_cache_seconds)
            if dns_cache_seconds > 0
            else resolver
        )

    def _new_session(self) -> aiohttp.ClientSession:
        # No connection reuse across receivers' limits: a slow receiver must not
        # hold connections another receiver needs.
        connector = pinned_connector(limit=0, limit_per_host=20)
        return aiohttp.ClientSession(timeout=self._timeout, connector=connector)

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> None:
        try:
            addresses = await check_callback_url(
                url,
                allow_loopback=self._allow_loopback,
                allowed_ports=self._allowed_ports,
                resolver=self._resolver,
            )
        except DnsUnavailable as exc:
            raise RetryableError(str(exc)) from exc
        except UnsafeCallbackUrl as exc:
            raise PermanentError(str(exc)) from exc
        with pinned(urlsplit(url).hostname or "", addresses):
            await self._post(
                url,
                "callback receiver",
                message_id=tracing.message_id_of(body) if tracing.ENABLED else None,
                data=body,
                headers=dict(headers),
                allow_redirects=False,
            )


_RECEIVERS = """
SELECT id, callback_url, callback_secret, callback_events FROM services
WHERE id = ANY($1::text[]) AND state <> 'deleted'
  AND callback_url IS NOT NULL AND callback_secret IS NOT NULL
"""


_SETTLED = "SELECT event_key FROM callback_deliveries WHERE event_key = ANY($1::text[])"
_SETTLE = """
INSERT INTO callback_deliveries (event_key, outcome)
SELECT * FROM unnest($1::text[], $2::text[])
ON CONFLICT (event_key) DO NOTHING
"""
_PRUNE = "DELETE FROM callback_deliveries WHERE settled_at < $1"


Settlement = tuple[str, str]


@repository
class PostgresCallbacks:
    """Where each service wants its callbacks (read per batch: URLs change at runtime),
    and which events are settled (attempts that end together are settled in one
    statement; each `settle` returns once its own row is written)."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._settle: GroupCommit[Settlement, None] = GroupCommit(
            self._settle_many, "callbacks-settle"
        )

    async def receivers(self, service_ids: Sequence[str]) -> dict[str, Receiver]:
        rows = await self._pool.fetch(_RECEIVERS, list(service_ids))
        return {
            r["id"]: Receiver(
                r["callback_url"],
                r["callback_secret"],
                None if r["callback_events"] is None else frozenset(r["callback_events"]),
            )
            for r in rows
        }

    async def settled(self, keys: Sequence[str]) -> set[str]:
        return {r["event_key"] for r in await self._pool.fetch(_SETTLED, list(keys))}

    async def settle(self, key: str, outcome: str) -> None:
        await self._settle((key, outcome))

    async def _settle_many(self, items: list[Settlement]) -> list[None]:
        first = dict(reversed(items))  # one row per key, the first outcome kept
        await self._pool.execute(_SETTLE, list(first), list(first.values()))
        return [None] * len(items)

    async def prune(self, older_than: datetime) -> int:
        """Forget settled events no retry can still concern; returns how many."""
        status = await self._pool.execute(_PRUNE, older_than)
        return int(status.split()[-1])
