"""Rate and daily quota for upstream records (docs/producers/index.md).

Records produced straight to `messages.submitted` count against the same per-second
rate and daily quota as HTTP submits, the quota in the same `service_usage` counts
the ingress adds to. Deliver judges each batch's upstream records under a lock on
those counts, so several deliver processes share the limits exactly:

- time is the record's arrival (`delivery_rules.arrival_ms`: the broker's append
  time, or the time deliver read it), never the timestamp its producer wrote: the
  rate is at most `rate` records per second of arrival, the quota counts per
  Europe/Rome day of arrival (as the ingress counts its requests);
- a record already admitted (a redone batch) is admitted again without being
  counted, because each admission is kept per message id;
- a refused record goes to the DLQ with `rate_exceeded` or `quota_exceeded`; a
  replay re-produces it with a new timestamp, so it is admitted once the quota (or a
  raised `daily_quota`, which applies at once) allows.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Protocol

import msgspec

from worker.services.limits import day_of

RATE_EXCEEDED = "rate_exceeded"
QUOTA_EXCEEDED = "quota_exceeded"


class Candidate(msgspec.Struct, frozen=True):
    message_id: str
    service_id: str
    #: Unix second and Europe/Rome day of the record's arrival.
    second: int
    day: date
    rate: int
    quota: int


def candidate(
    message_id: str, service_id: str, timestamp_ms: int, *, rate: int, quota: int
) -> Candidate:
    second = timestamp_ms // 1000
    return Candidate(message_id, service_id, second, _day(second), rate, quota)


@functools.lru_cache(maxsize=1024)
def _day(second: int) -> date:
    """The Europe/Rome day of a Unix second (a batch's records share a few seconds)."""
    return day_of(datetime.fromtimestamp(second, UTC))


@dataclass(frozen=True, slots=True)
class Usage:
    """What the store read, under lock, for a batch's candidates."""

    #: Message ids admitted before (not counted again).
    admitted: frozenset[str]
    #: (service, day) -> records counted that day (HTTP and upstream).
    daily: Mapping[tuple[str, date], int]
    #: (service, unix second) -> upstream records admitted in that second.
    per_second: Mapping[tuple[str, int], int]


@dataclass(slots=True)
class Verdicts:
    #: Newly admitted, to count and record.
    admitted: list[Candidate] = field(default_factory=list)
    #: message id -> refusal code.
    refused: dict[str, str] = field(default_factory=dict)


def judge(candidates: Sequence[Candidate], usage: Usage) -> Verdicts:
    """Admit in order while within the rate of the record's second and the quota of its
    day; a record admitted before is neither judged nor counted."""
    daily = dict(usage.daily)
    per_second = dict(usage.per_second)
    verdicts = Verdicts()
    for c in candidates:
        if c.message_id in usage.admitted:
            continue
        day_key, second_key = (c.service_id, c.day), (c.service_id, c.second)
        if per_second.get(second_key, 0) >= c.rate:
            verdicts.refused[c.message_id] = RATE_EXCEEDED
        elif daily.get(day_key, 0) >= c.quota:
            verdicts.refused[c.message_id] = QUOTA_EXCEEDED
        else:
            per_second[second_key] = per_second.get(second_key, 0) + 1
            daily[day_key] = daily.get(day_key, 0) + 1
            verdicts.admitted.append(c)
    return verdicts


class AdmissionStore(Protocol):
    async def admit(
        self, candidates: Sequence[Candidate], decide: Callable[[Usage], Verdicts]
    ) -> Verdicts:
        """In one transaction: lock the candidates' daily counts, read `Usage`, call
        `decide`, record and count its admissions; return its verdicts."""
        ...
