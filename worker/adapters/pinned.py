"""Outbound HTTP to addresses that passed the SSRF check, and to nothing else.

`check_callback_url` resolves the host and checks every address (docs/integrators/callbacks.md); the
request that follows must connect to those very addresses, not to whatever a second
lookup answers (DNS rebinding). A session built with `pinned_connector()` has a
resolver that never looks anything up: it answers with the addresses pinned, for
that host, by the `pinned(host, addresses)` block the request runs in (a context
variable, so concurrent requests each see their own). A host with nothing pinned
gets no address at all. The URL keeps its host, so TLS (SNI, certificate) and the
`Host` header still name the peer; IP-literal URLs need no lookup and are checked
as they are.
"""

from __future__ import annotations

import contextlib
import contextvars
import socket
from collections.abc import Iterator, Sequence
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from worker.services.callback_url import IPAddress

_PINNED: contextvars.ContextVar[tuple[str, tuple[IPAddress, ...]] | None] = contextvars.ContextVar(
    "postino_pinned_addresses", default=None
)


def _same_host(a: str, b: str) -> bool:
    return a.lower().rstrip(".") == b.lower().rstrip(".")


@contextlib.contextmanager
def pinned(host: str, addresses: Sequence[IPAddress]) -> Iterator[None]:
    """Connections opened in this block to `host` go to `addresses` only."""
    token = _PINNED.set((host, tuple(addresses)))
    try:
        yield
    finally:
        _PINNED.reset(token)


class PinnedResolver(AbstractResolver):
    """aiohttp's resolver: the pinned addresses of the host, never a DNS lookup."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        pin = _PINNED.get()
        if pin is None or not _same_host(pin[0], host):
            raise OSError(f"no checked address for {host!r}")
        return [
            {
                "hostname": host,
                "host": str(address),
                "port": port,
                "family": socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            }
            for address in pin[1]
        ]

    async def close(self) -> None:
        return None


def pinned_connector(**options: Any) -> aiohttp.TCPConnector:
    """A connector that resolves through the pins (and caches no DNS answer)."""
    return aiohttp.TCPConnector(resolver=PinnedResolver(), use_dns_cache=False, **options)
