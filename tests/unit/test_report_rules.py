"""The reports' query rules and the folding of daily counts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from worker.adapters.reports_repo import PageQuery, page_statement
from worker.services.citizen import InvalidRequest
from worker.services.reports import daily, page_request, stats_range

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
    assert (first.day, first.total, first.read, first.paid) == (d1, 7, 2, 1)
    assert first.status == {"REJECTED": 2, "PROCESSED": 5}
    assert first.rejection_reason == {"USER_NOT_FOUND": 2}
    assert first.notification == {"push": {"SENT": 4}}
    assert (second.day, second.total, second.notification) == (d2, 3, {})


def test_a_timestamp_out_of_range_in_utc_is_refused_not_a_failure() -> None:
    with pytest.raises(InvalidRequest, match="since: an RFC 3339"):
        page_request({"since": "0001-01-01T00:00:00+01:00"})
    with pytest.raises(InvalidRequest, match="until: too early"):
        stats_range({"until": "0001-01-02T00:00:00Z"}, NOW)
