"""Callback SSRF forms (docs/integrators/callbacks.md): IPv6 transition addresses that embed an
internal IPv4 address, site-local IPv6, ports outside dev, DNS lookups with a timeout."""

from __future__ import annotations

import time
from typing import Any

import pytest

from worker.services.callback_url import (
    DnsUnavailable,
    UnsafeCallbackUrl,
    check_callback_url,
    system_resolver,
)

PRODUCTION_PORTS = (443, 8443)


def resolving_to(*addresses: str):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("2002:c0a8:0101::1", "6to4"),  # 6to4 of 192.168.1.1
        ("2002:7f00:0001::1", "6to4"),  # of 127.0.0.1
        ("2002:a9fe:a9fe::1", "6to4"),  # of 169.254.169.254
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "Teredo|private"),  # Teredo, client 10.0.0.1
        ("64:ff9b::a9fe:a9fe", "NAT64|not public"),  # NAT64 of 169.254.169.254
        ("64:ff9b::a00:1", "NAT64|not public"),  # NAT64 of 10.0.0.1
        ("64:ff9b:1::a00:1", "NAT64|not public"),  # local-use NAT64
        ("fec0::1", "site-local"),
        ("fec0:1234::8", "site-local"),
    ],
)
async def test_an_ipv6_form_of_an_internal_address_is_refused(address: str, why: str) -> None:
    with pytest.raises(UnsafeCallbackUrl, match=why):
        await check_callback_url(
            "https://hooks.example.org/", allow_loopback=False, resolver=resolving_to(address)
        )


async def test_a_6to4_address_of_a_public_address_is_accepted() -> None:
    await check_callback_url(
        "https://hooks.example.org/",
        allow_loopback=False,
        resolver=resolving_to("2002:5db8:d822::1"),  # 93.184.216.34
    )


@pytest.mark.parametrize(
    "url", ["https://hooks.example.org:8080/", "https://hooks.example.org:22/"]
)
async def test_outside_dev_only_ports_443_and_8443_are_allowed(url: str) -> None:
    with pytest.raises(UnsafeCallbackUrl, match="port"):
        await check_callback_url(
            url,
            allow_loopback=False,
            allowed_ports=PRODUCTION_PORTS,
            resolver=resolving_to("93.184.216.34"),
        )
    for fine in ("https://hooks.example.org/", "https://hooks.example.org:8443/x"):
        await check_callback_url(
            fine,
            allow_loopback=False,
            allowed_ports=PRODUCTION_PORTS,
            resolver=resolving_to("93.184.216.34"),
        )


async def test_a_lookup_that_hangs_times_out_as_a_transient_failure() -> None:
    def hanging(*_: Any, **__: Any) -> list[tuple[Any, ...]]:
        time.sleep(0.5)  # a stuck resolver, in the lookup's own thread
        return []

    with pytest.raises(DnsUnavailable):
        await system_resolver("hooks.example.org", 443, timeout=0.05, getaddrinfo=hanging)
