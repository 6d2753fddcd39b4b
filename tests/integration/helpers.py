"""Helpers every integration test may use: drain a role, read a topic back, open a
citizen session. Area helpers (`citizen_helpers`, `notify_helpers`, ...) build on these."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

from schemas import codecs
from schemas.events import StatusEvent
from schemas.topics import Topic
from tests.conftest import ADMIN_TOKEN
from worker.adapters import kafka
from worker.bootstrap import Runtime
from worker.consumers.runner import ConsumerRunner
from worker.core.records import Record
from worker.roles import deliver

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
_groups = itertools.count()


async def drain(
    runtime: Runtime, build: Callable[[Runtime], ConsumerRunner] = deliver.build
) -> int:
    """Run a role (deliver unless told) until its topics are idle; the records handled."""
    runner = build(runtime)
    deadline = asyncio.get_running_loop().time() + 10.0
    try:
        count = await runner.run_until_idle()
        # Two empty polls may only mean a slow first fetch on a busy machine.
        while not await runner.caught_up() and asyncio.get_running_loop().time() < deadline:
            count += await runner.run_until_idle()
        return count
    finally:
        await runner.stop()


async def read_topic(runtime: Runtime, base_topic: str) -> list[Record]:
    """Every record on a topic so far (from the beginning, until two empty polls),
    in (partition, offset) order."""
    ks = runtime.settings.kafka
    consumer = kafka.consumer(ks, runtime.bootstrap, f"reader-{next(_groups)}")
    await consumer.start()
    try:
        topic = f"{ks.topics.prefix}{base_topic}"
        consumer.assign(await kafka.all_partitions(consumer, [topic]))
        await consumer.seek_to_beginning()
        found: list[Record] = []
        idle = 0
        while idle < 2:
            batch = await consumer.getmany(timeout_ms=100)
            got = [kafka.record_from_consumer(r) for recs in batch.values() for r in recs]
            found += got
            idle = 0 if got else idle + 1
        return sorted(found, key=lambda r: (r.partition, r.offset))
    finally:
        await consumer.stop()


async def status_events(runtime: Runtime) -> list[StatusEvent]:
    """Every event on this test's `messages.status`, in (partition, offset) order."""
    return [codecs.STATUS.decode(r.value or b"") for r in await read_topic(runtime, Topic.STATUS)]


async def session(client: TestClient[Any, Any], fiscal_code: str) -> dict[str, str]:
    """Headers of a fresh citizen session issued by the back-office."""
    resp = await client.post(f"/api/v1/admin/profiles/{fiscal_code}/sessions", headers=ADMIN)
    assert resp.status == 201, await resp.text()
    return {"Authorization": f"Bearer {(await resp.json())['token']}"}
