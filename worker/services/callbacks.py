"""callbacks: status events -> signed POSTs to the sending service's callback URL (each
attempt in `callback_send`; when attempts run and which retry copies follow, here).

Only the kinds the service chose (`callback_events`, default all) are sent; `read`
and `paid` reach `messages.status` only when the sender may learn them
(`sender_events`). A receiver may get an event more than once and orders events by `seq`.

Isolation: the consumer of `messages.status` never waits for a receiver. It starts
each event's first attempt in the background (at most `max_in_flight_per_service`
POSTs per service at once, the rest queued behind their own service's), and the
offset commit waits instead: it stays below every event whose attempt is neither
settled nor copied to a retry tier (`FirstAttempts`, `callback_held`). A first
attempt that succeeds, or is refused for good, is settled in `callback_deliveries`;
one that fails transiently is copied to the first retry tier; one still waiting or
running `copy_after_seconds` after it was read is copied by a watchdog (due once the
attempt has surely ended: `copy_grace`), and so is one whose service's queue is full,
at once. So a hanging or dead receiver delays nobody else's callbacks, a partition's
commit waits at most the watchdog's bound, and nothing is lost: after a crash the
consumer restarts below every event not yet settled or copied.

Retries: timeouts, connection errors, 408, 429 and 5xx go to the retry tiers with
growing delays until `max_age_seconds` after the event; other answers end it.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from schemas import codecs
from schemas.events import StatusEvent
from worker.core.batch import BatchResult, DeadLetter
from worker.core.records import OutRecord, Record
from worker.core.text_rules import body_problem
from worker.services.callback_copy import retry_copy
from worker.services.callback_pool import FirstAttempts, copy_grace
from worker.services.callback_send import (
    OUTCOMES,
    CallbackDeps,
    Job,
    attempt_of,
    event_key,
    given_up,
)
from worker.services.sender_events import wanted


def _decode(
    records: Sequence[Record],
) -> tuple[list[tuple[Record, StatusEvent, str]], list[DeadLetter]]:
    """(record, event, event key) of each record that decodes; dead letters for the rest."""
    good: list[tuple[Record, StatusEvent, str]] = []
    dead: list[DeadLetter] = []
    decode = codecs.STATUS.decode
    for record in records:
        body = record.value or b""
        # Text PostgreSQL cannot hold (a NUL in an id) would fail the whole batch at the
        # `settled` lookup and split it record by record: refused here, with its code.
        problem = body_problem(body, multiline=())
        if problem is not None:
            dead.append(DeadLetter(record, problem.code, problem.detail))
            continue
        try:
            event = decode(body)
        except msgspec.DecodeError as exc:
            dead.append(DeadLetter(record, "invalid_status_event", str(exc)[:300]))
            continue
        except RecursionError:
            dead.append(
                DeadLetter(record, "nested_too_deep", "nested deeper than the decoder goes")
            )
            continue
        good.append((record, event, event_key(event.sender_service_id, body)))
    return good, dead


async def _jobs(
    records: Sequence[Record], deps: CallbackDeps
) -> tuple[list[Job], list[DeadLetter]]:
    """The events still to send: decoded, not settled (a batch redone after a crash, or
    a copy whose earlier attempt delivered), of a service with a receiver that wants
    them. Settled events are dropped before the receivers are read (one round trip
    fewer when a batch holds only settled copies)."""
    decoded, dead = _decode(records)
    if not decoded:
        return [], dead
    settled = await deps.store.settled(sorted({key for _, _, key in decoded}))
    if settled:
        decoded = [item for item in decoded if item[2] not in settled]
        if not decoded:
            return [], dead
    receivers = await deps.store.receivers(sorted({e.sender_service_id for _, e, _ in decoded}))
    jobs = [
        Job(record, event, attempt_of(record), receiver, key)
        for record, event, key in decoded
        if (receiver := receivers.get(event.sender_service_id)) is not None
        and wanted(event, receiver.events)
    ]
    return jobs, dead


async def first_attempts_batch(
    records: Sequence[Record], deps: CallbackDeps, attempts: FirstAttempts
) -> BatchResult:
    """`messages.status`: each event's first attempt in the background, holding its
    offset's commit until it is settled or copied; a copy at once (in the batch's
    output, acknowledged before the commit) for an event being attempted here already
    and for one whose service's queue is full.

    Events already settled are skipped: a batch redone after a crash does not post
    again what its first run delivered (each attempt is settled right after its POST,
    so a crash leaves at most the POSTs in flight in doubt)."""
    jobs, dead = await _jobs(records, deps)
    out: list[OutRecord] = []
    for job in jobs:
        if attempts.running(job.key):  # consumed again while attempted: a copy, no POST
            _copy_now(job, deps, out)
        elif not attempts.start(job, hold=True) and not attempts.wait(job, hold=True):
            _copy_now(job, deps, out)  # its service's queue is full
    return BatchResult(out=out, dead=dead)


def _copy_now(job: Job, deps: CallbackDeps, out: list[OutRecord]) -> None:
    """The event's copy, due once any attempt of it here has surely ended."""
    copy = retry_copy(job, job.attempt + 1, deps, min_delay=copy_grace(deps.settings))
    if copy is None:
        given_up(job)  # past `max_age_seconds`: nothing follows
        return
    OUTCOMES["deferred"].inc()
    out.append(copy)


async def retry_batch(
    records: Sequence[Record], deps: CallbackDeps, attempts: FirstAttempts
) -> BatchResult:
    """The retry tiers, handled like `messages.status`: skip what is settled; for the
    rest, publish the next tier's copy (due after the attempt has surely ended) and
    start the attempt in the background, at most `max_in_flight_per_service` per
    service. The batch never waits for a receiver, so a slow or dead one delays no
    other service's retries; over its bound, an event waits briefly behind its own
    service's attempts, and its copy (counting no attempt) covers it."""
    jobs, dead = await _jobs(records, deps)
    grace = copy_grace(deps.settings)
    out: list[OutRecord] = []
    for job in jobs:
        if attempts.running(job.key):
            # Still being attempted here (this copy came due first): a copy of the same
            # attempt instead, so that attempt failing still has one after it.
            OUTCOMES["deferred"].inc()
            same = retry_copy(job, job.attempt, deps, min_delay=grace)
            out += [same] if same is not None else []
            continue
        copy = retry_copy(job, job.attempt + 1, deps, min_delay=grace)
        job.last = copy is None
        if attempts.start(job):
            if copy is not None:
                out.append(copy)
            continue
        # No slot: the copy counts no attempt (same tier again), then the attempt may
        # still run from the service's queue before it (the copy then finds it settled).
        deferred = retry_copy(job, job.attempt, deps, min_delay=grace)
        if deferred is None:
            given_up(job)
            continue
        out.append(deferred)
        job.last = False
        if not attempts.wait(job):
            OUTCOMES["deferred"].inc()
    return BatchResult(out=out, dead=dead)
