"""payments service over a hand-written fake store: decoding, DLQ reasons, events."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from schemas import codecs
from schemas.events import MessagePaid
from schemas.topics import Topics
from worker.core.records import Record
from worker.services.payments import PaidMessage, PaymentRow, reconcile_batch

TOPICS = Topics("x.")
PAID_AT = datetime(2024, 5, 2, 9, 30, tzinfo=UTC)


class FakeStore:
    def __init__(self) -> None:
        self.applied: list[PaymentRow] = []

    async def apply_payments(self, payments: Sequence[PaymentRow]) -> list[PaidMessage]:
        self.applied += payments
        return [
            PaidMessage("M1", "svc", p.rpt_id, p.paid_at or PAID_AT, 3, "ADVANCED")
            for p in payments
        ]

    async def sweep(self, lookback_seconds: float) -> list[PaidMessage]:
        return []


def event(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "id": "evt-1",
        "debtorPosition": {"noticeNumber": "302000000000000001", "iuv": "x"},
        "creditor": {"idPA": "12345678901", "companyName": "Comune"},
        "paymentInfo": {"paymentDateTime": "2024-05-02T09:30:00Z", "amount": "12.50"},
        "psp": {"idPsp": "ignored"},
    }
    body.update(overrides)
    return body


def record(value: bytes | None, offset: int = 0) -> Record:
    return Record("x.payments.updates", 0, offset, b"k", value, 0)


async def test_the_rpt_id_is_the_creditor_fiscal_code_and_the_notice_number() -> None:
    store = FakeStore()
    result = await reconcile_batch([record(json.dumps(event()).encode())], store, TOPICS)
    assert store.applied == [PaymentRow("evt-1", "12345678901302000000000000001", PAID_AT, "12.50")]
    assert [o.topic for o in result.out] == ["x.messages.status"]
    paid = codecs.STATUS.decode(result.out[0].value)
    assert isinstance(paid, MessagePaid)
    assert (paid.message_id, paid.seq, paid.rpt_id) == ("M1", 3, "12345678901302000000000000001")


async def test_malformed_events_are_dead_lettered_with_their_reason_the_rest_applied() -> None:
    store = FakeStore()
    bad_notice = event(id="evt-2", debtorPosition={"noticeNumber": "12"})
    records = [
        record(b"not json", 0),
        record(json.dumps(bad_notice).encode(), 1),
        record(None, 2),
        record(json.dumps(event(id="evt-3")).encode(), 3),
    ]
    result = await reconcile_batch(records, store, TOPICS)
    assert [(d.record.offset, d.code) for d in result.dead] == [
        (0, "not_json"),
        (1, "invalid_payment"),
        (2, "empty_record"),
    ]
    assert "noticeNumber" in result.dead[1].detail
    assert [p.event_id for p in store.applied] == ["evt-3"]
