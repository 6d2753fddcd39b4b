"""The pure verdicts of the upstream limits: rate per record second, quota per day."""

from __future__ import annotations

from datetime import date

from worker.services.upstream_limits import Candidate, Usage, judge

DAY = date(2026, 3, 1)


def _c(n: int, second: int = 100, service: str = "svc") -> Candidate:
    return Candidate(f"m-{n}", service, second, DAY, rate=2, quota=4)


def test_the_rate_counts_per_second_and_the_quota_per_day() -> None:
    batch = [_c(0), _c(1), _c(2), _c(3, 101), _c(4, 101), _c(5, 102)]
    verdicts = judge(batch, Usage(frozenset(), {("svc", DAY): 0}, {}))
    assert [c.message_id for c in verdicts.admitted] == ["m-0", "m-1", "m-3", "m-4"]
    assert verdicts.refused == {"m-2": "rate_exceeded", "m-5": "quota_exceeded"}


def test_what_was_admitted_before_is_neither_judged_nor_counted_again() -> None:
    usage = Usage(frozenset({"m-0"}), {("svc", DAY): 4}, {("svc", 100): 2})
    verdicts = judge([_c(0), _c(1, 200)], usage)
    assert verdicts.admitted == []
    assert verdicts.refused == {"m-1": "quota_exceeded"}


def test_services_have_their_own_limits() -> None:
    usage = Usage(frozenset(), {("a", DAY): 4}, {})
    verdicts = judge([_c(0, service="a"), _c(1, service="b")], usage)
    assert [c.message_id for c in verdicts.admitted] == ["m-1"]
