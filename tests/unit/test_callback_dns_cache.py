"""The callbacks worker's DNS answers, reused for a short while (`CachedResolver`):
every POST still checks the answer it uses, so a host whose DNS turns to a private
address is refused once the kept answer expires."""

from __future__ import annotations

import asyncio

import pytest

from worker.services.callback_url import CachedResolver, UnsafeCallbackUrl, check_callback_url

URL = "https://hooks.example.org/callback"


class Dns:
    """A resolver whose answer the test changes; counts its lookups."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = list(addresses)
        self.lookups = 0
        self.failure: Exception | None = None

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups += 1
        await asyncio.sleep(0)
        if self.failure is not None:
            raise self.failure
        return list(self.addresses)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def check(resolver: CachedResolver) -> list[str]:
    found = await check_callback_url(URL, allow_loopback=False, resolver=resolver)
    return [str(a) for a in found]


async def test_a_host_is_looked_up_once_within_the_ttl() -> None:
    dns, clock = Dns("93.184.216.34"), Clock()
    resolver = CachedResolver(dns, ttl_seconds=30, clock=clock)
    for _ in range(3):
        assert await check(resolver) == ["93.184.216.34"]
    assert dns.lookups == 1


async def test_a_host_whose_dns_turns_private_is_refused_once_the_answer_expires() -> None:
    dns, clock = Dns("93.184.216.34"), Clock()
    resolver = CachedResolver(dns, ttl_seconds=30, clock=clock)
    assert await check(resolver) == ["93.184.216.34"]
    dns.addresses = ["10.0.0.7"]
    clock.now += 29
    # Within the TTL the POST still goes to the public address checked and pinned.
    assert await check(resolver) == ["93.184.216.34"]
    clock.now += 2
    with pytest.raises(UnsafeCallbackUrl, match="private"):
        await check(resolver)
    assert dns.lookups == 2


async def test_a_kept_answer_is_checked_again_at_every_use() -> None:
    dns, clock = Dns("169.254.169.254"), Clock()
    resolver = CachedResolver(dns, ttl_seconds=30, clock=clock)
    for _ in range(2):
        with pytest.raises(UnsafeCallbackUrl, match="link-local"):
            await check(resolver)
    assert dns.lookups == 1


async def test_a_failed_lookup_is_not_kept() -> None:
    dns, clock = Dns("93.184.216.34"), Clock()
    dns.failure = UnsafeCallbackUrl("callback_url: host does not resolve")
    resolver = CachedResolver(dns, ttl_seconds=30, clock=clock)
    with pytest.raises(UnsafeCallbackUrl, match="does not resolve"):
        await check(resolver)
    dns.failure = None
    assert await check(resolver) == ["93.184.216.34"]
    assert dns.lookups == 2


async def test_concurrent_sends_to_one_host_share_one_lookup() -> None:
    dns, clock = Dns("93.184.216.34"), Clock()
    resolver = CachedResolver(dns, ttl_seconds=30, clock=clock)
    found = await asyncio.gather(*(check(resolver) for _ in range(5)))
    assert found == [["93.184.216.34"]] * 5
    assert dns.lookups == 1


async def test_at_most_max_hosts_answers_are_kept_the_oldest_dropped_first() -> None:
    dns, clock = Dns("93.184.216.34"), Clock()
    resolver = CachedResolver(dns, ttl_seconds=30, max_hosts=2, clock=clock)
    for host in ("a.example.org", "b.example.org", "c.example.org"):
        await resolver(host, 443)
    await resolver("c.example.org", 443)
    await resolver("b.example.org", 443)
    assert dns.lookups == 3
    await resolver("a.example.org", 443)  # dropped: looked up again
    assert dns.lookups == 4


async def test_with_a_ttl_of_zero_every_send_looks_the_host_up() -> None:
    dns, clock = Dns("93.184.216.34"), Clock()
    resolver = CachedResolver(dns, ttl_seconds=0, clock=clock)
    await check(resolver)
    await check(resolver)
    assert dns.lookups == 2
