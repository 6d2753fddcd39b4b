"""deliver: `messages.submitted` records -> inbox rows, status events, notification requests.

Guarantees, per poll batch:
- one context load (profiles, services, preferences) and one multi-row write, which
  also pays on arrival the messages whose payment notice was already paid;
- every row is keyed by the message id (ON CONFLICT DO NOTHING), so a redone batch
  writes nothing new; the follow-up records are built from the stored rows, so it
  re-emits identical records, which consumers dedupe on (message id, seq) and on the
  notification id:
  - `MessageStatusChanged` (seq 1: a message row is born with its final status);
  - `MessagePaid` (its stored `paid_seq`) when an ADVANCED message is paid;
  - one `NotificationRequest` per channel of a PROCESSED message (key fiscal code,
    deadline `created_at + time_to_live`; the notify role writes `notifications`);
- a record that cannot be decoded, or an upstream record that fails the ingress's
  rules, goes to `messages.submitted.dlq` (see `delivery_rules`); ingress records
  whose service vanished are stored `FAILED` (see `decide`);
- upstream records count against their service's rate and daily quota, shared with
  the ingress through PostgreSQL; over them they go to the DLQ with `rate_exceeded`
  or `quota_exceeded` (see `upstream_limits`);
- every dead-lettered record the ingress accepted is also stored `FAILED` with its
  status event (`fail_dead_letters`): nothing that got a 201 stays `ACCEPTED`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import msgspec

from schemas import codecs
from schemas.enums import Channel, FailureReason, MessageStatus, NotificationKind, RejectionReason
from schemas.events import MessagePaid, MessageStatusChanged, NotificationRequest
from schemas.topics import Topic, Topics
from worker import ids, logs, metrics
from worker.core.batch import BatchResult, DeadLetter
from worker.core.errors import RetryableError
from worker.core.records import OutRecord, Record
from worker.services import delivery_rules, upstream_limits
from worker.services.decide import decide, rpt_id, with_default_payee
from worker.services.delivery_rules import Submitted
from worker.services.failed import failed_rows
from worker.services.model import DeliveryContext, InboxRow, StoredMessage
from worker.services.ports import DeliverStore
from worker.services.sender_events import shares_paid
from worker.services.upstream_limits import AdmissionStore
from worker.settings import LimitSettings

log = logs.get("postino.deliver")

#: The seq of the status event of a new message row (its status never changes after).
FIRST_SEQ = 1
# A stored row's text columns as their enum members (a dict lookup, not an enum call).
_STATUSES = {s.value: s for s in MessageStatus}
_REJECTIONS = {r.value: r for r in RejectionReason}
_FAILURES = {f.value: f for f in FailureReason}


@dataclass(frozen=True, slots=True)
class DeliverDeps:
    store: DeliverStore
    topics: Topics
    signer: ids.IdSigner
    #: Where upstream records are admitted against the limits; None: no limits
    #: (unit tests of the other rules).
    admissions: AdmissionStore | None = None
    limits: LimitSettings = field(default_factory=LimitSettings)


class _Planned(msgspec.Struct, frozen=True):
    item: Submitted
    row: InboxRow
    channels: tuple[Channel, ...]


def plan(item: Submitted, context: DeliveryContext) -> _Planned:
    """The row to store for one record, with the channels to notify if it is processed."""
    msg = item.message
    fc, sid = msg.fiscal_code, msg.sender_service_id
    service = context.services.get(sid)
    decision = decide(
        context.profiles.get(fc),
        service,
        context.preferences.get((fc, sid)),
        require_secure_channels=msg.content.require_secure_channels,
    )
    content = with_default_payee(msg.content, service)
    row = InboxRow(
        id=item.id,
        fiscal_code=fc,
        sender_service_id=sid,
        created_at=item.created_at,
        time_to_live=msg.time_to_live,
        feature_level_type=msg.feature_level_type,
        content=content,
        status=decision.status,
        rejection_reason=decision.rejection_reason,
        failure_reason=decision.failure_reason,
        # Only an inbox message is a payable notice: a rejected or failed one never
        # becomes "paid" nor gets payment reminders.
        rpt_id=rpt_id(content) if decision.status is MessageStatus.PROCESSED else None,
        due_date=content.due_date,
        template_id=msg.template_id,
        template_version=msg.template_version,
    )
    return _Planned(item, row, decision.channels)


def status_event(row: StoredMessage) -> MessageStatusChanged:
    return MessageStatusChanged(
        message_id=row.id,
        sender_service_id=row.sender_service_id,
        seq=FIRST_SEQ,
        at=row.processed_at,
        status=_STATUSES[row.status],
        rejection_reason=_REJECTIONS[row.rejection_reason] if row.rejection_reason else None,
        failure_reason=_FAILURES[row.failure_reason] if row.failure_reason else None,
    )


def paid_event(row: StoredMessage) -> MessagePaid | None:
    """The sender's `paid` event of a message paid on arrival (ADVANCED only:
    docs/integrators/callbacks.md)."""
    if row.paid_seq is None or row.rpt_id is None or not shares_paid(row.feature_level_type):
        return None
    return MessagePaid(
        message_id=row.id,
        sender_service_id=row.sender_service_id,
        seq=row.paid_seq,
        at=row.paid_at or row.processed_at,
        rpt_id=row.rpt_id,
        paid_at=row.paid_at,
    )


def notification_requests(
    row: StoredMessage, channels: Sequence[Channel]
) -> list[NotificationRequest]:
    if row.status != MessageStatus.PROCESSED:
        return []
    deadline = row.created_at + timedelta(seconds=row.time_to_live)
    kind = NotificationKind.MESSAGE
    return [
        NotificationRequest(
            notification_id=ids.notification_id(row.id, channel, kind),
            message_id=row.id,
            fiscal_code=row.fiscal_code,
            sender_service_id=row.sender_service_id,
            channel=channel,
            deadline=deadline,
            kind=kind,
        )
        for channel in channels
    ]


def follow_ups(row: StoredMessage, channels: Sequence[Channel], topics: Topics) -> list[OutRecord]:
    """Status event, paid event and notification requests of one stored message."""
    key = row.id.encode()
    out = [OutRecord(topics.name(Topic.STATUS), codecs.STATUS.encode(status_event(row)), key)]
    paid = paid_event(row)
    if paid is not None:
        out.append(OutRecord(topics.name(Topic.STATUS), codecs.STATUS.encode(paid), key))
    notifications = topics.name(Topic.NOTIFICATIONS)
    fc_key = row.fiscal_code.encode()
    out += [
        OutRecord(notifications, codecs.NOTIFICATION.encode(request), fc_key)
        for request in notification_requests(row, channels)
    ]
    return out


def _same_message(planned: _Planned, stored: StoredMessage) -> bool:
    row = planned.row
    return (stored.sender_service_id, stored.fiscal_code) == (
        row.sender_service_id,
        row.fiscal_code,
    )


async def _within_limits(
    planned: list[_Planned], context: DeliveryContext, deps: DeliverDeps, dead: list[DeadLetter]
) -> list[_Planned]:
    """The planned records minus the upstream ones over their service's limits, which
    are dead-lettered (ingress records were counted when the ingress accepted them)."""
    upstream = [p for p in planned if not p.item.from_ingress]
    if not upstream or deps.admissions is None:
        return planned
    candidates = []
    for p in upstream:
        service = context.services[p.row.sender_service_id]
        candidates.append(
            upstream_limits.candidate(
                p.row.id,
                service.id,
                p.item.arrival_ms,
                rate=service.rate_per_second or deps.limits.default_rate_per_second,
                quota=service.daily_quota or deps.limits.default_daily_quota,
            )
        )
    verdicts = await deps.admissions.admit(
        candidates, lambda usage: upstream_limits.judge(candidates, usage)
    )
    if not verdicts.refused:
        return planned
    by_id = {c.message_id: c for c in candidates}
    for p in upstream:
        code = verdicts.refused.get(p.row.id)
        if code is not None:
            dead.append(DeadLetter(p.item.record, code, _limit_detail(code, by_id[p.row.id])))
    return [p for p in planned if p.row.id not in verdicts.refused]


def _limit_detail(code: str, c: upstream_limits.Candidate) -> str:
    if code == upstream_limits.RATE_EXCEEDED:
        return f"rate of {c.rate} records per second exceeded"
    return f"daily quota of {c.quota} exhausted for {c.day.isoformat()}"


async def _save_each_if_needed(rows: Sequence[InboxRow], deps: DeliverDeps) -> list[StoredMessage]:
    """One write for all; when it fails for good, one per row, so one row the database
    refuses (the reason its record was dead-lettered, say) fails none of the others."""
    try:
        return await deps.store.save_messages(rows)
    except RetryableError:
        raise
    except Exception as exc:
        log.warning("failed_rows_retried_one_by_one", count=len(rows), error=type(exc).__name__)
    stored: list[StoredMessage] = []
    for row in rows:
        try:
            stored += await deps.store.save_messages([row])
        except RetryableError:
            raise
        except Exception as exc:
            log.error("failed_row_not_saved", message_id=row.id, error=type(exc).__name__)
    return stored


async def fail_dead_letters(dead: Sequence[DeadLetter], deps: DeliverDeps) -> list[OutRecord]:
    """Every dead-lettered record the ingress accepted (a 201) is stored `FAILED` (with
    a `failure_reason`) and its status event emitted, so whatever got a 201 ends final
    (see `worker.services.failed`). Idempotent: rows are keyed by the message id."""
    rows = failed_rows(dead, deps.signer.issued)
    if not rows:
        return []
    wanted = {r.id: r for r in rows}
    out: list[OutRecord] = []
    for stored in await _save_each_if_needed(rows, deps):
        row = wanted.get(stored.id)
        if row is not None and (stored.sender_service_id, stored.fiscal_code) == (
            row.sender_service_id,
            row.fiscal_code,
        ):
            out += follow_ups(stored, (), deps.topics)
    log.info("dead_letters_failed", dead=len(dead), failed=len(out))
    return out


async def deliver_batch(records: Sequence[Record], deps: DeliverDeps) -> BatchResult:
    """Handle one poll batch of `messages.submitted` (see the module's guarantees)."""
    items, dead = delivery_rules.decode(records, deps.signer)
    if not items:
        return BatchResult(dead=dead)
    context = await deps.store.load_context(
        sorted({i.message.fiscal_code for i in items}),
        sorted({i.message.sender_service_id for i in items}),
    )
    planned: list[_Planned] = []
    for item in items:
        refusal = delivery_rules.upstream_refusal(item, context.services)
        if refusal is None:
            planned.append(plan(item, context))
        else:
            dead.append(refusal)
    planned = await _within_limits(planned, context, deps, dead)
    if not planned:
        return BatchResult(dead=dead)
    stored = {s.id: s for s in await deps.store.save_messages([p.row for p in planned])}
    out: list[OutRecord] = []
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    for p in planned:
        row = stored[p.row.id]
        if _same_message(p, row):
            out += follow_ups(row, p.channels, deps.topics)
            statuses[row.status] += 1
            latencies.append((row.processed_at - row.created_at).total_seconds())
        else:  # an upstream id already taken by another message: never overwrite it
            dead.append(DeadLetter(p.item.record, "duplicate_id", "id used by another message"))
    metrics.count_delivered(statuses, latencies)
    log.debug("batch_delivered", size=len(planned), out=len(out), dead=len(dead))
    return BatchResult(out=out, dead=dead)
