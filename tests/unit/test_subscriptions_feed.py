"""The subscriptions feed's rules: IO's combination of profile- and service-level
changes, what a profile replacement changes, and when a day is served."""

from __future__ import annotations

from datetime import UTC, date, datetime

from worker.services.subscriptions import (
    PROFILE,
    DayChanges,
    closed,
    combine,
    fiscal_code_hash,
    profile_changes,
)


def test_the_hash_is_ios_lower_case_hex_sha256_of_the_upper_case_fiscal_code() -> None:
    assert fiscal_code_hash("rssmra80a01h501u") == fiscal_code_hash("RSSMRA80A01H501U")
    assert len(fiscal_code_hash("RSSMRA80A01H501U")) == 64
    assert fiscal_code_hash("") == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


def test_profile_and_service_changes_combine_as_ios_feed() -> None:
    changes = DayChanges(
        profile_subscribed=frozenset({"new", "new-but-opted-out"}),
        profile_unsubscribed=frozenset({"gone", "gone-but-subscribed"}),
        service_subscribed=frozenset({"joined", "gone-but-subscribed", "new"}),
        service_unsubscribed=frozenset({"left", "new-but-opted-out", "gone"}),
    )
    assert combine(changes) == (["joined", "new"], ["gone", "left"])


def test_a_day_is_served_once_it_is_over_in_utc() -> None:
    assert not closed(date(2026, 3, 1), datetime(2026, 3, 1, 23, 59, tzinfo=UTC))
    assert closed(date(2026, 3, 1), datetime(2026, 3, 2, 0, 0, tzinfo=UTC))


def test_a_new_profile_subscribes_unless_its_inbox_is_off() -> None:
    assert profile_changes(None, (True, "AUTO", {})) == {PROFILE: True}
    assert profile_changes(None, (False, "AUTO", {})) == {}
    legacy = (True, "LEGACY", {"svc": ["INBOX"], "other": ["EMAIL"]})
    assert profile_changes(None, legacy) == {PROFILE: True, "svc": False}


def test_a_replaced_profile_changes_the_feed_by_its_inbox_and_legacy_blocks() -> None:
    before = (True, "LEGACY", {"a": ["INBOX"], "b": []})
    after = (True, "LEGACY", {"b": ["INBOX", "PUSH"]})
    assert profile_changes(before, after) == {"a": True, "b": False}
    assert profile_changes((True, "AUTO", {}), (False, "AUTO", {})) == {PROFILE: False}
    assert profile_changes((True, "AUTO", {}), (True, "LEGACY", {"a": ["INBOX"]})) == {}
