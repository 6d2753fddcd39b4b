"""One submitted message, one trace: the HTTP request, deliver, notify and the
callbacks role, across Kafka record headers, out to the push gateway and the sender's
webhook (W3C `traceparent`), with database and produce spans inside."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.conftest import eventually
from tests.factories import create_profile, create_service, message_body
from tests.integration.helpers import drain
from tests.integration.notify_helpers import CITIZEN, Receiver, running, serving, with_settings
from worker import logs, tracing
from worker.bootstrap import Runtime, notify_channels, webhook_sender
from worker.ingress import app as app_module
from worker.ingress.app import reload_services
from worker.roles import notify
from worker.roles.callbacks import CallbacksRole


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.configure("test", "test", exporter=exporter)
    try:
        yield exporter
    finally:
        tracing.shutdown()


def trace_of(headers: dict[str, str]) -> str:
    return headers["traceparent"].split("-")[1]


def by_name(finished: tuple[ReadableSpan, ...], *parts: str) -> list[ReadableSpan]:
    """Spans whose name starts with the first part and contains the others."""
    first, rest = parts[0], parts[1:]
    return [
        s
        for s in finished
        if (s.name or "").startswith(first) and all(p in (s.name or "") for p in rest)
    ]


async def test_one_submitted_message_is_one_trace_from_ingress_to_the_callback(
    runtime: Runtime, client: TestClient[Any, Any], spans: InMemorySpanExporter
) -> None:
    async with serving(Receiver()) as push, serving(Receiver()) as hook:
        _, key = await create_service(
            runtime, callback_url=hook.url, callback_secret="s3cret-for-tests"
        )
        await create_profile(runtime, CITIZEN)
        await reload_services(client.app)
        resp = await client.post(
            "/api/v1/messages",
            json=message_body(CITIZEN),
            headers={"Ocp-Apim-Subscription-Key": key, "X-Request-Id": "req-42"},
        )
        assert resp.status == 201, await resp.text()
        assert resp.headers["X-Request-Id"] == "req-42"

        rt = with_settings(runtime, "notify", push_url=push.url, smtp_url=None)
        async with notify_channels(rt.settings.notify) as channels:

            async def delivered_and_notified() -> int:
                await drain(runtime)  # deliver, then notify (slow first fetches are retried)
                await drain(rt, lambda r: notify.build(r, channels))
                return len(push.calls)

            await eventually(delivered_and_notified, lambda calls: calls >= 1, timeout=60)
        async with (
            webhook_sender(runtime.settings.callbacks) as sender,
            running(*(role := CallbacksRole(runtime, sender)).runners),
        ):
            await eventually(lambda: asyncio.sleep(0, hook.calls), lambda c: len(c) >= 2)
            await role.stop()

    finished = spans.get_finished_spans()
    [server] = by_name(finished, "POST /api/v1/messages")
    trace_id = format(server.context.trace_id, "032x")
    for parts in (
        ("produce", "messages.submitted"),
        ("deliver process", "messages.submitted"),
        ("notify process", "notifications.requested"),
        ("POST push gateway",),
        ("callbacks process", "messages.status"),
        ("POST callback receiver",),
    ):
        found = by_name(finished, *parts)
        assert found, f"no span {parts!r}: {sorted({s.name for s in finished})}"
        assert any(format(s.context.trace_id, "032x") == trace_id for s in found), parts
    # The batch has its own span (it serves many messages), linked from each record's
    # process span; the batch's database work nests under it.
    [process] = by_name(finished, "deliver process")
    [link] = process.links
    [batch] = [s for s in by_name(finished, "deliver batch") if s.context == link.context]
    db = by_name(finished, "db PostgresInbox")
    assert db and all(
        d.parent is not None and d.parent.span_id == batch.context.span_id for d in db
    )
    assert trace_of(push.calls[0][0]) == trace_id
    assert {trace_of(headers) for headers, _ in hook.calls} == {trace_id}
    assert all(s.attributes is None or "fiscal_code" not in str(s.attributes) for s in finished)


class AccessLines:
    enabled = True

    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, Any]]] = []

    def info(self, event: str, **fields: Any) -> None:
        self.lines.append((event, fields | logs.context()))


async def test_without_an_endpoint_tracing_stays_off_and_records_carry_no_header(
    runtime: Runtime, client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    access = AccessLines()
    monkeypatch.setattr(app_module, "access", access)
    assert not tracing.ENABLED
    assert not tracing.wanted({})
    assert tracing.wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    _, key = await create_service(runtime)
    await create_profile(runtime, CITIZEN)
    await reload_services(client.app)
    resp = await client.post(
        "/api/v1/messages", json=message_body(CITIZEN), headers={"Ocp-Apim-Subscription-Key": key}
    )
    assert resp.status == 201
    assert len(resp.headers["X-Request-Id"]) == 32  # generated when absent
    [(event, line)] = access.lines
    assert event == "http_request"
    assert line["route"] == "/api/v1/messages"  # the template: a path may hold a fiscal code
    assert (line["method"], line["status"]) == ("POST", 201)
    assert line["request_id"] == resp.headers["X-Request-Id"]
    assert line["message_id"] == (await resp.json())["id"]
    assert "service_id" in line
    from schemas.topics import Topic
    from tests.integration.helpers import read_topic

    [record] = await read_topic(runtime, Topic.SUBMITTED)
    assert record.header("traceparent") is None
