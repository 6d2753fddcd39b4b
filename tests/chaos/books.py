"""The books of a chaos run, checked message by message.

Per fault the report counts:
- lost: accepted (201) but never in the inbox;
- stuck: in the inbox but not PROCESSED, or a channel not SENT, at the end;
- duplicate messages: more than one inbox row for one token;
- missing notifications: a push (per message) or e-mail (per token) that never came;
- sent again: a push, e-mail or callback that arrived more than once. Only a send in
  flight when its process was killed may come again (its outcome was in doubt: the
  provider had it, the database not yet); the push and the callback carry an
  `Idempotency-Key` for the receiver to drop it. So these are bounded, not zero: at
  most the sends in flight at once (`IN_DOUBT_BOUND`) per fault;
- recovery: from the fault's start until every message offered since then has had
  its push and a fresh one goes end to end within `fresh_seconds`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from tests.chaos.stack import TOKEN, Stack

#: Sends in flight at once in one notify process (`worker.services.notify`): the most a
#: kill -9 can leave in doubt.
IN_DOUBT_BOUND = 50


@dataclass
class Offer:
    token: str
    citizen: str
    offered: float
    accepted: float | None = None
    message_id: str | None = None
    attempts: int = 0


@dataclass
class Row:
    name: str
    offered: int = 0
    lost: int = 0
    stuck: int = 0
    duplicate_messages: int = 0
    repeated_pushes: int = 0
    missing_pushes: int = 0
    repeated_mails: int = 0
    missing_mails: int = 0
    repeated_callbacks: int = 0
    recovery_seconds: float = 0.0
    worst_seconds: float = 0.0

    @property
    def clean(self) -> bool:
        """Nothing lost, stuck, duplicated or missing; repeats within the in-doubt bound."""
        zeros = (self.lost, self.stuck, self.duplicate_messages)
        missing = (self.missing_pushes, self.missing_mails)
        repeats = (self.repeated_pushes, self.repeated_mails, self.repeated_callbacks)
        return not any(zeros) and not any(missing) and max(repeats) <= IN_DOUBT_BOUND


@dataclass
class Outcome:
    rows: list[Row] = field(default_factory=list)
    seconds: float = 0.0
    offers: int = 0
    accepted: int = 0
    client_retries: int = 0
    #: Where a failed run left its role logs and data.
    kept: Path | None = None
    #: The broker the run broke.
    broker: str = ""

    @property
    def passed(self) -> bool:
        return all(row.clean for row in self.rows) and self.accepted == self.offers

    def table(self) -> str:
        head = (
            f"{'fault':<40}{'offered':>8}{'lost':>6}{'stuck':>6}{'dup msg':>8}"
            f"{'miss push':>10}{'miss mail':>10}{'push again':>11}{'mail again':>11}"
            f"{'cb again':>9}{'recover s':>10}{'worst e2e s':>12}"
        )
        lines = [f"broker: {self.broker}"] if self.broker else []
        lines += [head, "-" * len(head)]
        for r in self.rows:
            lines.append(
                f"{r.name:<40}{r.offered:>8}{r.lost:>6}{r.stuck:>6}{r.duplicate_messages:>8}"
                f"{r.missing_pushes:>10}{r.missing_mails:>10}{r.repeated_pushes:>11}"
                f"{r.repeated_mails:>11}{r.repeated_callbacks:>9}{r.recovery_seconds:>10.1f}"
                f"{r.worst_seconds:>12.1f}"
            )
        verdict = "PASS" if self.passed else "FAIL"
        lines.append(
            f"{verdict}: {self.accepted}/{self.offers} accepted ({self.client_retries} client"
            f" retries) in {self.seconds:.0f} s"
            + (f"; logs and data kept in {self.kept}" if self.kept else "")
        )
        return "\n".join(lines)


async def _inbox(url: str) -> tuple[dict[str, list[str]], dict[str, str], dict[str, set[str]]]:
    """Message ids by token, status by id, channels SENT by id."""
    conn = await asyncpg.connect(url)
    try:
        messages = await conn.fetch("SELECT id, status, content->>'subject' AS s FROM messages")
        sent = await conn.fetch(
            "SELECT message_id, channel FROM notifications"
            " WHERE kind = 'MESSAGE' AND status = 'SENT'"
        )
    finally:
        await conn.close()
    by_token: dict[str, list[str]] = {}
    status: dict[str, str] = {}
    for m in messages:
        token = TOKEN.search((m["s"] or "").encode())
        if token is not None:
            by_token.setdefault(token.group().decode(), []).append(m["id"])
        status[m["id"]] = m["status"]
    channels: dict[str, set[str]] = {}
    for n in sent:
        channels.setdefault(n["message_id"], set()).add(n["channel"])
    return by_token, status, channels


def _window(marks: Sequence[tuple[str, float]], at: float) -> int:
    index = 0
    for i, (_, started) in enumerate(marks):
        if started <= at:
            index = i
    return index


def _recovery(
    offers: Sequence[Offer], pushes: dict[str, list[float]], t0: float, fresh: float
) -> tuple[float, float]:
    """(recovery, worst end-to-end) of the messages offered in one window."""
    running, worst = t0, 0.0
    recovered: float | None = None
    for offer in sorted(offers, key=lambda o: o.offered):
        first = min(pushes.get(offer.message_id or "", [float("inf")]))
        worst = max(worst, first - offer.offered)
        running = max(running, first)
        if recovered is None and first - offer.offered <= fresh:
            recovered = running
    return (float("inf") if recovered is None else recovered - t0), worst


async def books(
    stack: Stack, offers: Sequence[Offer], marks: Sequence[tuple[str, float]], fresh: float
) -> list[Row]:
    """A row per fault window (`marks`: each fault's name and start), from the database
    and the sinks."""
    by_token, status, channels = await _inbox(stack.pg.url)
    sinks = stack.sinks
    sinks.refresh()
    rows = [Row(name) for name, _ in marks]
    members: list[list[Offer]] = [[] for _ in marks]
    for offer in offers:
        index = _window(marks, offer.offered)
        members[index].append(offer)
        row = rows[index]
        row.offered += 1
        mid = offer.message_id
        if mid is None:
            continue
        ids = by_token.get(offer.token, [])
        if mid not in status:
            row.lost += 1
        elif status[mid] != "PROCESSED" or channels.get(mid, set()) != {"PUSH", "EMAIL"}:
            row.stuck += 1
        row.duplicate_messages += max(len(ids) - 1, 0)
        pushes, mails = len(sinks.pushes.get(mid, [])), len(sinks.mails.get(offer.token, []))
        row.repeated_pushes += max(pushes - 1, 0)
        row.missing_pushes += pushes == 0
        row.repeated_mails += max(mails - 1, 0)
        row.missing_mails += mails == 0
    owner = {o.message_id: _window(marks, o.offered) for o in offers if o.message_id}
    for key, times in sinks.callbacks.items():
        index = owner.get(sinks.callback_message.get(key, ""))
        if index is not None:
            rows[index].repeated_callbacks += len(times) - 1
    for index, (_, started) in enumerate(marks):
        rows[index].recovery_seconds, rows[index].worst_seconds = _recovery(
            members[index], sinks.pushes, started, fresh
        )
    return rows
