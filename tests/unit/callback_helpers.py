"""The callbacks role's handlers over in-memory fakes of its ports (no broker, no
database, no receiver), for the callbacks unit tests."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from schemas import codecs
from schemas.enums import MessageStatus
from schemas.events import MessageStatusChanged
from schemas.topics import Topic, Topics
from tests.fakes import Clock, FakeCallbacks, FakePublisher, FakeWebhookSender
from worker.core.batch import BatchResult
from worker.core.errors import RetryableError, UnpublishableError
from worker.core.records import OutRecord, Record
from worker.roles.callbacks import handlers
from worker.services.callback_pool import FirstAttempts
from worker.services.callback_send import CallbackDeps, Receiver, event_key
from worker.settings import CallbackSettings

SERVICE = "svc-1"
URL = "https://sender.example.org/hook"
#: The watchdog's bound in these tests (`POSTINO_CALLBACK_COPY_AFTER_SECONDS`).
COPY_AFTER = 2.0


class Publisher(FakePublisher):
    """Acknowledges every record, or fails the next `failures` publishes, or refuses
    for good a batch holding one of `too_large`."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 0
        #: Records the broker will never take (over its size limit), by value.
        self.too_large: set[bytes] = set()

    async def publish_many(self, records: Sequence[OutRecord]) -> None:
        if self.failures:
            self.failures -= 1
            raise RetryableError("broker down")
        if any(r.value in self.too_large for r in records):
            raise UnpublishableError("MessageSizeTooLargeError")
        await super().publish_many(records)


class Callbacks:
    def __init__(self, sender: FakeWebhookSender, per_service: int = 10) -> None:
        self.clock = Clock()
        self.store = FakeCallbacks({SERVICE: Receiver(URL, "s3cret")})
        self.sender = sender
        self.publisher = Publisher()
        settings = CallbackSettings(
            timeout_seconds=1.0,
            retry_delays=(10, 60),
            call_attempts=1,
            max_in_flight_per_service=per_service,
            copy_after_seconds=COPY_AFTER,
        )
        self.deps = CallbackDeps(self.store, sender, Topics(), settings, self.clock)
        # The watchdog is driven by the tests (`copy_overdue`), on the fake clock.
        self.first_attempts = FirstAttempts(self.deps, self.publisher, watch=False)
        self.first, self.retry = handlers(self.deps, self.first_attempts)
        self.offset = 0

    def event(self, n: int = 1, service: str = SERVICE) -> OutRecord:
        event = MessageStatusChanged(
            message_id=f"01J0000000000000000000000{n}",
            sender_service_id=service,
            seq=1,
            at=self.clock(),
            status=MessageStatus.PROCESSED,
        )
        return OutRecord(Topic.STATUS, codecs.STATUS.encode(event))

    def records(self, *items: OutRecord) -> list[Record]:
        """The items as consumed records, at the next offsets of partition 0."""
        records = []
        for item in items:
            self.offset += 1
            records.append(
                Record(item.topic, 0, self.offset, item.key, item.value, 0, item.headers)
            )
        return records

    async def run(self, handle_first: bool, *items: OutRecord) -> BatchResult:
        return await (self.first if handle_first else self.retry)(self.records(*items))

    def held_from(self) -> int | None:
        """The first offset of `messages.status` partition 0 the commit must stay below."""
        return self.first_attempts.commit_bound(Topic.STATUS, 0)

    @property
    def copies(self) -> list[OutRecord]:
        """Copies published outside a batch (a failed attempt's, the watchdog's)."""
        return self.publisher.records

    async def settle_first_attempts(self) -> None:
        for _ in range(100_000):  # polls the background tasks: each ends in a few steps
            if not self.first_attempts.in_flight:
                return
            await asyncio.sleep(0)
        raise AssertionError("first attempts still in flight")

    def key(self, record: OutRecord) -> str:
        return event_key(SERVICE, record.value)


class HeldSender(FakeWebhookSender):
    """Holds every POST to `held` until released."""

    def __init__(self, held: str) -> None:
        super().__init__()
        self.held = held
        self.release = asyncio.Event()

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> None:
        await super().post(url, body, headers)
        if url == self.held:
            await self.release.wait()


async def posted(cb: Callbacks, count: int) -> None:
    for _ in range(1000):
        if len(cb.sender.posts) >= count:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{len(cb.sender.posts)} posts, not {count}")
