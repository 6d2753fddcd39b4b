"""deliver_batch over a hand-written fake store: ids, origins, conflicts, follow-ups."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec

from schemas import codecs
from schemas.events import MessageStatusChanged
from schemas.topics import Topics
from tests.factories import MARKDOWN
from worker.core.records import Record
from worker.ids import IdSigner, record_id, upstream_id
from worker.services.deliver import DeliverDeps, deliver_batch
from worker.services.directory import Service
from worker.services.model import DeliveryContext, InboxRow, Profile, StoredMessage
from worker.services.ports import INGRESS_ORIGIN

FC = "RSSMRA80A01H501U"
TOPIC = "messages.submitted"
SERVICE = Service("svc", "Tributi", "Comune", "12345678901", "approved", True, b"k")
SIGNER = IdSigner("unit-secret")
NOW = datetime(2025, 1, 1, tzinfo=UTC)


class FakeStore:
    def __init__(self, *, profiles: Sequence[str] = (FC,)) -> None:
        self.context = DeliveryContext(
            profiles={fc: Profile(fc) for fc in profiles}, services={SERVICE.id: SERVICE}
        )
        self.rows: dict[str, StoredMessage] = {}
        self.loads = 0
        self.writes: list[list[str]] = []

    async def load_context(
        self, fiscal_codes: Sequence[str], service_ids: Sequence[str]
    ) -> DeliveryContext:
        self.loads += 1
        return self.context

    async def save_messages(self, rows: Sequence[InboxRow]) -> list[StoredMessage]:
        self.writes.append([r.id for r in rows])
        for r in rows:
            self.rows.setdefault(
                r.id,
                StoredMessage(
                    r.id, r.fiscal_code, r.sender_service_id, r.status.value,
                    r.rejection_reason, r.failure_reason, r.created_at, r.time_to_live, NOW,
                ),
            )  # fmt: skip
        return [self.rows[r.id] for r in rows]


def record(offset: int, value: dict[str, Any] | bytes, headers: Any = ()) -> Record:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return Record(TOPIC, 0, offset, FC.encode(), raw, 1_700_000_000_000, headers)


def body(**extra: Any) -> dict[str, Any]:
    content = {"subject": "Avviso di pagamento TARI", "markdown": MARKDOWN}
    return {"sender_service_id": SERVICE.id, "fiscal_code": FC, "content": content, **extra}


def deps(store: FakeStore) -> DeliverDeps:
    return DeliverDeps(store, Topics(), SIGNER)


async def test_a_batch_is_one_context_load_and_one_write() -> None:
    store = FakeStore()
    batch = [record(n, body(id=f"m-{n}")) for n in range(5)]
    result = await deliver_batch(batch, deps(store))
    assert (store.loads, len(store.writes), len(store.writes[0])) == (1, 1, 5)
    assert len(result.out) == 10  # status event and push request each
    assert result.dead == []


async def test_the_same_id_twice_in_a_batch_is_handled_once() -> None:
    store = FakeStore()
    result = await deliver_batch([record(0, body(id="m")), record(1, body(id="m"))], deps(store))
    assert store.writes == [[upstream_id(SERVICE.id, "m")]]
    assert len(result.out) == 2


async def test_a_replayed_record_keeps_the_id_of_its_original_position() -> None:
    store = FakeStore()
    origin = (
        ("postino-original-topic", TOPIC.encode()),
        ("postino-original-partition", b"3"),
        ("postino-original-offset", b"41"),
        ("postino-original-timestamp", b"1600000000000"),
    )
    await deliver_batch([record(900, body(), origin)], deps(store))
    assert store.writes == [[record_id(TOPIC, 3, 41, 1_600_000_000_000)]]


async def test_an_id_taken_by_another_message_is_dead_lettered_not_overwritten() -> None:
    store = FakeStore()
    await deliver_batch([record(0, body(id="taken"))], deps(store))
    taken = upstream_id(SERVICE.id, "taken")
    other = msgspec.structs.replace(store.rows[taken], fiscal_code="VRDGPP80A01H501X")
    store.rows[taken] = other
    result = await deliver_batch([record(1, body(id="taken"))], deps(store))
    assert [d.code for d in result.dead] == ["duplicate_id"]
    assert result.out == []


async def test_an_ingress_record_of_an_unknown_service_fails_instead_of_the_dlq() -> None:
    store = FakeStore()
    message_id = SIGNER.new("svc-gone", FC)
    signed = body(id=message_id, sender_service_id="svc-gone")
    result = await deliver_batch([record(0, signed, (INGRESS_ORIGIN,))], deps(store))
    assert result.dead == []
    [event] = [codecs.STATUS.decode(o.value) for o in result.out]
    assert isinstance(event, MessageStatusChanged)
    assert (event.status, event.failure_reason) == ("FAILED", "SERVICE_NOT_FOUND")


async def test_an_empty_record_is_dead_lettered() -> None:
    empty = msgspec.structs.replace(record(0, b""), value=None)
    result = await deliver_batch([empty], deps(FakeStore()))
    assert [d.code for d in result.dead] == ["empty_record"]
