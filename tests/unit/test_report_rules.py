"""The reports' query rules and the folding of daily counts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from worker.adapters.reports_repo import PageQuery, page_statement
from worker.services.citizen import InvalidRequest
from worker.services.reports import (
    daily,
    page_request,
    service_stats,
    settled_window,
    stats_range,
)

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def test_a_list_query_is_read_into_utc_and_defaults() -> None:
    asked = page_request({"since": "2026-01-01T01:00:00+01:00", "status": "FAILED"})
    assert asked.since == datetime(2026, 1, 1, tzinfo=UTC)
    assert (asked.status, asked.limit, asked.until, asked.after) == ("FAILED", 100, None, None)


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "501"},
        {"limit": "ten"},
        {"status": "ACCEPTED"},
        {"since": "2026-01-01"},
        {"since": "2026-01-01T00:00:00"},
        {"fiscal_code": "RSSMRA80A01H501"},
        {"cursor": "%%"},
        {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
    ],
)
def test_what_cannot_be_honoured_is_refused(query: dict[str, str]) -> None:
    with pytest.raises(InvalidRequest):
        page_request(query)


def test_the_stats_range_defaults_to_30_days_and_is_at_most_93() -> None:
    assert stats_range({}, NOW) == (NOW - timedelta(days=30), NOW)
    with pytest.raises(InvalidRequest, match="at most 93 days"):
        stats_range({"since": "2025-01-01T00:00:00Z"}, NOW)


def test_a_page_statement_holds_only_the_conditions_asked_for() -> None:
    sql, args = page_statement(PageQuery("svc", 11))
    assert "m.status =" not in sql and "fiscal_code =" not in sql
    assert args == ["svc", 11]
    after = (NOW, "01J")
    sql, args = page_statement(PageQuery("svc", 11, status="FAILED", after=after))
    assert "m.status = $2" in sql and "(m.created_at, m.id) < ($3, $4)" in sql
    assert args == ["svc", "FAILED", NOW, "01J", 11]
    assert sql.endswith("LIMIT $5")


def test_daily_rows_fold_into_one_entry_per_day_oldest_first() -> None:
    d1, d2 = date(2026, 1, 10), date(2026, 1, 11)
    counts = [
        {
            "day": d2,
            "status": "PROCESSED",
            "rejection_reason": None,
            "failure_reason": None,
            "n": 3,
            "read": 1,
            "paid": 0,
        },
        {
            "day": d1,
            "status": "REJECTED",
            "rejection_reason": "USER_NOT_FOUND",
            "failure_reason": None,
            "n": 2,
            "read": 0,
            "paid": 0,
        },
        {
            "day": d1,
            "status": "PROCESSED",
            "rejection_reason": None,
            "failure_reason": None,
            "n": 5,
            "read": 2,
            "paid": 1,
        },
    ]
    channels = [{"day": d1, "channel": "PUSH", "status": "SENT", "n": 4}]
    first, second = daily(counts, channels)
    assert (first.day, first.total) == (d1, 7)
    assert first.status == {"REJECTED": 2, "PROCESSED": 5}
    assert first.rejection_reason == {"USER_NOT_FOUND": 2}
    assert first.notification == {"push": {"SENT": 4}}
    assert (second.day, second.total, second.notification) == (d2, 3, {})


def test_a_timestamp_out_of_range_in_utc_is_refused_not_a_failure() -> None:
    with pytest.raises(InvalidRequest, match="since: an RFC 3339"):
        page_request({"since": "0001-01-01T00:00:00+01:00"})
    with pytest.raises(InvalidRequest, match="until: too early"):
        stats_range({"until": "0001-01-02T00:00:00Z"}, NOW)


def test_settled_days_are_the_whole_days_of_the_range_ended_8_days_ago() -> None:
    now = datetime(2026, 3, 20, 15, 0, tzinfo=UTC)
    since = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert settled_window(since, now, now) == (date(2026, 3, 2), date(2026, 3, 12))
    midnight = datetime(2026, 3, 1, tzinfo=UTC)
    assert settled_window(midnight, now, now) == (date(2026, 3, 1), date(2026, 3, 12))
    assert settled_window(now - timedelta(days=5), now, now) is None


class FakeStats:
    """Counts one message a day, remembers what is kept, and what was counted live."""

    def __init__(self) -> None:
        self.kept: dict[date, Any] = {}
        self.live: list[tuple[datetime, datetime]] = []

    async def live_counts(self, service_id: str, since: datetime, until: datetime) -> Any:
        self.live.append((since, until))
        days = {since.date() + timedelta(days=n) for n in range((until - since).days + 1)}
        rows = [
            {
                "day": d,
                "status": "PROCESSED",
                "rejection_reason": None,
                "failure_reason": None,
                "n": 1,
            }
            for d in sorted(days)
            if since <= datetime.combine(d, datetime.min.time(), UTC) < until
        ]
        return rows, []

    async def shared(self, service_id: str, since: datetime, until: datetime) -> Any:
        return [{"day": since.date(), "read": 1, "paid": 0}]

    async def cached_days(self, service_id: str, first: date, end: date) -> dict[date, Any]:
        return {d: c for d, c in self.kept.items() if first <= d < end}

    async def keep_days(self, service_id: str, counts: dict[date, Any]) -> None:
        self.kept |= counts


async def test_settled_days_are_counted_once_and_kept_the_rest_live() -> None:
    store = FakeStats()
    now = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
    since = datetime(2026, 3, 1, tzinfo=UTC)
    first = await service_stats(store, "svc", since, now, now)
    assert [d.day for d in first] == [since.date() + timedelta(days=n) for n in range(20)]
    assert sorted(store.kept) == [date(2026, 3, n) for n in range(1, 12)]
    assert (first[0].read, first[1].read) == (1, 0)
    store.live.clear()
    again = await service_stats(store, "svc", since, now, now)
    assert [(d.day, d.total) for d in again] == [(d.day, d.total) for d in first]
    assert store.live == [(datetime(2026, 3, 12, tzinfo=UTC), now)]
