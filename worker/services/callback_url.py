"""Is a sender's callback URL safe to POST to? (No SSRF.)

Checked when the URL is set (back-office) and again at send time (callbacks worker),
because DNS may change in between; at send time the connection then goes only to the
addresses this check passed (the webhook adapter pins them), so a DNS answer that
changes between the check and the connect (rebinding) reaches nothing. Rules:
- `https` only; plain `http` only to a loopback address and only when
  `allow_loopback` (development);
- the port among `allowed_ports` when that is not empty (443 and 8443 outside dev);
- every address the host resolves to must be public: private, loopback, link-local
  (cloud metadata 169.254.169.254 included), CGNAT, site-local (fec0::/10),
  unspecified, multicast and reserved ranges are refused, and so are IPv6 addresses
  that embed a refused IPv4 address (IPv4-mapped, 6to4 2002::/16, Teredo 2001::/32,
  NAT64 64:ff9b::/96; local-use NAT64 64:ff9b:1::/48 always), unless
  `allow_loopback` lets loopback through.
The lookup runs on its own small thread pool (never the loop's default executor,
which other work shares) and gives up after `DNS_TIMEOUT_SECONDS`: `DnsUnavailable`,
a transient failure, not a verdict on the URL. The callbacks worker looks a host up
through `CachedResolver`: an answer is reused for a few seconds (the rules above are
still applied to it at every send, and the send is pinned to it), so a host whose
DNS turns to a refused address is refused once the answer expires.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]
GetAddrInfo = Callable[..., list[tuple[Any, ...]]]

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
MAX_LENGTH = 2048
DNS_TIMEOUT_SECONDS = 3.0
#: The lookups' own threads: a slow resolver holds these, never the shared executor.
_DNS_THREADS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="postino-dns")


class UnsafeCallbackUrl(ValueError):
    """The URL may not be used as a callback; the message says why (safe to show)."""


class DnsUnavailable(Exception):
    """The host lookup timed out: try again later (the URL may well be fine)."""


async def system_resolver(
    host: str,
    port: int,
    *,
    timeout: float = DNS_TIMEOUT_SECONDS,
    getaddrinfo: GetAddrInfo = socket.getaddrinfo,
) -> list[str]:
    loop = asyncio.get_running_loop()
    lookup = functools.partial(getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = await asyncio.wait_for(loop.run_in_executor(_DNS_THREADS, lookup), timeout)
    except TimeoutError as exc:
        raise DnsUnavailable(f"callback_url: looking up {host!r} timed out") from exc
    except (OSError, UnicodeError) as exc:
        raise UnsafeCallbackUrl(f"callback_url: host {host!r} does not resolve") from exc
    return [str(info[4][0]) for info in infos]


class CachedResolver:
    """A resolver that reuses each answer for `ttl_seconds` (at most `max_hosts` hosts
    kept); failures are not kept. Concurrent lookups of one host share one query."""

    def __init__(
        self,
        resolver: Resolver = system_resolver,
        *,
        ttl_seconds: float,
        max_hosts: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._resolver = resolver
        self._ttl = ttl_seconds
        self._max_hosts = max_hosts
        self._clock = clock
        #: (host, port) -> (expires at, addresses)
        self._answers: dict[tuple[str, int], tuple[float, list[str]]] = {}
        self._pending: dict[tuple[str, int], asyncio.Future[list[str]]] = {}

    async def __call__(self, host: str, port: int) -> list[str]:
        key = (host.lower(), port)
        kept = self._answers.get(key)
        if kept is not None and kept[0] > self._clock():
            return list(kept[1])
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._lookup(key, host, port))
            pending.add_done_callback(_retrieved)
            self._pending[key] = pending
        return list(await asyncio.shield(pending))

    async def _lookup(self, key: tuple[str, int], host: str, port: int) -> list[str]:
        try:
            addresses = await self._resolver(host, port)
        finally:
            del self._pending[key]
        if self._ttl > 0:
            self._keep(key, addresses)
        return addresses

    def _keep(self, key: tuple[str, int], addresses: list[str]) -> None:
        now = self._clock()
        self._answers.pop(key, None)  # re-inserted last: the newest answer
        if len(self._answers) >= self._max_hosts:
            self._answers = {k: v for k, v in self._answers.items() if v[0] > now}
        while len(self._answers) >= self._max_hosts:
            del self._answers[next(iter(self._answers))]  # the oldest answer
        self._answers[key] = (now + self._ttl, list(addresses))


def _retrieved(future: asyncio.Future[list[str]]) -> None:
    """Mark a shared lookup's failure as seen (its waiters may all have gone)."""
    if not future.cancelled():
        future.exception()


