"""The eraser's pass: batches until one comes back short, at most `max_batches`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from worker.services.retention import cutoff, erase_expired
from worker.settings import RetentionSettings

NOW = datetime(2027, 1, 1, tzinfo=UTC)


class FakeStore:
    def __init__(self, waiting: int) -> None:
        self.waiting = waiting
        self.calls: list[tuple[datetime, int]] = []

    async def erase_batch(self, older_than: datetime, limit: int) -> int:
        self.calls.append((older_than, limit))
        erased = min(limit, self.waiting)
        self.waiting -= erased
        return erased


async def test_a_pass_erases_in_batches_until_one_comes_back_short() -> None:
    store = FakeStore(25)
    settings = RetentionSettings(message_content_days=30, batch_size=10)
    assert await erase_expired(store, settings, NOW, pause_seconds=0) == 25
    assert store.calls == [(NOW - timedelta(days=30), 10)] * 3


async def test_a_pass_stops_after_its_batches_and_the_next_goes_on() -> None:
    store = FakeStore(50)
    settings = RetentionSettings(batch_size=10)
    assert await erase_expired(store, settings, NOW, max_batches=2, pause_seconds=0) == 20
    assert await erase_expired(store, settings, NOW, max_batches=10, pause_seconds=0) == 30


def test_the_cutoff_is_the_retention_before_now() -> None:
    assert cutoff(NOW, RetentionSettings()) == NOW - timedelta(days=365)
