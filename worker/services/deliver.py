"""deliver: `messages.submitted` records -> inbox rows, status events, notification requests.

Guarantees: the whole batch is decided with one context load and written with one
multi-row insert; every row has the message id as key, so a redone batch writes
nothing new and re-emits the same events (built from the stored rows, not from the
decision), which is harmless for consumers that dedupe on (message id, seq).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec

from schemas import codecs
from schemas.enums import FailureReason, MessageStatus, RejectionReason
from schemas.events import MessageStatusChanged
from schemas.messages import SubmittedMessage
from schemas.topics import Topic
from worker import ids, logs
from worker.consumers.runner import BatchResult, DeadLetter
from worker.services.decide import decide
from worker.services.model import InboxRow, StoredMessage
from worker.services.ports import DeliverStore, OutRecord, Record
from worker.settings import KafkaSettings

log = logs.get("postino.deliver")


@dataclass(frozen=True, slots=True)
class _Decoded:
    record: Record
    message: SubmittedMessage
    id: str


def _decode(records: Sequence[Record]) -> tuple[list[_Decoded], list[DeadLetter]]:
    good: list[_Decoded] = []
    dead: list[DeadLetter] = []
    for record in records:
        if record.value is None:
            dead.append(DeadLetter(record, "empty_record", "record has no value"))
            continue
        try:
            message = codecs.SUBMITTED.decode(record.value)
        except msgspec.ValidationError as exc:
            dead.append(DeadLetter(record, "invalid_message", str(exc)))
            continue
        except msgspec.DecodeError as exc:
            dead.append(DeadLetter(record, "not_json", str(exc)))
            continue
        message_id = message.id or ids.record_id(
            record.topic, record.partition, record.offset, record.timestamp_ms
        )
        good.append(_Decoded(record, message, message_id))
    return good, dead


def _row(item: _Decoded, status: MessageStatus, reason: RejectionReason | None) -> InboxRow:
    msg = item.message
    created = msg.created_at or datetime.fromtimestamp(item.record.timestamp_ms / 1000, UTC)
    return InboxRow(
        id=item.id,
        fiscal_code=msg.fiscal_code,
        sender_service_id=msg.sender_service_id,
        created_at=created,
        time_to_live=msg.time_to_live,
        feature_level_type=msg.feature_level_type.value,
        content=msgspec.to_builtins(msg.content),
        status=status,
        rejection_reason=reason,
        due_date=msg.content.due_date,
    )


def status_event(row: StoredMessage) -> MessageStatusChanged:
    return MessageStatusChanged(
        message_id=row.id,
        sender_service_id=row.sender_service_id,
        seq=row.status_seq,
        at=row.processed_at,
        status=MessageStatus(row.status),
        rejection_reason=RejectionReason(row.rejection_reason) if row.rejection_reason else None,
        failure_reason=FailureReason(row.failure_reason) if row.failure_reason else None,
    )


async def deliver_batch(
    records: Sequence[Record], store: DeliverStore, kafka: KafkaSettings
) -> BatchResult:
    decoded, dead = _decode(records)
    if not decoded:
        return BatchResult(dead=dead)
    context = await store.load_context(
        sorted({d.message.fiscal_code for d in decoded}),
        sorted({d.message.sender_service_id for d in decoded}),
    )
    rows = []
    for item in decoded:
        fc, sid = item.message.fiscal_code, item.message.sender_service_id
        decision = decide(context.profiles.get(fc), sid, context.preferences.get((fc, sid)))
        rows.append(_row(item, decision.status, decision.rejection_reason))
    stored = await store.save_messages(rows)
    status_topic = kafka.topic(Topic.STATUS)
    out = [
        OutRecord(status_topic, codecs.STATUS.encode(status_event(s)), s.id.encode())
        for s in stored
    ]
    log.debug("batch_delivered", size=len(rows), dead=len(dead))
    return BatchResult(out=out, dead=dead)
