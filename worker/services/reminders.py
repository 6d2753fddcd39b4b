"""remind: the premium reminder rules (docs/integrators/premium.md) and one reminders round.

The rules are pure: given a message's state, the reminders already sent and `now`,
they say which reminder is due, if any. All numbers come from `ReminderSettings`.

- Only between `window_start_hour` and `window_end_hour` (exclusive) local time in
  `timezone` (08:00-20:59 Europe/Rome, DST-aware).
- Unread, without payment: the k-th reminder (`REMINDER_READ`) is due `k * period`
  after arrival and at least one period after the previous one, at most `unread_max`;
  none once read. A reminder more than one period late is dropped, not sent late.
- Unpaid payment notice, read or not: reminders fall on the local days
  `due - 1 - k * period` (k = 0 .. payment_max - 1) that are within
  `payment_window_days` of the due date and after the day of arrival; k = 0, the day
  before the due date, is `REMINDER_PAYMENT_LAST`. A day missed (process down) is
  caught up once on a later day, never twice. None once paid or past the due date.
  Defaults give D-10, D-7, D-4 and D-1 (LAST). A notice without a due date is
  reminded like IO does: every period from arrival, at most `payment_max`.
- Reminders are pushes: none for a citizen whom a push of this service would not
  reach now (profile push or inbox off, the service's inbox or push blocked by the
  citizen's preference, an opt-out made after delivery): `decide.push_reachable`.
- History of payment reminders is per `rpt_id`, and a round sends at most one
  reminder per `rpt_id`, even when several messages carry it.

`run_round` applies the rules to the candidates in the database, records each
reminder (deterministic id), then publishes its notification request and awaits
the ack, then marks it published; rows a crash left unpublished go out next round.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Protocol
from zoneinfo import ZoneInfo

from schemas import codecs
from schemas.enums import Channel, NotificationKind
from schemas.events import NotificationRequest
from schemas.topics import Topic, Topics
from worker import ids, logs
from worker.core.records import OutRecord
from worker.services.payment_status import NoLookup, NoticeStatus, PaymentStatusLookup
from worker.services.ports import Publisher
from worker.settings import ReminderSettings

log = logs.get("postino.reminders")

READ = NotificationKind.REMINDER_READ
PAYMENT = NotificationKind.REMINDER_PAYMENT
PAYMENT_LAST = NotificationKind.REMINDER_PAYMENT_LAST
PAYMENT_KINDS = frozenset({PAYMENT, PAYMENT_LAST})
#: Notice lookups in flight at once during a round.
_LOOKUPS_AT_ONCE = 8


@dataclass(frozen=True, slots=True)
class MessageState:
    id: str
    fiscal_code: str
    sender_service_id: str
    created_at: datetime
    is_read: bool = False
    rpt_id: str | None = None
    due_date: datetime | None = None
    paid: bool = False
    #: Would a push for this message reach the citizen now (`decide.push_reachable`)?
    push_reachable: bool = True


@dataclass(frozen=True, slots=True)
class SentReminder:
    kind: NotificationKind
    sent_at: datetime


@dataclass(frozen=True, slots=True)
class ReminderDue:
    message: MessageState
    kind: NotificationKind
    #: 1 for the first reminder of its family (read; payment per rpt_id), and so on.
    ordinal: int

    @property
    def id(self) -> str:
        """Deterministic: the reminders row id and the notification id."""
        return ids.notification_id(self.message.id, Channel.PUSH, f"{self.kind}_{self.ordinal}")


@dataclass(frozen=True, slots=True)
class Candidate:
    message: MessageState
    #: Read reminders of this message and payment reminders of its rpt_id.
    history: tuple[SentReminder, ...] = ()


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_day(when: datetime, rules: ReminderSettings) -> date:
    return when.astimezone(_zone(rules.timezone)).date()


def in_send_window(now: datetime, rules: ReminderSettings) -> bool:
    hour = now.astimezone(_zone(rules.timezone)).hour
    return rules.window_start_hour <= hour < rules.window_end_hour


def _periodic(
    arrival: datetime, sent: Sequence[SentReminder], now: datetime, days: int, maximum: int
) -> int | None:
    """Ordinal of the reminder due on an every-`days`-from-arrival schedule, if any."""
    period = timedelta(days=days)
    count = len(sent)
    if count >= maximum or now < arrival + period * (count + 1):
        return None
    if now >= arrival + period * (maximum + 1):
        return None
    if sent and now < max(s.sent_at for s in sent) + period:
        return None
    return count + 1


def _unread(
    message: MessageState, history: Sequence[SentReminder], now: datetime, rules: ReminderSettings
) -> ReminderDue | None:
    if message.is_read:
        return None
    sent = [h for h in history if h.kind == READ]
    ordinal = _periodic(message.created_at, sent, now, rules.unread_period_days, rules.unread_max)
    return None if ordinal is None else ReminderDue(message, READ, ordinal)


def payment_slot(due_day: date, today: date, rules: ReminderSettings) -> tuple[int, date] | None:
    """(k, day) of the latest reminder day on or before `today`, k = 0 the day before due."""
    offset = (due_day - today).days - 1
    k = 0 if offset <= 0 else math.ceil(offset / rules.payment_period_days)
    slot = due_day - timedelta(days=1 + k * rules.payment_period_days)
    if k >= rules.payment_max or (due_day - slot).days > rules.payment_window_days:
        return None
    return k, slot


def _payment(
    message: MessageState, history: Sequence[SentReminder], now: datetime, rules: ReminderSettings
) -> ReminderDue | None:
    sent = [h for h in history if h.kind in PAYMENT_KINDS]
    if len(sent) >= rules.payment_max:
        return None
    if message.due_date is None:
        days, most = rules.payment_period_days, rules.payment_max
        ordinal = _periodic(message.created_at, sent, now, days, most)
        return None if ordinal is None else ReminderDue(message, PAYMENT, ordinal)
    if now >= message.due_date:
        return None
    kind = _payment_kind(message, message.due_date, sent, now, rules)
    return None if kind is None else ReminderDue(message, kind, len(sent) + 1)


def _payment_kind(
    message: MessageState,
    due_date: datetime,
    sent: Sequence[SentReminder],
    now: datetime,
    rules: ReminderSettings,
) -> NotificationKind | None:
    found = payment_slot(local_day(due_date, rules), local_day(now, rules), rules)
    if found is None:
        return None
    k, slot = found
    if slot <= local_day(message.created_at, rules):
        return None
    if any(local_day(s.sent_at, rules) >= slot for s in sent):
        return None
    return PAYMENT_LAST if k == 0 else PAYMENT


def next_reminder(
    message: MessageState,
    history: Sequence[SentReminder],
    now: datetime,
    rules: ReminderSettings,
) -> ReminderDue | None:
    """The reminder due for this message now, if any (pure)."""
    if message.paid or not message.push_reachable or not in_send_window(now, rules):
        return None
    if message.rpt_id is None:
        return _unread(message, history, now, rules)
    return _payment(message, history, now, rules)


def plan_round(
    candidates: Iterable[Candidate], now: datetime, rules: ReminderSettings
) -> list[ReminderDue]:
    """The reminders of one round: oldest message first, at most one per rpt_id."""
    planned: list[ReminderDue] = []
    reminded: set[str] = set()
    for cand in sorted(candidates, key=lambda c: (c.message.created_at, c.message.id)):
        rpt_id = cand.message.rpt_id
        if rpt_id is not None and rpt_id in reminded:
            continue
        due = next_reminder(cand.message, cand.history, now, rules)
        if due is None:
            continue
        planned.append(due)
        if rpt_id is not None:
            reminded.add(rpt_id)
    return planned


class ReminderStore(Protocol):
    async def candidates(self, now: datetime, rules: ReminderSettings) -> list[Candidate]:
        """Messages that may be due a reminder now, with their reminder history."""
        ...

    async def record(
        self, planned: Sequence[ReminderDue], now: datetime, deadline: datetime
    ) -> None:
        """Insert one row per reminder (ON CONFLICT (id) DO NOTHING), unpublished."""
        ...

    async def unpublished(self) -> list[NotificationRequest]:
        """Notification requests of every reminder row not yet published."""
        ...

    async def mark_published(self, reminder_ids: Sequence[str], now: datetime) -> None: ...


@dataclass(frozen=True, slots=True)
class RoundReport:
    planned: int = 0
    published: int = 0
    in_window: bool = True


def request_record(request: NotificationRequest, topics: Topics) -> OutRecord:
    return OutRecord(
        topics.name(Topic.NOTIFICATIONS),
        codecs.NOTIFICATION.encode(request),
        request.fiscal_code.encode(),
    )


async def _not_paid(planned: list[ReminderDue], lookup: PaymentStatusLookup) -> list[ReminderDue]:
    """The planned reminders less the payment ones whose notice pagoPA reports paid
    (`services.payment_status`): the payment event may never have reached Postino."""
    rpt_ids = sorted(
        {p.message.rpt_id for p in planned if p.kind in PAYMENT_KINDS and p.message.rpt_id}
    )
    if not rpt_ids:
        return planned
    gate = asyncio.Semaphore(_LOOKUPS_AT_ONCE)

    async def ask(rpt_id: str) -> NoticeStatus:
        async with gate:
            return await lookup.notice_status(rpt_id)

    answers = dict(zip(rpt_ids, await asyncio.gather(*(ask(r) for r in rpt_ids)), strict=True))
    paid = {r for r, status in answers.items() if status is NoticeStatus.PAID}
    if paid:
        log.info("reminders_skipped_paid", count=len(paid))
    return [p for p in planned if p.kind not in PAYMENT_KINDS or p.message.rpt_id not in paid]


async def run_round(
    store: ReminderStore,
    publisher: Publisher,
    topics: Topics,
    rules: ReminderSettings,
    now: datetime,
    *,
    lookup: PaymentStatusLookup | None = None,
) -> RoundReport:
    """One round at `now`: decide, ask pagoPA about the payment reminders' notices,
    record, publish and await acks, mark published."""
    if not in_send_window(now, rules):
        return RoundReport(in_window=False)
    planned = plan_round(await store.candidates(now, rules), now, rules)
    planned = await _not_paid(planned, lookup or NoLookup())
    if planned:
        await store.record(planned, now, now + timedelta(seconds=rules.notification_ttl_seconds))
    pending = await store.unpublished()
    if pending:
        await publisher.publish_many([request_record(r, topics) for r in pending])
        await store.mark_published([r.notification_id for r in pending], now)
    if planned or pending:
        log.info("reminders_round", planned=len(planned), published=len(pending))
    return RoundReport(planned=len(planned), published=len(pending))
