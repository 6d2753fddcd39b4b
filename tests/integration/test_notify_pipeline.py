"""notify over the real broker and PostgreSQL, a real aiosmtpd server and a push receiver."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.message
import email.policy
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devkit.sinks import DevSinks
from schemas.enums import Channel, NotificationStatus
from schemas.events import NotificationRequest, NotificationStatusChanged
from tests.conftest import eventually
from tests.factories import create_profile, create_service
from tests.integration.helpers import status_events
from tests.integration.notify_helpers import (
    CITIZEN,
    Receiver,
    publish_requests,
    request,
    running,
    seed_message,
    serving,
    with_settings,
)
from worker.bootstrap import Runtime, notify_channels
from worker.roles import notify

MESSAGE_ID = "01J0000000000000000000000A"


@pytest.fixture
async def sinks(runtime: Runtime, tmp_path: Path) -> AsyncIterator[DevSinks]:
    sinks = DevSinks(tmp_path)
    smtp_url, _ = await sinks.start()
    sinks.smtp_url = smtp_url  # type: ignore[attr-defined]
    try:
        yield sinks
    finally:
        await sinks.stop()


def _notify_runtime(
    runtime: Runtime, sinks: DevSinks, push: Receiver, **changes: object
) -> Runtime:
    options: dict[str, object] = {
        "push_url": push.url,
        "smtp_url": sinks.smtp_url,  # type: ignore[attr-defined]
        "retry_delays": (0.2, 0.3),
        "call_attempts": 1,
        **changes,
    }
    return with_settings(runtime, "notify", **options)


async def _push_and_email(rt: Runtime, service_id: str) -> tuple[NotificationRequest, ...]:
    """Publish one push and one e-mail request for MESSAGE_ID; returns them."""
    requests = tuple(request(MESSAGE_ID, service_id, c) for c in (Channel.PUSH, Channel.EMAIL))
    await publish_requests(rt, *requests)
    return requests


@contextlib.asynccontextmanager
async def notifying(rt: Runtime) -> AsyncIterator[None]:
    """The notify consumer running in the background, with real push and SMTP adapters."""
    async with notify_channels(rt.settings.notify) as channels, running(notify.build(rt, channels)):
        yield


async def _rows(runtime: Runtime) -> dict[str, tuple[str, int]]:
    rows = await runtime.pool.fetch("SELECT channel, status, attempts FROM notifications")
    return {r["channel"]: (r["status"], r["attempts"]) for r in rows}


async def _setup(runtime: Runtime, *, secure: bool | None = None) -> str:
    service_id, _ = await create_service(runtime, organization_name="Comune di Esempio")
    await create_profile(
        runtime,
        CITIZEN,
        email="mario@example.org",
        email_validated=True,
        preferred_languages=["en_GB"],
    )
    await seed_message(runtime, service_id, MESSAGE_ID, secure=secure)
    return service_id


async def test_a_push_that_fails_twice_is_sent_on_the_third_attempt_and_the_email_at_once(
    runtime: Runtime, sinks: DevSinks
) -> None:
    service_id = await _setup(runtime)
    async with serving(Receiver(failures=2)) as push:
        rt = _notify_runtime(runtime, sinks, push)
        await _push_and_email(rt, service_id)
        async with notifying(rt):
            rows = await eventually(
                lambda: _rows(runtime),
                lambda r: r.get("PUSH", ("", 0))[0] == "SENT" and "EMAIL" in r,
            )
    assert rows == {"PUSH": ("SENT", 3), "EMAIL": ("SENT", 1)}
    assert len(push.calls) == 3
    sent = json.loads(push.calls[-1][1])
    assert (sent["title"], sent["body"]) == ("Comune di Esempio", "Avviso di pagamento TARI")
    assert sent["fiscal_code"] == CITIZEN and sent["kind"] == "MESSAGE"
    raw = next(sinks.mail_dir.glob("*.eml")).read_bytes()
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(mail, email.message.EmailMessage)
    assert mail["To"] == "mario@example.org"
    assert "Comune di Esempio" in mail["Subject"]
    text, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert text is not None and "You received a message" in text.get_content()
    assert html is not None and "<p>You received a message" in html.get_content()

    events = [e for e in await status_events(runtime) if isinstance(e, NotificationStatusChanged)]
    push_events = [(e.status, e.attempt) for e in events if e.channel is Channel.PUSH]
    assert push_events == [(NotificationStatus.THROTTLED, 1), (NotificationStatus.SENT, 3)]
    seqs = [e.seq for e in events]
    assert len(set(seqs)) == len(seqs)
    stored = await runtime.pool.fetchval(
        "SELECT status_seq FROM messages WHERE id = $1", MESSAGE_ID
    )
    assert stored == max(seqs)


async def test_a_channel_whose_deadline_passes_first_is_expired(
    runtime: Runtime, sinks: DevSinks
) -> None:
    service_id = await _setup(runtime)
    async with serving(Receiver(failures=10_000)) as push:
        rt = _notify_runtime(runtime, sinks, push)
        late = request(MESSAGE_ID, service_id, Channel.EMAIL, ttl=-1)
        # Long enough for a first try on a busy machine, short enough to expire soon.
        await publish_requests(rt, request(MESSAGE_ID, service_id, Channel.PUSH, ttl=3.0), late)
        async with notifying(rt):
            rows = await eventually(
                lambda: _rows(runtime),
                lambda r: all(s == "EXPIRED" for s, _ in r.values()) and len(r) == 2,
                timeout=30.0,
            )
    assert rows["EMAIL"] == ("EXPIRED", 0)  # past its deadline: not even tried
    assert rows["PUSH"][1] >= 1
    assert not list(sinks.mail_dir.glob("*.eml"))


async def test_a_permanent_refusal_fails_the_channel_at_once(
    runtime: Runtime, sinks: DevSinks
) -> None:
    service_id = await _setup(runtime)
    await runtime.pool.execute("UPDATE profiles SET email_validated = false")
    async with serving(Receiver(failures=10_000, fail_status=400)) as push:
        rt = _notify_runtime(runtime, sinks, push)
        await _push_and_email(rt, service_id)
        async with notifying(rt):
            rows = await eventually(
                lambda: _rows(runtime),
                lambda r: len(r) == 2 and all(s == "FAILED" for s, _ in r.values()),
            )
    assert rows == {"PUSH": ("FAILED", 1), "EMAIL": ("FAILED", 1)}
    assert len(push.calls) == 1


async def test_a_redelivered_request_is_not_sent_twice_and_secure_messages_stay_anonymous(
    runtime: Runtime, sinks: DevSinks
) -> None:
    service_id = await _setup(runtime, secure=True)
    async with serving(Receiver()) as push:
        rt = _notify_runtime(runtime, sinks, push)
        requests = await _push_and_email(rt, service_id)
        async with notify_channels(rt.settings.notify) as channels:
            runner = notify.build(rt, channels)
            try:
                await runner.run_until_idle()
                await publish_requests(rt, *requests)
                # Two empty polls may only mean a slow fetch on a busy machine: drain
                # until the redelivered requests are handled (or the deadline).
                handled, deadline = 0, asyncio.get_running_loop().time() + 10
                while handled < len(requests) and asyncio.get_running_loop().time() < deadline:
                    handled += await runner.run_until_idle()
            finally:
                await runner.stop()
    assert len(push.calls) == 1
    assert b"You have a new message" in push.calls[0][1]
    assert b"TARI" not in push.calls[0][1] and b"Esempio" not in push.calls[0][1]
    mails = list(sinks.mail_dir.glob("*.eml"))
    assert len(mails) == 1
    text = mails[0].read_text()
    assert "TARI" not in text and "Gentile" not in text and "Esempio" not in text
    events = [e for e in await status_events(runtime) if isinstance(e, NotificationStatusChanged)]
    sent = [e for e in events if e.channel is Channel.PUSH]
    assert len(sent) == 2 and sent[0] == sent[1]  # re-emitted identically from the row


async def test_the_sweeper_redrives_a_stale_claim_and_expires_one_past_its_deadline(
    runtime: Runtime, sinks: DevSinks
) -> None:
    service_id = await _setup(runtime)
    for channel, deadline in (
        ("PUSH", "now() + interval '1 hour'"),
        ("EMAIL", "now() - interval '1 second'"),
    ):
        await runtime.pool.execute(
            "INSERT INTO notifications (id, message_id, fiscal_code, sender_service_id, channel,"
            f" kind, status, attempts, deadline, claimed_at) VALUES ($1, $2, $3, $4, $5,"
            f" 'MESSAGE', 'THROTTLED', 0, {deadline}, now() - interval '1 hour')",
            f"{MESSAGE_ID}-{channel.lower()}-message",
            MESSAGE_ID,
            CITIZEN,
            service_id,
            channel,
        )
    async with serving(Receiver()) as push:
        rt = _notify_runtime(runtime, sinks, push, sweeper_grace_seconds=60)
        report = await notify.sweep_once(rt, notify.utc_now())
        assert (report.redriven, report.expired) == (1, 1)
        again = await notify.sweep_once(rt, notify.utc_now())
        assert (again.redriven, again.expired) == (0, 0)
        async with notifying(rt):
            rows = await eventually(lambda: _rows(runtime), lambda r: r["PUSH"][0] == "SENT")
    assert rows == {"PUSH": ("SENT", 1), "EMAIL": ("EXPIRED", 0)}
    assert len(push.calls) == 1
