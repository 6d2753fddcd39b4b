"""Rate (token bucket per process) and daily quota (shared through a usage store)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import pytest

from worker.ingress.network import client_address
from worker.services.limits import Limiter, seconds_to_next_day

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


class FakeUsage:
    """The `service_usage` table: adds counts, answers totals (like the upsert does)."""

    def __init__(self) -> None:
        self.totals: dict[tuple[str, date], int] = {}
        self.calls = 0

    async def add_usage(self, counts: Sequence[tuple[str, date, int]]) -> dict[str, int]:
        self.calls += 1
        for service_id, day, n in counts:
            self.totals[(service_id, day)] = self.totals.get((service_id, day), 0) + n
        return {s: self.totals[(s, d)] for s, d, _ in counts if (s, d) in self.totals}


def _admit(limiter: Limiter, *, rate: int = 1000, quota: int = 1000, clock: float = 0.0) -> bool:
    return limiter.admit("svc", rate=rate, quota=quota, now=NOW, clock=clock) is None


def test_the_rate_admits_a_burst_of_one_second_then_refuses_until_tokens_return() -> None:
    limiter = Limiter()
    assert all(_admit(limiter, rate=5) for _ in range(5))
    refused = limiter.admit("svc", rate=5, quota=1000, now=NOW, clock=0.0)
    assert refused is not None
    assert refused.reason == "rate limit exceeded"
    assert refused.retry_after == 1
    assert _admit(limiter, rate=5, clock=0.2)
    assert not _admit(limiter, rate=5, clock=0.2)


def test_the_quota_refuses_the_request_after_the_last_one_allowed() -> None:
    limiter = Limiter()
    assert all(_admit(limiter, quota=3) for _ in range(3))
    refused = limiter.admit("svc", rate=1000, quota=3, now=NOW, clock=0.0)
    assert refused is not None
    assert refused.reason == "daily quota exhausted"
    assert refused.retry_after == seconds_to_next_day(NOW)


async def test_two_processes_share_the_daily_quota_through_the_store() -> None:
    store = FakeUsage()
    first, second = Limiter(), Limiter()
    assert all(_admit(first, quota=10) for _ in range(6))
    await first.flush(store, NOW)
    await second.flush(store, NOW)  # learns nothing yet: it has not seen the service
    assert all(_admit(second, quota=10) for _ in range(2))
    await second.flush(store, NOW)  # pushes 2, learns the total of 8
    assert all(_admit(second, quota=10) for _ in range(2))
    assert not _admit(second, quota=10)
    await second.flush(store, NOW)
    await first.flush(store, NOW)  # first learns the total of 10 too
    assert not _admit(first, quota=10)
    assert store.totals[("svc", date(2026, 3, 10))] == 10


async def test_counts_survive_a_failed_flush() -> None:
    class Broken:
        async def add_usage(self, counts: Sequence[tuple[str, date, int]]) -> dict[str, int]:
            raise ConnectionError("database down")

    limiter, store = Limiter(), FakeUsage()
    assert all(_admit(limiter) for _ in range(4))
    with pytest.raises(ConnectionError):
        await limiter.flush(Broken(), NOW)
    await limiter.flush(store, NOW)
    assert store.totals[("svc", date(2026, 3, 10))] == 4


def test_the_quota_day_ends_at_midnight_in_rome() -> None:
    # 12:00 UTC in March is 13:00 in Rome: 11 hours to midnight
    assert seconds_to_next_day(NOW) == 11 * 3600


def test_the_client_is_the_socket_peer_unless_the_peer_is_a_trusted_proxy() -> None:
    trusted = ("10.0.0.0/8",)
    assert str(client_address("203.0.113.9", "198.51.100.1", trusted)) == "203.0.113.9"
    assert str(client_address("10.0.0.5", "198.51.100.1", trusted)) == "198.51.100.1"
    # the left part is the client's to forge: the right-most untrusted hop counts
    assert str(client_address("10.0.0.5", "1.2.3.4, 198.51.100.1, 10.0.0.7", trusted)) == (
        "198.51.100.1"
    )
    assert str(client_address("10.0.0.5", "198.51.100.1", ())) == "10.0.0.5"
    assert str(client_address("::ffff:127.0.0.1", None, ())) == "127.0.0.1"
