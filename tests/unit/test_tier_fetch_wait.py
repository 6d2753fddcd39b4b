"""How long a consumer of retry tiers alone waits per fetch."""

from __future__ import annotations

from worker.bootstrap import tier_fetch_wait_ms


def test_default_delays_wait_kafkas_500_ms() -> None:
    assert tier_fetch_wait_ms(20, (10, 60, 600, 3600)) == 500


def test_short_delays_keep_a_short_wait() -> None:
    assert tier_fetch_wait_ms(20, (0.3, 1.0)) == 30


def test_never_shorter_than_the_base_wait() -> None:
    assert tier_fetch_wait_ms(500, (0.1,)) == 500
    assert tier_fetch_wait_ms(20, (0.05,)) == 20
