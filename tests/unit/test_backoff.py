"""One backoff for every loop that waits out an outage: doubling, capped, jittered."""

from __future__ import annotations

import pytest

from worker.core.backoff import Backoff


def test_pauses_double_up_to_the_cap_each_between_half_and_all_of_it() -> None:
    backoff = Backoff(0.1, 1.0)
    bases = [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    for base in bases:
        assert base / 2 <= backoff.next() <= base


def test_a_reset_starts_again_from_the_first_pause() -> None:
    backoff = Backoff(1.0, 60.0, jitter=0)
    assert [backoff.next() for _ in range(3)] == [1.0, 2.0, 4.0]
    backoff.reset()
    assert backoff.next() == 1.0


def test_a_first_pause_above_the_cap_is_the_cap() -> None:
    assert Backoff(0.1, 0.01, jitter=0).next() == 0.01


def test_processes_that_failed_together_do_not_retry_in_step() -> None:
    pauses = {Backoff(1.0, 60.0).next() for _ in range(20)}
    assert len(pauses) > 1


@pytest.mark.parametrize(("first", "cap", "jitter"), [(0, 1, 0.5), (1, 0, 0.5), (1, 2, 1.5)])
def test_a_nonsense_backoff_is_refused(first: float, cap: float, jitter: float) -> None:
    with pytest.raises(ValueError, match="Backoff needs"):
        Backoff(first, cap, jitter=jitter)
