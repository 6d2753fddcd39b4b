"""Hypothesis as a generator for the fuzz tests, and the tally they print.

`examples(strategy, n)` draws `n` varied values from a strategy outside a `@given`
test (no shrinking: the oracle runs over the whole batch afterwards, against the real
broker and database; a failure prints the case itself). Three variables size the
fuzz tests: small in `make test` (and seeded there, so the suite is repeatable), at
scale and with fresh random cases on every run in `make fuzz` (`POSTINO_FUZZ_RANDOM=1`):

- `POSTINO_FUZZ_API_CASES`: HTTP cases in all, spread evenly over every operation;
- `POSTINO_FUZZ_RECORDS`: Kafka records per consumed topic;
- `POSTINO_FUZZ_EXAMPLES`: runs of the service-lifecycle state machine.
"""

from __future__ import annotations

import os
import random
import secrets
from collections import Counter
from typing import Any, TypeVar

from hypothesis import strategies as st
from hypothesis.control import BuildContext
from hypothesis.errors import StopTest, UnsatisfiedAssumption
from hypothesis.internal.conjecture.data import ConjectureData

T = TypeVar("T")

#: `make test` keeps the defaults small; `make fuzz` raises them.
API_CASES = int(os.environ.get("POSTINO_FUZZ_API_CASES", "150"))
RECORDS = int(os.environ.get("POSTINO_FUZZ_RECORDS", "60"))
SCALE = int(os.environ.get("POSTINO_FUZZ_EXAMPLES", "3"))
RANDOM = os.environ.get("POSTINO_FUZZ_RANDOM") == "1"
#: Seconds a fuzz test may take: the short variant has room on a busy 2-core machine.
TIMEOUT = 3600 if max(API_CASES, RECORDS) > 1000 or SCALE > 10 else 300
#: Choices one drawn value may take (hypothesis's own limit for a test case).
_MAX_CHOICES = 8 * 1024


def examples(strategy: st.SearchStrategy[T], n: int) -> list[T]:
    """`n` values drawn straight from `strategy` (fewer only when it keeps rejecting
    its own draws), without hypothesis's test engine: no shrinking and no search for
    novel inputs, which cost more than the drawing at 10,000 values; seeded and
    repeatable unless `POSTINO_FUZZ_RANDOM=1`."""
    rnd = random.Random(secrets.randbits(64) if RANDOM else n)
    found: list[T] = []
    tries = 0
    while len(found) < n and tries < 3 * n + 20:
        tries += 1
        data = ConjectureData(random=rnd, max_choices=_MAX_CHOICES)
        try:
            with BuildContext(data, is_final=False, wrapped_test=examples):
                found.append(data.draw(strategy))
        except (StopTest, UnsatisfiedAssumption):
            continue  # an overrun, or a filter that rejected this draw
    return found


#: Text no store can carry, mixed into generated strings.
POISON = st.sampled_from(
    ["\x00", "\x07", "\x1b", "\x85", "\x9f", "\ud800", "\udfff", "\n", "\r", "\t", "\u2028"]
)


def poisoned(text: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(lambda t, p, i: t[:i] + p + t[i:], text, POISON, st.integers(0, 200))


def deep(levels: int) -> Any:
    value: Any = 1
    for n in range(levels):
        value = [value] if n % 2 else {"d": value}
    return value


class Tally:
    """Cases tried, by (what, outcome); printed as a table by `make fuzz`."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.counts: Counter[tuple[str, str]] = Counter()

    def add(self, what: str, outcome: str) -> None:
        self.counts[(what, outcome)] += 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def table(self) -> str:
        width = max((len(w) for w, _ in self.counts), default=10)
        lines = [f"{self.title}: {self.total} cases"]
        for (what, outcome), n in sorted(self.counts.items()):
            lines.append(f"  {what:<{width}}  {outcome:<28} {n:>6}")
        return "\n".join(lines)
