"""Is a sender's callback URL safe to POST to? (IO-RULES 4; no SSRF.)

Checked when the URL is set (back-office) and again at send time (callbacks worker),
because DNS may change in between. Rules: `https` only; plain `http` only to a
loopback address and only when `allow_loopback` (development). Every address the
host resolves to must be public: private, loopback, link-local (cloud metadata
169.254.169.254 included), CGNAT, unspecified, multicast and reserved ranges are
refused, unless `allow_loopback` lets loopback through.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
MAX_LENGTH = 2048


class UnsafeCallbackUrl(ValueError):
    """The URL may not be used as a callback; the message says why (safe to show)."""


async def system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnsafeCallbackUrl(f"callback_url: host {host!r} does not resolve") from exc
    return [str(info[4][0]) for info in infos]


def _address(text: str) -> IPAddress:
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def address_problem(address: IPAddress, *, allow_loopback: bool) -> str | None:
    """Why this address is refused, or None when it may be called."""
    if address.is_loopback:
        return None if allow_loopback else "loopback"
    checks = (
        (address.is_unspecified, "unspecified"),
        (address.is_multicast, "multicast"),
        (address.is_link_local, "link-local (cloud metadata)"),
        (isinstance(address, ipaddress.IPv4Address) and address in _CGNAT, "CGNAT"),
        (address.is_private, "private"),
        (address.is_reserved or not address.is_global, "not public"),
    )
    return next((why for hit, why in checks if hit), None)


async def check_callback_url(
    url: str, *, allow_loopback: bool, resolver: Resolver = system_resolver
) -> list[IPAddress]:
    """The resolved addresses of a safe URL (callers may pin them); else `UnsafeCallbackUrl`."""
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
    if parts.scheme == "http" and not allow_loopback:
        raise UnsafeCallbackUrl("callback_url: must use https")
    default_port = 443 if parts.scheme == "https" else 80
    addresses = [_address(a) for a in await resolver(parts.hostname, port or default_port)]
    if not addresses:
        raise UnsafeCallbackUrl(f"callback_url: host {parts.hostname!r} does not resolve")
    for address in addresses:
        why = address_problem(address, allow_loopback=allow_loopback)
        if why is not None:
            raise UnsafeCallbackUrl(f"callback_url: resolves to a {why} address")
        if parts.scheme == "http" and not address.is_loopback:
            raise UnsafeCallbackUrl("callback_url: plain http is allowed only to loopback")
    return addresses
