"""The caller's address and the service's authorized CIDRs (docs/integrators/sending.md).

Every sender route checks them: submit at its place in the order of 1.2, the status
and profile routes first of all (`networked_sender`), before any lookup.

The address is the socket peer. `X-Forwarded-For` is believed only when the peer is
one of `settings.http.trusted_proxies`; then the right-most address that is not a
trusted proxy is the client (the left part of the header is the client's to forge).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from aiohttp import web

from worker.ingress.auth import sender
from worker.ingress.keys import RUNTIME
from worker.ingress.problems import problem
from worker.services.directory import Service

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=4096)
def networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs)


def _parse(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text.strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _within(address: Address, nets: tuple[Network, ...]) -> bool:
    return any(address.version == n.version and address in n for n in nets)


def client_address(
    peer: str | None, forwarded_for: str | None, trusted: tuple[str, ...]
) -> Address | None:
    address = _parse(peer) if peer else None
    if address is None or not forwarded_for or not trusted:
        return address
    proxies = networks(trusted)
    if not _within(address, proxies):
        return address
    for hop in reversed(forwarded_for.split(",")):
        hop_address = _parse(hop)
        if hop_address is None:
            return address
        if not _within(hop_address, proxies):
            return hop_address
        address = hop_address
    return address


def cidr_refusal(request: web.Request, service: Service) -> web.Response | None:
    """403 when the service restricts its callers and this one is outside every CIDR."""
    if not service.authorized_cidrs:
        return None
    trusted = request.app[RUNTIME].settings.http.trusted_proxies
    peer = request.transport.get_extra_info("peername") if request.transport else None
    host = peer[0] if isinstance(peer, tuple) and peer else None
    address = client_address(host, request.headers.get("X-Forwarded-For"), trusted)
    if address is not None and _within(address, networks(service.authorized_cidrs)):
        return None
    return problem(
        403, "Forbidden", "the caller's address is not in the service's authorized_cidrs"
    )


def networked_sender(request: web.Request) -> Service | web.Response:
    """The authenticated sender, or the refusal: 401 without a valid key, 403 from
    outside the service's `authorized_cidrs`. Every sender route but submit calls it
    before any lookup (submit checks the CIDRs at their place in the order of
    docs/integrators/sending.md)."""
    service = sender(request)
    if isinstance(service, web.Response):
        return service
    return cidr_refusal(request, service) or service
