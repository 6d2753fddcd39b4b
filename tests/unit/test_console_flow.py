"""The console's pure parts: counter increments, the 15-minute window, quantiles,
and timelines that show read and paid only as the sender may see them."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.enums import Channel, MessageStatus, NotificationKind, NotificationStatus
from schemas.events import MessageStatusChanged, NotificationRequest
from schemas.topics import Topic
from worker.console import timeline
from worker.console.flow import WINDOW_SECONDS, FlowWindow, increments, quantile
from worker.services.attempts import callback_attempt, notification_attempt, trace_id
from worker.services.notify_ports import Outcome

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def test_increments_keep_only_the_series_that_moved() -> None:
    before = {"accepted": 5.0, "message:PROCESSED": 4.0}
    now = {"accepted": 8.0, "message:PROCESSED": 4.0, "callback:delivered": 2.0}
    assert increments(before, now) == {"accepted": 3.0, "callback:delivered": 2.0}


def test_quantiles_interpolate_within_the_bucket_like_prometheus() -> None:
    buckets = {0.1: 50.0, 0.5: 90.0, 1.0: 100.0, math.inf: 100.0}
    assert quantile(0.5, buckets) == 0.1
    assert quantile(0.7, buckets) == 0.1 + (0.5 - 0.1) * (70 - 50) / 40
    assert quantile(0.99, buckets) == 0.5 + 0.5 * 0.9
    assert quantile(0.5, {0.1: 0.0, math.inf: 0.0}) is None
    assert quantile(0.99, {1.0: 1.0, math.inf: 10.0}) == 1.0  # beyond the last bound


def test_the_window_replaces_re_read_seconds_and_forgets_old_ones() -> None:
    window = FlowWindow()
    now = 10_000
    window.replace_from(now - WINDOW_SECONDS, [(now - 2000, "accepted", 9.0)], now)
    window.replace_from(now - 900, [(now - 10, "accepted", 1.0), (now - 5, "accepted", 2.0)], now)
    window.replace_from(now - 6, [(now - 5, "accepted", 3.0)], now)  # a late writer added 1
    assert window.dense("accepted", now - 10, now - 5) == [1.0, 0, 0, 0, 0, 3.0]
    assert min(window.points) > now - WINDOW_SECONDS


def _message(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": "m1",
        "sender_service_id": "svc",
        "created_at": T0,
        "processed_at": T0 + timedelta(milliseconds=30),
        "status": "PROCESSED",
        "rejection_reason": None,
        "failure_reason": None,
        "feature_level_type": "ADVANCED",
        "is_read": True,
        "read_at": T0 + timedelta(hours=1),
        "paid_at": T0 + timedelta(hours=2),
        "has_payment": True,
        "read_consent": True,
        "preferences_mode": "AUTO",
        "stored_consent": None,
    }
    return row | changes


def _story(message: dict[str, Any]) -> dict[str, Any]:
    return {"message": message, "notifications": [], "attempts": []}


def _kinds(found: dict[str, Any] | None) -> list[tuple[str, str]]:
    assert found is not None
    return [(s["kind"], s["title"]) for s in found["steps"]]


def test_read_and_paid_show_for_an_advanced_message_with_consent() -> None:
    steps = _kinds(timeline.build("m1", _story(_message()), []))
    assert steps == [
        ("accepted", "Accepted by the ingress"),
        ("stored", "Stored in the inbox (PROCESSED)"),
        ("read", "Read by the citizen"),
        ("paid", "Paid"),
    ]


def test_read_is_unavailable_without_consent_and_absent_for_standard() -> None:
    denied = timeline.build("m1", _story(_message(stored_consent=False)), [])
    assert denied is not None
    assert ("read", "Read status: UNAVAILABLE") in _kinds(denied)
    assert all(s["at"] is None for s in denied["steps"] if s["kind"] == "read")
    standard = _kinds(timeline.build("m1", _story(_message(feature_level_type="STANDARD")), []))
    assert [k for k, _ in standard] == ["accepted", "stored", "note"]


def test_nothing_known_is_none() -> None:
    assert timeline.build("m1", {"message": None, "notifications": [], "attempts": []}, []) is None


def test_attempt_entries_carry_tier_status_code_trace_and_no_personal_data() -> None:
    request = NotificationRequest(
        notification_id="n1",
        message_id="m1",
        fiscal_code="RSSMRA80A01H501U",
        sender_service_id="svc",
        channel=Channel.EMAIL,
        deadline=T0 + timedelta(days=1),
        kind=NotificationKind.MESSAGE,
    )
    error = "SMTP 451 for mario.rossi@example.org (RSSMRA80A01H501U)"
    outcome = Outcome(
        request, NotificationStatus.THROTTLED, 1, error, T0, Topic.NOTIFICATIONS_RETRY_1
    )
    entry = notification_attempt(outcome, T0)
    assert (entry.channel, entry.tier, entry.attempt) == ("EMAIL", "notifications.retry.1", 1)
    assert entry.detail is not None
    assert "mario.rossi" not in entry.detail and "RSSMRA80A01H501U" not in entry.detail

    event = MessageStatusChanged(
        message_id="m1", sender_service_id="svc", seq=1, at=T0, status=MessageStatus.PROCESSED
    )
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    headers = [("traceparent", f"00-{trace}-00f067aa0ba902b7-01".encode())]
    sent = callback_attempt(
        key="svc:abc",
        event=event,
        attempt=2,
        outcome="failed",
        at=T0,
        topic="callbacks.retry.1",
        error="callback receiver answered 503",
        trace=trace_id(headers),
    )
    assert (sent.status_code, sent.trace_id, sent.channel) == (503, trace, "message PROCESSED")
    assert trace_id([("other", b"x")]) is None


def test_a_tracing_context_gives_its_trace_id_to_the_attempt() -> None:
    from opentelemetry import trace

    from worker.adapters.console_repo import trace_id_of

    span = trace.NonRecordingSpan(
        trace.SpanContext(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, is_remote=True)
    )
    context = trace.set_span_in_context(span)
    assert trace_id_of(context) == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert trace_id_of(None) is None
