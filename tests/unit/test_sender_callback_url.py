"""Callback URLs: https to public addresses only; http only to loopback in development."""

from __future__ import annotations

import pytest

from worker.services.callback_url import UnsafeCallbackUrl, check_callback_url


def resolving_to(*addresses: str):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "127.0.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 - an address to refuse, not a bind
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:10.0.0.1",
        "::",
    ],
)
async def test_https_to_a_non_public_address_is_refused(address: str) -> None:
    with pytest.raises(UnsafeCallbackUrl):
        await check_callback_url(
            "https://hooks.example.org/postino",
            allow_loopback=False,
            resolver=resolving_to(address),
        )


async def test_https_to_a_public_address_is_accepted() -> None:
    addresses = await check_callback_url(
        "https://hooks.example.org:8443/postino",
        allow_loopback=False,
        resolver=resolving_to("93.184.216.34"),
    )
    assert [str(a) for a in addresses] == ["93.184.216.34"]


async def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    with pytest.raises(UnsafeCallbackUrl, match="private"):
        await check_callback_url(
            "https://hooks.example.org/",
            allow_loopback=False,
            resolver=resolving_to("93.184.216.34", "10.0.0.1"),
        )


@pytest.mark.parametrize(
    "url",
    ["ftp://example.org/x", "file:///etc/passwd", "https://", "https://user:pw@example.org/"],
)
async def test_other_schemes_hostless_or_credentialed_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsafeCallbackUrl):
        await check_callback_url(url, allow_loopback=True, resolver=resolving_to("93.184.216.34"))


async def test_plain_http_needs_allow_loopback_and_a_loopback_address() -> None:
    loopback = resolving_to("127.0.0.1")
    with pytest.raises(UnsafeCallbackUrl, match="https"):
        await check_callback_url("http://localhost:9000/", allow_loopback=False, resolver=loopback)
    await check_callback_url("http://localhost:9000/", allow_loopback=True, resolver=loopback)
    with pytest.raises(UnsafeCallbackUrl, match="loopback"):
        await check_callback_url(
            "http://example.org/", allow_loopback=True, resolver=resolving_to("93.184.216.34")
        )


async def test_allow_loopback_still_refuses_private_and_metadata_addresses() -> None:
    for address in ("10.0.0.1", "169.254.169.254"):
        with pytest.raises(UnsafeCallbackUrl):
            await check_callback_url(
                "https://x.example.org/", allow_loopback=True, resolver=resolving_to(address)
            )


async def test_an_ip_literal_is_checked_too() -> None:
    with pytest.raises(UnsafeCallbackUrl):
        await check_callback_url("https://169.254.169.254/latest/meta-data", allow_loopback=False)