def _address(text: str) -> IPAddress:
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _embedded(address: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address a transition address carries, with the mechanism's name."""
    if address.sixtofour is not None:
        return "6to4", address.sixtofour
    if address.teredo is not None:
        return "Teredo", address.teredo[1]
    if address in _NAT64:
        return "NAT64", ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_problem(address: IPAddress, *, allow_loopback: bool) -> str | None:
    """Why this address is refused, or None when it may be called."""
    if address.is_loopback:
        return None if allow_loopback else "loopback"
    if isinstance(address, ipaddress.IPv6Address):
        if address.is_site_local:
            return "site-local"
        if address in _NAT64_LOCAL:
            return "local-use NAT64"
        embedded = _embedded(address)
        if embedded is not None:
            why = address_problem(embedded[1], allow_loopback=False)
            if why is not None:
                return f"{embedded[0]} (embedding a {why} IPv4 address)"
    checks = (
        (address.is_unspecified, "unspecified"),
        (address.is_multicast, "multicast"),
        (address.is_link_local, "link-local (cloud metadata)"),
        (isinstance(address, ipaddress.IPv4Address) and address in _CGNAT, "CGNAT"),
        (address.is_private, "private"),
        (address.is_reserved or not address.is_global, "not public"),
    )
    return next((why for hit, why in checks if hit), None)


def _port(url: str, allowed_ports: Collection[int]) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL of acceptable shape; else `UnsafeCallbackUrl`."""
    if len(url) > MAX_LENGTH:
        raise UnsafeCallbackUrl(f"callback_url: longer than {MAX_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeCallbackUrl("callback_url: not a valid URL") from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeCallbackUrl("callback_url: must be an https:// URL with a host")
    if parts.username or parts.password:
        raise UnsafeCallbackUrl("callback_url: must not carry credentials")
    port = port or (443 if parts.scheme == "https" else 80)
    if allowed_ports and port not in allowed_ports:
        shown = ", ".join(str(p) for p in sorted(allowed_ports))
        raise UnsafeCallbackUrl(f"callback_url: port {port} is not allowed (allowed: {shown})")
    return parts.scheme, parts.hostname, port


async def check_callback_url(
    url: str,
    *,
    allow_loopback: bool,
    allowed_ports: Collection[int] = (),
    resolver: Resolver = system_resolver,
) -> list[IPAddress]:
    """The resolved addresses of a safe URL (callers pin them); else `UnsafeCallbackUrl`,
    or `DnsUnavailable` when the lookup timed out."""
    scheme, host, port = _port(url, allowed_ports)
    if scheme == "http" and not allow_loopback:
        raise UnsafeCallbackUrl("callback_url: must use https")
    addresses = [_address(a) for a in await resolver(host, port)]
    if not addresses:
        raise UnsafeCallbackUrl(f"callback_url: host {host!r} does not resolve")
    for address in addresses:
        why = address_problem(address, allow_loopback=allow_loopback)
        if why is not None:
            raise UnsafeCallbackUrl(f"callback_url: resolves to a {why} address")
        if scheme == "http" and not address.is_loopback:
            raise UnsafeCallbackUrl("callback_url: plain http is allowed only to loopback")
    return addresses
