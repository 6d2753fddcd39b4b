"""A role never dies of one record: whatever decoding or tracing a record raises, that
record goes to its DLQ with a code and the loop goes on with the next one.

Each consumer role's own handler (over the fakes of its unit tests) runs in the real
loop, with tracing on, over a 2 KB record nested 1,000 deep that carries a trace
context, followed by a good record. Reminders consume nothing: they have no such loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from schemas import codecs
from schemas.topics import Topic, Topics
from tests.fakes import FakeWebhookSender
from tests.unit.callback_helpers import Callbacks
from tests.unit.test_deliver_batch import FakeStore as DeliverStore
from tests.unit.test_deliver_batch import body, deps
from tests.unit.test_notify_state_machine import Notify
from tests.unit.test_payments import FakeStore as PaymentStore
from tests.unit.test_payments import event
from tests.unit.test_runner import FakePublisher
from worker import metrics, tracing
from worker.consumers.runner import ConsumerRunner
from worker.core.batch import BatchHandler, BatchResult
from worker.core.records import OutRecord, Record
from worker.roles.deliver import handler as deliver_handler
from worker.services.payments import reconcile_batch

#: 2 KB of JSON nested 1,000 deep, under a property a message id would be read from.
DEEP = b'{"message_id": "m", "more":' + b"[" * 1000 + b"]" * 1000 + b"}"
TRACEPARENT = ("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")


class TopicConsumer:
    """Serves the given values on one partition of `topic`, then nothing."""

    def __init__(self, topic: str, values: Sequence[bytes]) -> None:
        self.tp = TopicPartition(topic, 0)
        self.pending = [
            ConsumerRecord(topic, 0, n, 0, 0, b"k", v, None, 0, len(v), [TRACEPARENT])
            for n, v in enumerate(values)
        ]
        self.commits: dict[TopicPartition, int] = {}
        self.log: list[str] = []

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def subscribe(self, topics: Sequence[str], listener: Any = None) -> None: ...

    async def getmany(self, timeout_ms: int = 0) -> dict[TopicPartition, list[Any]]:
        batch, self.pending = self.pending, []
        return {self.tp: batch} if batch else {}

    def highwater(self, tp: TopicPartition) -> int | None:
        return None

    def assignment(self) -> set[TopicPartition]:
        return {self.tp}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.update(offsets)


@pytest.fixture(autouse=True)
def traced() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.configure("test", "0", exporter=exporter)
    yield exporter
    tracing.shutdown()


def deliver() -> tuple[str, BatchHandler, bytes]:
    return Topic.SUBMITTED, deliver_handler(deps(DeliverStore())), json.dumps(body()).encode()


def notify() -> tuple[str, BatchHandler, bytes]:
    role = Notify()
    return Topic.NOTIFICATIONS, role.handle, codecs.NOTIFICATION.encode(role.request())


def callbacks() -> tuple[str, BatchHandler, bytes]:
    role = Callbacks(FakeWebhookSender())

    async def handle(records: Sequence[Record]) -> BatchResult:
        before = len(role.sender.posts)
        result = await role.first(records)
        await role.settle_first_attempts()
        # Its work is a POST, not a record: each told here as one, for the test to see.
        result.out += [OutRecord("posted", body) for _, body, _ in role.sender.posts[before:]]
        return result

    return Topic.STATUS, handle, role.event().value


def payments() -> tuple[str, BatchHandler, bytes]:
    async def handle(records: Sequence[Record]) -> BatchResult:
        return await reconcile_batch(records, PaymentStore(), Topics())

    return Topic.PAYMENTS, handle, json.dumps(event()).encode()


Role = Callable[[], tuple[str, BatchHandler, bytes]]


@pytest.mark.parametrize("role", [deliver, notify, callbacks, payments], ids=lambda r: r.__name__)
async def test_a_record_nested_1000_deep_is_dead_lettered_and_the_next_one_handled(
    role: Role, traced: InMemorySpanExporter
) -> None:
    topic, handle, good = role()
    consumer = TopicConsumer(topic, [DEEP, good])
    publisher = FakePublisher(consumer)  # type: ignore[arg-type]
    runner = ConsumerRunner(
        role=role.__name__,
        consumer=consumer,  # type: ignore[arg-type]
        topics=[topic],
        handler=_settled(handle),
        publisher=publisher,  # type: ignore[arg-type]
        max_backoff=0.01,
    )
    assert await runner.run_until_idle() == 2

    [dead] = [r for r in publisher.sent if r.topic == f"{topic}.dlq"]
    headers = dict(dead.headers)
    assert (dead.value, headers["postino-original-offset"]) == (DEEP, b"0")
    assert headers["postino-error-code"] == b"nested_too_deep"
    assert consumer.commits == {consumer.tp: 2}
    assert any(r.topic != f"{topic}.dlq" for r in publisher.sent)  # the good record's work
    assert traced.get_finished_spans()  # tracing was on


def _settled(handle: BatchHandler) -> Callable[[Sequence[Record]], Awaitable[BatchResult]]:
    """callbacks send in the background: let them end before the batch is counted."""

    async def run(records: Sequence[Record]) -> BatchResult:
        result = await handle(records)
        for _ in range(50):
            await asyncio.sleep(0)
        return result

    return run


def _deliver_runner(consumer: TopicConsumer, publisher: FakePublisher) -> ConsumerRunner:
    return ConsumerRunner(
        role="deliver",
        consumer=consumer,  # type: ignore[arg-type]
        topics=[Topic.SUBMITTED],
        handler=deliver_handler(deps(DeliverStore())),
        publisher=publisher,  # type: ignore[arg-type]
        max_backoff=0.01,
    )


async def test_a_record_whose_tracing_fails_is_dead_lettered_as_such(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def choke(value: bytes | None) -> str | None:
        if value == b"{}":
            raise MemoryError("the tracer choked")
        return None

    monkeypatch.setattr(tracing, "message_id_of", choke)
    consumer = TopicConsumer(Topic.SUBMITTED, [b"{}", json.dumps(body()).encode()])
    publisher = FakePublisher(consumer)  # type: ignore[arg-type]
    assert await _deliver_runner(consumer, publisher).run_until_idle() == 2

    [dead] = [r for r in publisher.sent if r.topic.endswith(".dlq")]
    assert dict(dead.headers)["postino-error-code"] == b"tracing_failed"
    assert consumer.commits == {consumer.tp: 2}


class _Broken:
    def labels(self, **labels: str) -> Any:
        raise ValueError("a metric that cannot be written")


async def test_metrics_and_logs_that_fail_never_stop_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("DLQ_RECORDS", "CONSUMED", "PRODUCED", "BATCH_SECONDS", "LAG"):
        monkeypatch.setattr(metrics, name, _Broken())
    consumer = TopicConsumer(Topic.SUBMITTED, [b"not json", json.dumps(body()).encode()])
    publisher = FakePublisher(consumer)  # type: ignore[arg-type]
    assert await _deliver_runner(consumer, publisher).run_until_idle() == 2
    assert [dict(r.headers)["postino-error-code"] for r in publisher.sent if "dlq" in r.topic] == [
        b"not_json"
    ]
