"""The ops listener every role serves: `/healthz` from loop heartbeats, `/readyz` from
the process's own clients (and any not-ready mark), `/metrics` from its registry."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import aiohttp
import pytest

from tests.conftest import eventually
from worker.adapters.kafka import Publisher
from worker.bootstrap import Runtime
from worker.health import Health
from worker.lifecycle import operated, run_roles
from worker.ops import OpsListener
from worker.roles.registry import ROLES
from worker.settings import Settings


def on_any_port(settings: Settings) -> Settings:
    return replace(settings, ops=replace(settings.ops, port=0))


async def get(listener: OpsListener | int | None, path: str) -> tuple[int, Any]:
    port = listener.port if isinstance(listener, OpsListener) else listener
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}{path}") as resp,
    ):
        body = await resp.json() if resp.content_type == "application/json" else await resp.text()
        return resp.status, body


@pytest.fixture
async def listener(settings: Settings) -> Any:
    ops = OpsListener(on_any_port(settings), Health())
    await ops.start()
    yield ops
    await ops.stop()


async def test_before_its_clients_are_open_a_process_is_alive_but_not_ready(
    listener: OpsListener,
) -> None:
    assert (await get(listener, "/healthz"))[0] == 200
    status, body = await get(listener, "/readyz")
    assert status == 503
    assert body == {"ready": False, "checks": {"runtime": "starting"}}


async def test_ready_when_its_own_pool_and_producer_answer(
    listener: OpsListener, runtime: Runtime
) -> None:
    listener.attach(runtime)
    status, body = await get(listener, "/readyz")
    assert (status, body) == (200, {"ready": True, "checks": {"database": "ok", "broker": "ok"}})


async def test_a_component_marked_not_ready_makes_the_process_not_ready(
    listener: OpsListener, runtime: Runtime
) -> None:
    listener.attach(runtime)
    listener.health.not_ready("broker-connection", "unreachable since start")
    listener._cached = None
    status, body = await get(listener, "/readyz")
    assert status == 503
    assert body["checks"]["broker-connection"] == "unreachable since start"
    listener.health.ready("broker-connection")
    listener._cached = None
    assert (await get(listener, "/readyz"))[0] == 200


class CountingPublisher(Publisher):
    def __init__(self, inner: Publisher) -> None:
        super().__init__(inner._producer)
        self.pings = 0

    async def ping(self, timeout: float) -> None:
        self.pings += 1
        await super().ping(timeout)


async def test_a_flood_of_probes_costs_one_check_on_the_existing_clients(
    listener: OpsListener, runtime: Runtime
) -> None:
    counting = CountingPublisher(runtime.publisher)
    listener.attach(replace(runtime, publisher=counting))
    answers = await asyncio.gather(*(get(listener, "/readyz") for _ in range(50)))
    assert {status for status, _ in answers} == {200}
    assert counting.pings == 1


async def test_a_loop_silent_past_its_limit_makes_healthz_answer_503(
    listener: OpsListener,
) -> None:
    now = [1000.0]
    listener.health.clock = lambda: now[0]
    pulse = listener.health.pulse("consumer.deliver", max_silence=30)
    pulse.beat()
    now[0] += 29
    assert (await get(listener, "/healthz"))[0] == 200
    now[0] += 2
    status, body = await get(listener, "/healthz")
    assert status == 503
    assert body == {"status": "stalled", "stalled_seconds": {"consumer.deliver": 31.0}}
    pulse.end()  # stopped on purpose: no longer a stall
    assert (await get(listener, "/healthz"))[0] == 200


async def test_metrics_are_served_in_the_prometheus_text_format(listener: OpsListener) -> None:
    status, body = await get(listener, "/metrics")
    assert status == 200
    assert "# TYPE postino_records_consumed_total counter" in body


async def test_every_role_reports_its_loops_and_readiness_on_one_ops_listener(
    settings: Settings,
) -> None:
    stop = asyncio.Event()
    async with operated(on_any_port(settings), "dev") as runtime:
        task = asyncio.create_task(run_roles(runtime, list(ROLES), stop))
        listener = runtime.ops_port
        expected = {
            "consumer.deliver",
            "consumer.notify",
            "consumer.callbacks",
            "consumer.callbacks-retry",
            "consumer.payments",
            "timer.notify-sweeper",
            "timer.payments-sweeper",
            "timer.reminders",
            "timer.service-directory",
        }
        status, _ = await eventually(
            lambda: get(listener, "/healthz"), lambda answer: expected <= set(answer[1]["loops"])
        )
        assert status == 200
        assert (await get(listener, "/readyz"))[0] == 200
        stop.set()
        assert await task == 0
