"""Wait, don't die: a role started while its database or broker is unreachable waits,
says so once per attempt, reports not ready, and runs once both answer; a producer
whose sender died is replaced instead of failing every send after it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlparse

import aiohttp
import pytest
import structlog

from schemas.topics import Topic
from tests.conftest import eventually
from tests.faultproxy import FaultProxy, free_port
from tests.integration.deliver_helpers import accepted, citizen, rows, service_entry
from worker.__main__ import _run_roles
from worker.bootstrap import Runtime
from worker.core.records import OutRecord
from worker.settings import Settings


def _socket_path(url: str) -> str:
    """The Unix socket of the embedded PostgreSQL behind `url`."""
    host = parse_qs(urlparse(url).query)["host"][0]
    return f"{host}/.s.PGSQL.5432"


@pytest.fixture
async def logged() -> AsyncIterator[list[dict[str, Any]]]:
    with structlog.testing.capture_logs() as events:
        yield events


def _attempts(events: list[dict[str, Any]], dependency: str) -> int:
    return sum(
        1
        for e in events
        if e["event"] == "dependency_unreachable" and e["dependency"] == dependency
    )


async def _waits_then_runs(
    runtime: Runtime,
    settings: Settings,
    proxy: FaultProxy,
    dependency: str,
    events: list[dict[str, Any]],
) -> None:
    """`settings` point at `proxy`, still closed: the role waits, alive and not ready on
    its ops listener; open it: ready, and it works."""
    ops_port = free_port()
    settings = replace(settings, ops=replace(settings.ops, port=ops_port))
    stop = asyncio.Event()
    role = asyncio.create_task(_run_roles(settings, ["deliver"], stop))
    try:
        await eventually(lambda: _count(events, dependency), lambda n: n >= 2)
        assert not role.done()
        status, body = await _readyz(ops_port)
        assert status == 503 and dependency in body["checks"], body
        assert (await _healthz(ops_port)) == 200  # alive: waiting on purpose
        await proxy.open()
        await eventually(lambda: _readyz(ops_port), lambda answer: answer[0] == 200, timeout=20)
        # And it works: a message accepted now is delivered by the role that waited.
        message_id = await accepted(runtime, await service_entry(runtime), citizen(1))
        await eventually(lambda: rows(runtime), lambda found: message_id in found, timeout=20)
        assert not role.done()
    finally:
        stop.set()
        assert await role == 0
        await proxy.close()


async def _count(events: list[dict[str, Any]], dependency: str) -> int:
    return _attempts(events, dependency)


async def _readyz(port: int) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/readyz") as resp,
    ):
        return resp.status, await resp.json()


async def _healthz(port: int) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/healthz") as resp,
    ):
        return resp.status


async def test_a_role_started_while_the_database_is_down_waits_and_becomes_ready(
    runtime: Runtime, settings: Settings, logged: list[dict[str, Any]]
) -> None:
    assert settings.database.url is not None
    proxy = FaultProxy(_socket_path(settings.database.url))
    url = f"postgresql://postgres@127.0.0.1:{proxy.port}/postgres"
    down = replace(settings, database=replace(settings.database, url=url))
    await _waits_then_runs(runtime, down, proxy, "database", logged)


async def test_a_role_started_while_the_broker_is_down_waits_and_becomes_ready(
    runtime: Runtime, settings: Settings, logged: list[dict[str, Any]]
) -> None:
    assert settings.kafka.bootstrap is not None
    host, port = settings.kafka.bootstrap.split(":")
    proxy = FaultProxy((host, int(port)))
    down = replace(settings, kafka=replace(settings.kafka, bootstrap=proxy.address))
    await _waits_then_runs(runtime, down, proxy, "broker", logged)


async def test_a_role_told_to_stop_while_waiting_exits_cleanly(
    settings: Settings, logged: list[dict[str, Any]]
) -> None:
    proxy = FaultProxy(("127.0.0.1", 9))
    down = replace(settings, kafka=replace(settings.kafka, bootstrap=proxy.address))
    down = replace(down, ops=replace(down.ops, port=0))
    stop = asyncio.Event()
    role = asyncio.create_task(_run_roles(down, ["deliver"], stop))
    await eventually(lambda: _count(logged, "broker"), lambda n: n >= 1)
    stop.set()
    assert await role == 0


async def test_a_producer_whose_sender_died_is_replaced_and_the_next_publish_succeeds(
    runtime: Runtime,
) -> None:
    # What a write on a connection reset under uvloop does to aiokafka: its background
    # sender ends for good, and every later send would fail.
    dead = runtime.publisher._producer
    dead._sender.sender_task.cancel()
    await asyncio.gather(dead._sender.sender_task, return_exceptions=True)
    topic = runtime.settings.kafka.topics.name(Topic.SUBMITTED)
    partition, _ = await runtime.publisher.publish(OutRecord(topic, b"{}", b"key"))
    assert runtime.publisher._producer is not dead
    assert partition >= 0
