"""payments: pagoPA business events on `payments.updates` -> paid messages + status events.

Guarantees:
- every event is kept in `payments`, keyed by its event id: a duplicate writes nothing,
  and a payment that arrives before its message still counts (deliver pays a message
  on arrival when its `rpt_id` is already there);
- EVERY message carrying the event's `rpt_id` is marked paid once: `paid_at` is set
  and `status_seq` incremented in the same transaction, the seq kept in `paid_seq`;
- `MessagePaid` events (ADVANCED messages only: a STANDARD sender never learns of
  a payment) are built from the stored rows, so a redone batch or a
  duplicate event re-emits the identical event (same seq), harmless downstream;
- an event that cannot be decoded, or carries text no store can hold (control
  characters, unpaired surrogates, nesting deeper than 32), goes to
  `payments.updates.dlq` with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from schemas import codecs
from schemas.events import MessagePaid, PaymentEvent
from schemas.topics import Topic, Topics
from worker import logs
from worker.core.batch import BatchResult, DeadLetter, decode_value
from worker.core.records import OutRecord, Record
from worker.services.ports import Publisher
from worker.services.sender_events import shares_paid

log = logs.get("postino.payments")


@dataclass(frozen=True, slots=True)
class PaymentRow:
    """One pagoPA event as stored in `payments`."""

    event_id: str
    rpt_id: str
    paid_at: datetime | None
    amount: str | None


@dataclass(frozen=True, slots=True)
class PaidMessage:
    """A message row in its paid state (what `MessagePaid` is built from)."""

    id: str
    sender_service_id: str
    rpt_id: str
    paid_at: datetime
    paid_seq: int
    feature_level_type: str


class PaymentStore(Protocol):
    async def apply_payments(self, payments: Sequence[PaymentRow]) -> list[PaidMessage]:
        """Keep the events (ON CONFLICT DO NOTHING), mark their messages paid, and
        return every paid message of those rpt_ids; one transaction, one round trip."""
        ...

    async def sweep(self, lookback_seconds: float) -> list[PaidMessage]:
        """Pay the unpaid messages of payments kept in the last `lookback_seconds`;
        returns only the messages paid now."""
        ...


def payment_row(event: PaymentEvent) -> PaymentRow:
    amount = event.payment_info.amount
    return PaymentRow(
        event_id=event.id,
        rpt_id=event.rpt_id,
        paid_at=event.payment_info.payment_date_time,
        amount=None if amount is None else str(amount),
    )


def decode(records: Sequence[Record]) -> tuple[list[PaymentRow], list[DeadLetter]]:
    rows: list[PaymentRow] = []
    dead: list[DeadLetter] = []
    for record in records:
        event = decode_value(record, codecs.PAYMENT.decode, "invalid_payment")
        if isinstance(event, DeadLetter):
            dead.append(event)
            continue
        rows.append(payment_row(event))
    return rows, dead


def paid_event(row: PaidMessage) -> MessagePaid:
    return MessagePaid(
        message_id=row.id,
        sender_service_id=row.sender_service_id,
        seq=row.paid_seq,
        at=row.paid_at,
        rpt_id=row.rpt_id,
        paid_at=row.paid_at,
    )


def paid_records(paid: Sequence[PaidMessage], topics: Topics) -> list[OutRecord]:
    """The `paid` events a sender may learn: ADVANCED messages only
    (docs/integrators/callbacks.md)."""
    topic = topics.name(Topic.STATUS)
    return [
        OutRecord(topic, codecs.STATUS.encode(paid_event(p)), p.id.encode())
        for p in paid
        if shares_paid(p.feature_level_type)
    ]


async def reconcile_batch(
    records: Sequence[Record], store: PaymentStore, topics: Topics
) -> BatchResult:
    """Handle one poll batch of `payments.updates` (one database round trip)."""
    rows, dead = decode(records)
    if not rows:
        return BatchResult(dead=dead)
    paid = await store.apply_payments(rows)
    log.debug("payments_applied", events=len(rows), paid_messages=len(paid), dead=len(dead))
    return BatchResult(out=paid_records(paid, topics), dead=dead)


async def sweep(
    store: PaymentStore, publisher: Publisher, topics: Topics, lookback_seconds: float
) -> int:
    """Sweeper: pay messages that missed their payment (arrived in the same instant),
    publish their `MessagePaid` events and await the acks. Idempotent."""
    paid = await store.sweep(lookback_seconds)
    if paid:
        await publisher.publish_many(paid_records(paid, topics))
        log.info("payments_swept", paid_messages=len(paid))
    return len(paid)
