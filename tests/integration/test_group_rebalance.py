"""Consumer groups on Apache Kafka (`POSTINO_KAFKA_ASSIGNMENT=group`): two deliver and
two notify instances share the partitions; when one deliver stops, the other takes its
partitions over and nothing is lost; a deliver started afresh resumes from the
committed offsets (it redoes nothing)."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Sequence
from dataclasses import replace

import pytest

from schemas.topics import Topic
from tests.conftest import eventually
from tests.factories import create_profile, create_service
from tests.fakes import FakePushGateway
from tests.integration.deliver_helpers import citizen
from tests.integration.test_deliver_upstream import body
from worker.bootstrap import Runtime
from worker.consumers.runner import ConsumerRunner
from worker.core.records import OutRecord
from worker.ids import upstream_id
from worker.roles import deliver, notify
from worker.services.notify_ports import Channels

pytestmark = pytest.mark.usefixtures("apache_kafka")
_groups = itertools.count()
CITIZENS = 20


def in_groups(runtime: Runtime) -> Runtime:
    """The runtime with consumer groups of its own, short sessions for a quick test."""
    ks = replace(
        runtime.settings.kafka,
        assignment="group",
        group_prefix=f"rebalance{next(_groups)}",
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
        rebalance_timeout_ms=10000,
        # the test's topics are a moment old: look again soon for the ones not seen yet
        metadata_max_age_ms=1000,
    )
    return replace(runtime, settings=replace(runtime.settings, kafka=ks))


class Running:
    """Runners, each in a task of its own, stopped as a deploy would (SIGTERM)."""

    def __init__(self) -> None:
        self.tasks: dict[ConsumerRunner, asyncio.Task[None]] = {}

    def start(self, runner: ConsumerRunner) -> ConsumerRunner:
        self.tasks[runner] = asyncio.create_task(runner.run())
        return runner

    async def stop(self, runner: ConsumerRunner) -> None:
        runner.request_stop()
        await self.tasks.pop(runner)
        await runner.stop()

    async def stop_all(self) -> None:
        for runner in list(self.tasks):
            await self.stop(runner)


async def submit(runtime: Runtime, service_id: str, ids: Sequence[str]) -> None:
    _NAMED.update((upstream_id(service_id, i), i) for i in ids)
    topic = runtime.settings.kafka.topics.name(Topic.SUBMITTED)
    await runtime.publisher.publish_many(
        [
            OutRecord(
                topic, json.dumps(body(service_id, citizen(n), id=i)).encode(), citizen(n).encode()
            )
            for n, i in enumerate(ids)
        ]
    )


#: message id -> the id its record named (a message's id is scoped to its service)
_NAMED: dict[str, str] = {}


async def processed(runtime: Runtime) -> set[str]:
    """The records' own ids of the PROCESSED messages."""
    found = await runtime.pool.fetch("SELECT id, sender_service_id, status FROM messages")
    return {_NAMED.get(r["id"], r["id"]) for r in found if r["status"] == "PROCESSED"}


async def counted(runner: ConsumerRunner) -> int:
    return runner.processed


async def assignments(runners: Sequence[ConsumerRunner]) -> list[int]:
    return [len(r.consumer.assignment()) for r in runners]


async def test_two_delivers_and_two_notifies_share_partitions_and_a_restart_resumes(
    runtime: Runtime,
) -> None:
    grouped = in_groups(runtime)
    service_id, _ = await create_service(grouped)
    for n in range(CITIZENS):
        await create_profile(grouped, citizen(n))
    running = Running()
    delivers = [running.start(deliver.build(grouped)) for _ in range(2)]
    notifies = [
        running.start(notify.build(grouped, Channels(FakePushGateway(), None), owner=f"n{i}"))
        for i in range(2)
    ]
    try:
        # every instance holds a share: one partition each of messages.submitted (2),
        # and of notify's 18 (the requests and four retry tiers)
        await eventually(lambda: assignments(delivers), lambda a: a == [1, 1], timeout=60)
        await eventually(lambda: assignments(notifies), lambda a: sum(a) == 18 and all(a))
        first = [f"first-{n}" for n in range(CITIZENS)]
        await submit(grouped, service_id, first)
        await eventually(lambda: processed(grouped), lambda done: done == set(first), timeout=60)
        assert await assignments(delivers) == [1, 1]

        await running.stop(delivers[0])  # leaves the group: its partitions move
        await eventually(
            lambda: assignments(delivers[1:]),
            lambda a: a == [grouped.settings.kafka.partitions],
            timeout=60,
        )
        before = delivers[1].processed
        second = [f"second-{n}" for n in range(CITIZENS)]
        await submit(grouped, service_id, second)
        await eventually(
            lambda: processed(grouped), lambda done: done == {*first, *second}, timeout=60
        )
        # (the count follows the offset commit, a moment after the rows)
        await eventually(lambda: counted(delivers[1]), lambda n: n >= before + CITIZENS)
        assert delivers[1].processed == before + CITIZENS  # the survivor took them all
        await running.stop_all()

        restarted = running.start(deliver.build(grouped))
        await eventually(lambda: assignments([restarted]), lambda a: all(a), timeout=60)
        third = [f"third-{n}" for n in range(3)]
        await submit(grouped, service_id, third)
        await eventually(
            lambda: processed(grouped), lambda done: done >= {*first, *second, *third}, timeout=60
        )
        await eventually(lambda: counted(restarted), lambda n: n >= len(third))
        assert restarted.processed == len(third)  # resumed at the committed offsets
    finally:
        await running.stop_all()
