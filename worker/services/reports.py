"""Reports for senders (docs/integrators/reports.md): the query of a message list, and daily counts.

- `page_request` reads the list's query (`status`, `since`, `until`, `fiscal_code`,
  `cursor`, `limit`) and refuses what it cannot honour (`InvalidRequest`, a 400);
- `stats_range` reads `since` and `until` of the counts: by default the 30 days to
  now, at most `MAX_STATS_DAYS`;
- `daily` folds the aggregate rows into one entry per UTC day that has messages.
  Read and paid follow what the sender may learn anywhere else (docs/integrators/premium.md): only
  ADVANCED messages; reads only with the citizen's consent when reading;
- `service_stats` answers the counts of a range, computing each settled day once;
  `settle_day` computes a day that just settled for every service ahead of requests.

A day is settled `SETTLE_DAYS` after it ends: its messages' statuses were final when
stored, and their channel outcomes are final within the longest time to live (7
days). So a settled day's counts by status, reason and channel outcome are computed
on the first request that needs them and kept; the days not settled yet, and partial
days at the range's edges, are counted live. Read and paid can change on any day:
they are always counted live, from an index of the few messages they concern.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

import msgspec

from schemas.enums import MessageStatus
from schemas.patterns import is_fiscal_code
from worker.services.citizen import Cursor, InvalidRequest

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
MAX_STATS_DAYS = 93
DEFAULT_STATS_DAYS = 30
#: What a stored message's status may be (ACCEPTED ones are not stored yet).
STORED_STATUSES = frozenset(
    s.value for s in (MessageStatus.PROCESSED, MessageStatus.REJECTED, MessageStatus.FAILED)
)


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    fiscal_code: str | None = None
    after: Cursor | None = None


def timestamp(name: str, text: str | None) -> datetime | None:
    """An RFC 3339 timestamp (with its offset) as UTC; None when absent."""
    if text is None:
        return None
    example = "an RFC 3339 timestamp, such as 2026-01-31T00:00:00Z"
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidRequest(f"{name}: {example}") from exc
    if value.tzinfo is None:
        raise InvalidRequest(f"{name}: give the offset (Z or +01:00)")
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise InvalidRequest(f"{name}: {example}") from exc


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise InvalidRequest(f"limit: an integer from 1 to {MAX_LIMIT}")
    return int(text)


def page_request(query: Mapping[str, str]) -> PageRequest:
    status = query.get("status")
    if status is not None and status not in STORED_STATUSES:
        raise InvalidRequest(f"status: one of {', '.join(sorted(STORED_STATUSES))}")
    fiscal_code = query.get("fiscal_code")
    if fiscal_code is not None and not is_fiscal_code(fiscal_code):
        raise InvalidRequest("fiscal_code: not a valid fiscal code")
    cursor = query.get("cursor")
    since, until = timestamp("since", query.get("since")), timestamp("until", query.get("until"))
    if since is not None and until is not None and since >= until:
        raise InvalidRequest("since: must be before until")
    return PageRequest(
        limit=_limit(query.get("limit")),
        status=status,
        since=since,
        until=until,
        fiscal_code=fiscal_code,
        after=Cursor.decode(cursor) if cursor else None,
    )


def stats_range(query: Mapping[str, str], now: datetime) -> tuple[datetime, datetime]:
    until = timestamp("until", query.get("until")) or now
    try:
        default_since = until - timedelta(days=DEFAULT_STATS_DAYS)
    except OverflowError as exc:
        raise InvalidRequest("until: too early") from exc
    since = timestamp("since", query.get("since")) or default_since
    if since >= until:
        raise InvalidRequest("since: must be before until")
    if until - since > timedelta(days=MAX_STATS_DAYS):
        raise InvalidRequest(f"since: at most {MAX_STATS_DAYS} days before until")
    return since, until


@dataclass(slots=True)
class Day:
    """One UTC day's counts (the messages created that day)."""

    day: date
    total: int = 0
    status: dict[str, int] = field(default_factory=dict)
    rejection_reason: dict[str, int] = field(default_factory=dict)
    failure_reason: dict[str, int] = field(default_factory=dict)
    notification: dict[str, dict[str, int]] = field(default_factory=dict)
    read: int = 0
    paid: int = 0


def _add(counts: dict[str, int], key: str | None, n: int) -> None:
    if key is not None:
        counts[key] = counts.get(key, 0) + n


