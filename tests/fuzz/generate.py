"""Hypothesis as a generator for the fuzz tests, and the tally they print.

`examples(strategy, n)` draws `n` varied values from a strategy outside a `@given`
test (no shrinking: the oracle runs over the whole batch afterwards, against the real
broker and database). Three variables size the fuzz tests: small in `make test` (and
derandomized there, so the suite is repeatable), at scale and with fresh random
cases on every run in `make fuzz` (`POSTINO_FUZZ_RANDOM=1`):

- `POSTINO_FUZZ_API_CASES`: HTTP cases in all, spread evenly over every operation;
- `POSTINO_FUZZ_RECORDS`: Kafka records per consumed topic;
- `POSTINO_FUZZ_EXAMPLES`: runs of the service-lifecycle state machine.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

T = TypeVar("T")

#: `make test` keeps the defaults small; `make fuzz` raises them.
API_CASES = int(os.environ.get("POSTINO_FUZZ_API_CASES", "150"))
RECORDS = int(os.environ.get("POSTINO_FUZZ_RECORDS", "60"))
SCALE = int(os.environ.get("POSTINO_FUZZ_EXAMPLES", "3"))
RANDOM = os.environ.get("POSTINO_FUZZ_RANDOM") == "1"


def examples(strategy: st.SearchStrategy[T], n: int) -> list[T]:
    found: list[T] = []

    @settings(
        max_examples=n,
        database=None,
        derandomize=not RANDOM,
        deadline=None,
        phases=(Phase.generate,),
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def draw(value: T) -> None:
        found.append(value)

    draw()
    return found[:n]


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
