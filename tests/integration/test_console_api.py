"""The operator console's JSON over the real broker and PostgreSQL: admin only, cached,
per-second flow, lag per real consumer group, dead letters, message timelines."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from schemas.topics import CONSUMED, ConsumerGroup, Topic
from tests.conftest import eventually
from tests.integration.console_helpers import admin_get, fast, pipeline, settled_timeline
from tests.integration.notify_helpers import CITIZEN
from worker.adapters.kafka import OutRecord
from worker.bootstrap import Runtime, webhook_sender
from worker.console.broker import CONSUMER_GROUPS
from worker.ingress.app import create_app
from worker.ingress.console import CONSOLE
from worker.roles import deliver, notify, payments
from worker.roles.callbacks import CallbacksRole
from worker.services.notify_ports import Channels

DATA_PATHS = (
    "/api/v1/status",
    "/api/v1/status/flow",
    "/api/v1/status/dlq",
    "/api/v1/status/messages/01J0000000000000000000000A",
    "/api/v1/status/messages?service_id=svc-1",
)


@pytest.fixture
async def console(runtime: Runtime) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(create_app(fast(runtime)))) as http:
        yield http


async def test_every_data_endpoint_answers_401_without_the_admin_token(
    console: TestClient[Any, Any],
) -> None:
    for path in DATA_PATHS:
        for headers in ({}, {"Authorization": "Bearer wrong-token"}):
            resp = await console.get(path, headers=headers)
            assert resp.status == 401, path


async def test_the_status_page_is_a_shell_with_no_data_and_nothing_external(
    console: TestClient[Any, Any], runtime: Runtime
) -> None:
    await runtime.publisher.publish(
        OutRecord(runtime.settings.kafka.topics.dlq(Topic.SUBMITTED), b"{}")
    )
    resp = await console.get("/status")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    page = await resp.text()
    assert "messages.submitted" not in page  # no figure of any kind in the page itself
    assert "http://" not in page and "https://" not in page
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    for asset in ("/status/console.js", "/status/console.css"):
        served = await console.get(asset)
        assert served.status == 200
        assert "https://" not in await served.text()
    assert (await console.get("/status/other.js")).status == 404


async def test_lag_is_reported_per_real_consumer_group_callbacks_retry_included(
    console: TestClient[Any, Any], runtime: Runtime
) -> None:
    ks = runtime.settings.kafka
    retry_tier = ks.topics.name(Topic.CALLBACKS_RETRY_1)
    await runtime.publisher.publish_many([OutRecord(retry_tier, b"{}") for _ in range(3)])
    await runtime.publisher.publish(OutRecord(ks.topics.name(Topic.SUBMITTED), b"{}", b"k"))

    status, overview = await admin_get(console, "/api/v1/status")

    assert status == 200
    assert overview["consumer_lag"]["callbacks-retry"]["callbacks.retry.1"] == 3
    assert overview["consumer_lag"]["deliver"]["messages.submitted"] == 1
    assert set(overview["consumer_lag"]) == set(CONSUMER_GROUPS)
    assert set(overview["dlq_records"]) == {t.dlq() for t in CONSUMED}


async def test_dead_letters_show_code_origin_and_the_replay_command_without_personal_data(
    console: TestClient[Any, Any], runtime: Runtime
) -> None:
    ks = runtime.settings.kafka
    await runtime.publisher.publish(
        OutRecord(ks.topics.name(Topic.SUBMITTED), b'{"fiscal_code": "' + CITIZEN.encode() + b'"}')
    )
    runner = deliver.build(runtime)
    try:
        await runner.run_until_idle()
    finally:
        await runner.stop()

    _, dlq = await eventually(
        lambda: admin_get(console, "/api/v1/status/dlq"),
        lambda found: any(t["recent"] for t in found[1].get("topics", [])),
    )

    (submitted,) = [t for t in dlq["topics"] if t["topic"] == "messages.submitted.dlq"]
    assert submitted["records"] == 1 and submitted["pending"] == 1
    assert submitted["replay_command"] == "make dlq-replay TOPIC=messages.submitted"
    (letter,) = submitted["recent"]
    assert letter["original_topic"] == "messages.submitted"
    assert letter["original_partition"] is not None and letter["original_offset"] == 0
    assert letter["code"]
    assert CITIZEN not in str(dlq)


async def test_fifty_concurrent_calls_share_one_refresh(
    console: TestClient[Any, Any],
) -> None:
    refreshes = 0
    state = console.app[CONSOLE]
    original = state.refresh

    async def counted() -> None:
        nonlocal refreshes
        refreshes += 1
        await original()

    state.refresh = counted  # type: ignore[method-assign]
    state.interval = 60.0  # no second refresh however slow the machine is today
    answers = await asyncio.gather(*(admin_get(console, "/api/v1/status/flow") for _ in range(50)))

    assert all(status == 200 for status, _ in answers)
    assert refreshes == 1


async def test_the_flow_counts_accepted_and_processed_per_second(runtime: Runtime) -> None:
    async with pipeline(runtime) as flow, TestClient(TestServer(create_app(flow.runtime))) as http:
        for _ in range(3):
            await flow.submit(http)

        def counted(found: tuple[int, Any]) -> bool:
            series = found[1].get("series", {})
            return sum(series.get("accepted", [])) == 3 and (
                sum(series.get("message:PROCESSED", [])) == 3
            )

        _, body = await eventually(
            lambda: admin_get(http, "/api/v1/status/flow"), counted, timeout=15
        )
    assert len(body["series"]["accepted"]) == 900
    assert body["latency"]["count"] == 3
    assert body["latency"]["p50"] is not None and body["latency"]["p99"] is not None


async def test_a_message_timeline_shows_each_step_in_order(runtime: Runtime) -> None:
    async with pipeline(runtime) as flow, TestClient(TestServer(create_app(flow.runtime))) as http:
        message_id = await flow.submit(http)
        timeline = await settled_timeline(http, message_id)

    kinds = [s["kind"] for s in timeline["steps"]]
    assert kinds[:2] == ["accepted", "stored"]
    pushes = [s for s in timeline["steps"] if s["kind"] == "notification"]
    assert [(p["outcome"], p["attempt"]) for p in pushes] == [("THROTTLED", 1), ("SENT", 2)]
    assert pushes[0]["tier"] == "notifications.retry.1"
    assert "503" in pushes[0]["reason"]
    callbacks = [s for s in timeline["steps"] if s.get("channel") == "message PROCESSED"]
    assert [(c["outcome"], c["attempt"], c["status_code"]) for c in callbacks] == [
        ("failed", 1, 503),
        ("delivered", 2, None),
    ]
    assert callbacks[1]["tier"] == "callbacks.retry.1"
    assert kinds[-1] == "note"  # STANDARD: read and paid are not the sender's to see
    times = [s["at"] for s in timeline["steps"] if s["at"]]
    assert times == sorted(times)
    assert CITIZEN not in str(timeline)


async def test_an_unknown_message_id_is_not_found(console: TestClient[Any, Any]) -> None:
    status, body = await admin_get(console, "/api/v1/status/messages/01J0000000000000000000000Z")
    assert status == 404
    assert "no message" in body["detail"]


async def test_an_admin_finds_a_services_messages_in_a_time_range(runtime: Runtime) -> None:
    async with pipeline(runtime) as flow, TestClient(TestServer(create_app(flow.runtime))) as http:
        message_id = await flow.submit(http)
        _, found = await eventually(
            lambda: admin_get(http, f"/api/v1/status/messages?service_id={flow.service_id}"),
            lambda answer: len(answer[1].get("messages", [])) == 1,
        )
        status, _ = await admin_get(
            http, f"/api/v1/status/messages?service_id={flow.service_id}&since=2020-01-01T00:00"
        )
    assert found["messages"][0]["id"] == message_id
    assert status == 400  # a range longer than 31 days


async def test_the_consumer_groups_are_the_ones_the_roles_run(runtime: Runtime) -> None:
    async with webhook_sender(runtime.settings.callbacks) as sender:
        callbacks = CallbacksRole(runtime, sender)
        runners = [
            deliver.build(runtime),
            payments.build(runtime),
            notify.build(runtime, Channels(None, None)),
            *callbacks.runners,
        ]
        prefix = runtime.settings.kafka.topic_prefix
        try:
            built = {r.role: tuple(t.removeprefix(prefix) for t in r._topics) for r in runners}
        finally:
            await callbacks.stop()
            for r in runners:
                await r._consumer.stop()  # built, never started
    assert built == CONSUMER_GROUPS
    assert set(CONSUMER_GROUPS) == set(ConsumerGroup)