def daily(counts: Iterable[Mapping[str, Any]], channels: Iterable[Mapping[str, Any]]) -> list[Day]:
    """The aggregate rows (see `PostgresReports.daily`) as days, oldest first."""
    days: dict[date, Day] = {}
    for row in counts:
        day = days.setdefault(row["day"], Day(row["day"]))
        n = int(row["n"])
        day.total += n
        _add(day.status, row["status"], n)
        _add(day.rejection_reason, row["rejection_reason"], n)
        _add(day.failure_reason, row["failure_reason"], n)
    for row in channels:
        day = days.setdefault(row["day"], Day(row["day"]))
        _add(
            day.notification.setdefault(str(row["channel"]).lower(), {}),
            row["status"],
            int(row["n"]),
        )
    return [days[d] for d in sorted(days)]


#: Days after its end when a day's counts (but read and paid) no longer change.
SETTLE_DAYS = 8
_ONE_DAY = timedelta(days=1)
Rows = list[dict[str, Any]]


class StatsStore(Protocol):
    async def live_counts(
        self, service_id: str, since: datetime, until: datetime
    ) -> tuple[Rows, Rows]:
        """(status rows, channel rows) per UTC day of creation in [since, until)."""
        ...

    async def shared(self, service_id: str, since: datetime, until: datetime) -> Rows:
        """(day, read, paid) rows per UTC day of creation in [since, until)."""
        ...

    async def cached_days(self, service_id: str, first: date, end: date) -> dict[date, Any]: ...

    async def keep_days(self, service_id: str, counts: dict[date, Any]) -> None: ...


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def settled_window(since: datetime, until: datetime, now: datetime) -> tuple[date, date] | None:
    """The whole UTC days [first, end) inside [since, until) that are settled at `now`."""
    first = since.date() if since == _midnight(since.date()) else since.date() + _ONE_DAY
    end = min(until.date(), now.date() - timedelta(days=SETTLE_DAYS))
    return (first, end) if first < end else None


def _days(first: date, end: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((end - first).days)]


async def _settled(store: StatsStore, service_id: str, first: date, end: date) -> dict[date, Day]:
    """The settled days' counts: kept ones as kept, the others computed and kept."""
    kept = await store.cached_days(service_id, first, end)
    found = {d: msgspec.convert(c, Day) for d, c in kept.items()}
    missing = [d for d in _days(first, end) if d not in found]
    if missing:
        start, stop = missing[0], missing[-1] + _ONE_DAY
        counts, channels = await store.live_counts(service_id, _midnight(start), _midnight(stop))
        computed = {d.day: d for d in daily(counts, channels)}
        fresh = {d: computed.get(d, Day(d)) for d in _days(start, stop) if d not in found}
        await store.keep_days(service_id, {d: msgspec.to_builtins(v) for d, v in fresh.items()})
        found |= fresh
    return found


class SettleStore(StatsStore, Protocol):
    async def senders(self, since: datetime, until: datetime) -> list[str]:
        """The services with messages created in [since, until)."""
        ...


def just_settled(now: datetime) -> date:
    """The day that settled last (the latest day `settled_window` may keep at `now`)."""
    return now.date() - timedelta(days=SETTLE_DAYS + 1)


async def settle_day(store: SettleStore, day: date) -> int:
    """Count and keep `day` for every service that sent messages that day, ahead of
    the first request for it; the services counted (a day kept already is skipped)."""
    counted = 0
    for service_id in await store.senders(_midnight(day), _midnight(day + _ONE_DAY)):
        if not await store.cached_days(service_id, day, day + _ONE_DAY):
            await _settled(store, service_id, day, day + _ONE_DAY)
            counted += 1
    return counted


async def service_stats(
    store: StatsStore, service_id: str, since: datetime, until: datetime, now: datetime
) -> list[Day]:
    """The days of [since, until) that have messages, oldest first (see the module)."""
    window = settled_window(since, until, now)
    days: dict[date, Day] = {}
    live = [(since, until)]
    if window is not None:
        live = [(since, _midnight(window[0])), (_midnight(window[1]), until)]
        settled = await _settled(store, service_id, *window)
        days |= {d: v for d, v in settled.items() if v.total}
    for start, end in live:
        if start < end:
            counts, channels = await store.live_counts(service_id, start, end)
            days |= {d.day: d for d in daily(counts, channels)}
    for row in await store.shared(service_id, since, until):
        day = days.setdefault(row["day"], Day(row["day"]))
        day.read, day.paid = int(row["read"]), int(row["paid"])
    return [days[d] for d in sorted(days)]
