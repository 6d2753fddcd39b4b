"""The `messages.submitted` record contract: decoding, origin, and the upstream rules.

Two kinds of producers write `messages.submitted`:
- the ingress, after every check of docs/integrators/sending.md, with the header
  `postino-origin: ingress` and an id it signed. A 201 was already given for these:
  deliver never dead-letters them for a rule (a vanished service makes them FAILED);
- upstream systems, producing straight to the topic. Their records get the same rules
  as the ingress (1.1: the types and `check_content`; 1.2 steps 1-4:
  `check_service`), without the IP check. A record that fails goes to
  `messages.submitted.dlq` with an error code (`empty_record`, `not_json`, the
  text rules' `nested_too_deep`, `control_character` and `unpaired_surrogate`,
  `invalid_message`, `personal_data_in_subject`, `unknown_service`, the codes of
  `check_service` such as `recipient_forbidden`, or `duplicate_id`) and the detail.
  The rate and the daily quota are applied after these rules (`upstream_limits`).

Upstream records are held to what Postino sees, not what they claim: their id is
scoped to their service (`ids.upstream_id`: no producer takes another service's
ids), their `created_at` is clamped to their arrival (`arrival_ms`: the broker's
append time or the time deliver reads them, never the producer's timestamp), and the
limits count them by that arrival.

The header alone does not make a record "ingress": its id must also verify as issued
by the ingress for that service and citizen (`IdSigner.issued`), so an upstream
producer cannot skip the rules by copying the header.

An upstream record without `id` gets one derived from its topic, partition and
offset (`worker.ids.record_id`); a record replayed from the DLQ keeps the id of its
original position (the `postino-original-*` headers), so a replay is idempotent.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import msgspec

from schemas import codecs
from schemas.messages import SubmittedMessage
from worker import ids
from worker.core.batch import DeadLetter, decode_value
from worker.core.records import Record
from worker.core.text_rules import MESSAGE_MULTILINE
from worker.services.directory import Service
from worker.services.gating import check_content, check_service
from worker.services.ports import INGRESS_ORIGIN

ORIGIN_HEADER = INGRESS_ORIGIN[0]


#: A record's `created_at` is never more than this much earlier than its arrival.
CREATED_AT_MAX_AGE_MS = 24 * 3600 * 1000
#: Kafka's timestamp type of a broker-stamped record (LogAppendTime).
LOG_APPEND_TIME = 1


class Submitted(msgspec.Struct, frozen=True):
    """One decoded `messages.submitted` record, with its final id and creation time."""

    record: Record
    message: SubmittedMessage
    id: str
    created_at: datetime
    from_ingress: bool
    #: When the record reached Postino (unix ms): what the upstream limits count by.
    arrival_ms: int = 0


def arrival_ms(record: Record, now_ms: int) -> int:
    """The broker's append time when the topic stamps records (never later than now),
    else the time deliver reads the record; never the producer's own timestamp."""
    if record.timestamp_type == LOG_APPEND_TIME and 0 < record.timestamp_ms <= now_ms:
        return record.timestamp_ms
    return now_ms


def _clamped(created: datetime | None, arrival: int) -> datetime:
    """An upstream `created_at` within [arrival - 1 day, arrival]; absent: the arrival."""
    if created is None:
        return datetime.fromtimestamp(arrival / 1000, UTC)
    stamp = created.timestamp() * 1000
    bounded = min(max(stamp, arrival - CREATED_AT_MAX_AGE_MS), arrival)
    return created if bounded == stamp else datetime.fromtimestamp(bounded / 1000, UTC)


def _position(record: Record) -> tuple[str, int, int, int]:
    """(topic, partition, offset, timestamp) where the record was first produced."""
    topic = record.header("postino-original-topic")
    partition = record.header("postino-original-partition")
    offset = record.header("postino-original-offset")
    stamp = record.header("postino-original-timestamp")
    if topic is not None and partition is not None and offset is not None and stamp is not None:
        try:
            return topic.decode(), int(partition), int(offset), int(stamp)
        except ValueError:
            pass
    return record.topic, record.partition, record.offset, record.timestamp_ms


def _submitted(
    record: Record, message: SubmittedMessage, signer: ids.IdSigner, now_ms: int
) -> Submitted:
    """The ingress's records keep the id and time it gave them. An upstream record's id
    is scoped to its service (`ids.upstream_id`), or derived from its first position
    when it has none, and its `created_at` is clamped to its arrival."""
    arrival = arrival_ms(record, now_ms)
    from_ingress = (
        record.header(ORIGIN_HEADER) == INGRESS_ORIGIN[1]
        and message.id is not None
        and signer.issued(message.id, message.sender_service_id, message.fiscal_code)
    )
    if from_ingress and message.id is not None:
        created = message.created_at or datetime.fromtimestamp(arrival / 1000, UTC)
        return Submitted(record, message, message.id, created, True, arrival)
    if message.id:
        message_id = ids.upstream_id(message.sender_service_id, message.id)
    else:
        topic, partition, offset, stamp = _position(record)
        message_id = ids.record_id(topic, partition, offset, stamp)
    created = _clamped(message.created_at, arrival)
    return Submitted(record, message, message_id, created, False, arrival)


def decode(
    records: Sequence[Record], signer: ids.IdSigner, now_ms: int | None = None
) -> tuple[list[Submitted], list[DeadLetter]]:
    """Decode a batch; an id seen twice in it is handled once (the first record)."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    good: dict[str, Submitted] = {}
    dead: list[DeadLetter] = []
    for record in records:
        message = decode_value(
            record, codecs.SUBMITTED.decode, "invalid_message", multiline=MESSAGE_MULTILINE
        )
        if isinstance(message, DeadLetter):
            dead.append(message)
            continue
        item = _submitted(record, message, signer, now)
        good.setdefault(item.id, item)
    return list(good.values()), dead


def upstream_refusal(item: Submitted, services: Mapping[str, Service]) -> DeadLetter | None:
    """The ingress's rules (1.1, 1.2 steps 1-4) for an upstream record; None: go on."""
    if item.from_ingress:
        return None
    message = item.message
    service = services.get(message.sender_service_id)
    if service is None:
        return DeadLetter(
            item.record, "unknown_service", f"no service {message.sender_service_id!r}"
        )
    refusal = check_content(message.content) or check_service(
        service, message.fiscal_code, message.feature_level_type, message.content
    )
    if refusal is None:
        return None
    return DeadLetter(item.record, refusal.code, refusal.detail)
