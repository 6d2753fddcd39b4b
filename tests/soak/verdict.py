"""What makes a soak pass, checked on its samples after the warm-up:

- no process's RSS grows by more than 10% (the broker's and PostgreSQL's only after a
  warm-up of 5 minutes: their caches fill for that long after a start): the median
  of the last tenth of the samples against the median of the first tenth after the
  warm-up (at least three each, fewer in a short run; medians over windows: one
  sample taken mid-garbage-collection, or while PostgreSQL's backends hold a query's
  working memory, does not decide). The broker runs with its heap fixed and touched
  at start, so its RSS is what grows outside the heap's cap;
- lag stays bounded: no consumer group ever more than `LAG_SECONDS` of traffic
  behind (the retry-tier groups apart: their records wait on purpose until due, so
  their lag is the tier's delay times the traffic; charted, not judged);
- nothing lost: every accepted message in the inbox;
- nothing stuck: every message PROCESSED with its push and e-mail SENT, every push
  and e-mail arrived;
- every offer accepted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median

from tests.soak.sample import Sample

RSS_GROWTH = 0.10
#: A group may fall this many seconds of traffic behind, never more.
LAG_SECONDS = 30.0
#: The soak's own outside world, not Postino: watched, not judged.
UNJUDGED = frozenset({"sinks"})
#: The broker's JVM heap and PostgreSQL's buffers fill for minutes after a start: their
#: memory is judged only after a full warm-up (`make soak`), charted in shorter runs.
INFRASTRUCTURE = frozenset({"kafka", "postgres"})
INFRASTRUCTURE_WARMUP = 300.0


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


def rss_checks(samples: Sequence[Sample], warmup: float) -> list[Check]:
    after = [s for s in samples if s.t >= warmup]
    if len(after) < 3:
        return [Check("RSS after warm-up", False, f"only {len(after)} samples after warm-up")]
    ends = min(max(3, len(after) // 10), len(after) // 3)
    checks = []
    skipped = UNJUDGED | (INFRASTRUCTURE if warmup < INFRASTRUCTURE_WARMUP else frozenset())
    for name in after[0].rss_mb:
        if name in skipped:
            continue
        first = median(s.rss_mb.get(name, 0.0) for s in after[:ends])
        last = median(s.rss_mb.get(name, 0.0) for s in after[-ends:])
        growth = (last - first) / first if first else 0.0
        checks.append(
            Check(
                f"RSS {name}",
                growth <= RSS_GROWTH,
                f"{first:.0f} -> {last:.0f} MiB ({growth:+.1%}, limit +{RSS_GROWTH:.0%})",
            )
        )
    return checks


def lag_check(samples: Sequence[Sample], warmup: float, rate: float) -> Check:
    bound = int(rate * LAG_SECONDS)
    worst = {
        group: max((s.lag.get(group, 0) for s in samples if s.t >= warmup), default=0)
        for group in (samples[-1].lag if samples else {})
        if not group.endswith("-retry")
    }
    over = {g: n for g, n in worst.items() if n > bound}
    detail = ", ".join(f"{g} {n}" for g, n in sorted(worst.items()))
    return Check("lag bounded", not over, f"worst after warm-up: {detail} (bound {bound})")


def checks(
    samples: Sequence[Sample],
    warmup: float,
    rate: float,
    *,
    offered: int,
    accepted: int,
    lost: int,
    stuck: int,
    missing: tuple[int, int],
) -> list[Check]:
    return [
        *rss_checks(samples, warmup),
        lag_check(samples, warmup, rate),
        Check("every offer accepted", offered == accepted, f"{accepted}/{offered}"),
        Check("nothing lost", lost == 0, f"{lost} accepted but not in the inbox"),
        Check(
            "nothing stuck",
            stuck == 0 and not any(missing),
            f"{stuck} messages short of PROCESSED with push and e-mail SENT; pushes and"
            f" e-mails that never arrived: {missing[0]}, {missing[1]}",
        ),
    ]
