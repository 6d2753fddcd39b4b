"""Trace context from outside chooses nothing and travels nowhere.

A sender's or a citizen's `traceparent` neither picks Postino's trace id nor its
sampling: every request starts a new trace at the public edge, with the caller's
span kept as a link. A caller's `tracestate` is never passed to another party (a
citizen's read used to reach the sender's webhook with it). A `traceparent` read
from a Kafka record is checked against the W3C format before it is used or stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from schemas import codecs
from schemas.enums import MessageStatus
from schemas.events import MessageStatusChanged
from schemas.topics import Topic
from tests.conftest import eventually
from tests.factories import create_profile, create_service, message_body
from tests.integration.citizen_helpers import insert_message
from tests.integration.helpers import read_topic, session
from tests.integration.notify_helpers import CITIZEN, Receiver, running, serving
from worker import tracing
from worker.bootstrap import Runtime, attempt_journal, webhook_sender
from worker.core.records import OutRecord
from worker.ingress.app import reload_services
from worker.roles.callbacks import CallbacksRole

CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN = "b7ad6b7169203331"
CALLER_STATE = "vendor=private-value"


def caller(flags: str = "01") -> dict[str, str]:
    return {"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-{flags}", "tracestate": CALLER_STATE}


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.configure("test", "test", exporter=exporter)
    try:
        yield exporter
    finally:
        tracing.shutdown()


async def _submit(runtime: Runtime, client: TestClient[Any, Any], flags: str) -> None:
    _, api_key = await create_service(runtime)
    await reload_services(client.app)
    resp = await client.post(
        "/api/v1/messages",
        json=message_body(CITIZEN),
        headers={"Ocp-Apim-Subscription-Key": api_key, **caller(flags)},
    )
    assert resp.status == 201, await resp.text()


async def test_a_senders_traceparent_is_a_link_not_the_parent(
    runtime: Runtime, client: TestClient[Any, Any], spans: InMemorySpanExporter
) -> None:
    await _submit(runtime, client, "01")

    [server] = [s for s in spans.get_finished_spans() if s.name == "POST /api/v1/messages"]
    assert format(server.context.trace_id, "032x") != CALLER_TRACE
    assert server.parent is None
    assert [format(link.context.trace_id, "032x") for link in server.links] == [CALLER_TRACE]
    [record] = await read_topic(runtime, Topic.SUBMITTED)
    sent = (record.header("traceparent") or b"").decode()
    assert sent.split("-")[1] == format(server.context.trace_id, "032x")
    assert record.header("tracestate") is None


async def test_a_caller_cannot_switch_sampling_off(
    runtime: Runtime, client: TestClient[Any, Any], spans: InMemorySpanExporter
) -> None:
    await _submit(runtime, client, "00")

    names = [s.name for s in spans.get_finished_spans()]
    assert "POST /api/v1/messages" in names


async def test_a_citizens_tracestate_never_reaches_the_senders_webhook(
    runtime: Runtime, client: TestClient[Any, Any], spans: InMemorySpanExporter
) -> None:
    async with serving(Receiver()) as hook:
        service_id, _ = await create_service(
            runtime, premium=True, callback_url=hook.url, callback_secret="s3cret-for-tests"
        )
        await create_profile(runtime, CITIZEN)
        message_id = await insert_message(
            runtime, CITIZEN, service_id, feature_level_type="ADVANCED"
        )
        headers = await session(client, CITIZEN)
        resp = await client.put(
            f"/api/v1/citizen/messages/{message_id}/message-status",
            json={"change_type": "reading", "is_read": True},
            headers={**headers, **caller()},
        )
        assert resp.status == 200, await resp.text()
        async with (
            webhook_sender(runtime.settings.callbacks) as sender,
            running(*(role := CallbacksRole(runtime, sender)).runners),
        ):
            await eventually(lambda: asyncio.sleep(0, hook.calls), lambda c: len(c) >= 1)
            await role.stop()

    [(sent, _)] = hook.calls
    assert "tracestate" not in {k.lower() for k in sent}
    assert CALLER_STATE not in str(sent)
    assert CALLER_TRACE not in sent.get("traceparent", "")


MALFORMED = (
    "00-" + "Z" * 32 + "-" + "1" * 16 + "-01",  # not hex
    "00-" + "0" * 32 + "-" + "1" * 16 + "-01",  # all-zero trace id
    "ff-" + "a" * 32 + "-" + "1" * 16 + "-01",  # forbidden version
    "00-" + "A" * 32 + "-" + "1" * 16 + "-01",  # upper case
    "00-" + "a" * 32 + "-" + "1" * 16 + "-01-extra",  # version 00 has four fields
)


def _event_record(runtime: Runtime, service_id: str, n: int, traceparent: str) -> OutRecord:
    event = MessageStatusChanged(
        message_id=f"01JTRACE{n:018d}",
        sender_service_id=service_id,
        seq=1,
        at=datetime.now(UTC),
        status=MessageStatus.PROCESSED,
    )
    return OutRecord(
        runtime.settings.kafka.topics.name(Topic.STATUS),
        codecs.STATUS.encode(event),
        event.message_id.encode(),
        (("traceparent", traceparent.encode()), ("tracestate", b"x=y")),
    )


async def test_a_malformed_traceparent_from_kafka_is_never_stored(runtime: Runtime) -> None:
    async with serving(Receiver()) as hook:
        service_id, _ = await create_service(
            runtime, callback_url=hook.url, callback_secret="s3cret-for-tests"
        )
        await runtime.publisher.publish_many(
            [_event_record(runtime, service_id, n, t) for n, t in enumerate(MALFORMED)]
        )
        async with (
            webhook_sender(runtime.settings.callbacks) as sender,
            attempt_journal(runtime) as journal,
            running(*(role := CallbacksRole(runtime, sender, journal=journal)).runners),
        ):
            await eventually(
                lambda: asyncio.sleep(0, hook.calls), lambda c: len(c) >= len(MALFORMED)
            )
            await role.stop()

    stored = await runtime.pool.fetch("SELECT trace_id FROM delivery_attempts")
    assert [r["trace_id"] for r in stored] == [None] * len(MALFORMED)
    for sent, _ in hook.calls:
        assert "tracestate" not in {k.lower() for k in sent}
        assert sent.get("traceparent") not in MALFORMED
