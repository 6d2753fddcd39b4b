"""`postino topics`, `postino migrate` and `postino lag` against the embedded broker.

The embedded broker creates topics with their configs and describes them; it offers
neither AlterConfigs nor CreatePartitions, so the diff against it is tested here and
the application of such changes is either done or refused by name, never silent."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import yaml
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from schemas.topics import Topic, all_topic_names
from tests.conftest import eventually
from tests.integration.helpers import drain
from worker.adapters import kafka
from worker.adapters.kafka_topics import load_inventory
from worker.bootstrap import Runtime
from worker.cli.topics import Lag, format_lag, lag, topics
from worker.core.records import OutRecord
from worker.lifecycle import migrate_database
from worker.settings import Settings

_prefixes = itertools.count()
DAY_MS = 24 * 3600 * 1000


def fresh(settings: Settings) -> Settings:
    prefix = f"topics{next(_prefixes)}."
    return replace(settings, kafka=replace(settings.kafka, topic_prefix=prefix))


async def run_topics(
    settings: Settings, *, dry_run: bool = False, path: Path | None = None
) -> tuple[int, list[str]]:
    lines: list[str] = []
    code = await topics(settings, dry_run=dry_run, path=path, show=lines.append)
    return code, lines


async def topic_config(settings: Settings, name: str) -> dict[str, str]:
    admin = kafka.admin_client(settings.kafka, settings.kafka.bootstrap or "")
    await admin.start()
    try:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
        return {entry[0]: entry[1] for entry in response.resources[0][4]}
    finally:
        await admin.close()


async def existing(settings: Settings) -> set[str]:
    admin = kafka.admin_client(settings.kafka, settings.kafka.bootstrap or "")
    await admin.start()
    try:
        prefix = settings.kafka.topic_prefix
        return {t for t in await admin.list_topics() if t.startswith(prefix)}
    finally:
        await admin.close()


async def test_topics_creates_every_topic_with_its_configs_then_has_nothing_to_do(
    migrated: Settings,
) -> None:
    settings = fresh(migrated)
    code, lines = await run_topics(settings)
    assert code == 0
    assert len([line for line in lines if line.startswith("+ create")]) == len(all_topic_names())
    assert lines[-1] == "topics: applied"
    assert await existing(settings) == {settings.kafka.topic_prefix + n for n in all_topic_names()}
    dlq = await topic_config(settings, settings.kafka.topics.dlq(Topic.SUBMITTED))
    assert dlq["retention.ms"] == str(30 * DAY_MS)
    status = await topic_config(settings, settings.kafka.topics.name(Topic.STATUS))
    assert (status["cleanup.policy"], status["retention.ms"]) == ("delete", str(7 * DAY_MS))

    assert await run_topics(settings) == (0, ["topics: nothing to change"])


async def test_a_dry_run_prints_the_diff_and_changes_nothing(migrated: Settings) -> None:
    settings = fresh(migrated)
    code, lines = await run_topics(settings, dry_run=True)
    assert code == 0
    assert f"+ create {settings.kafka.topics.name(Topic.SUBMITTED)} partitions=2" in lines[0]
    assert lines[-1] == "topics: dry run, nothing applied"
    assert await existing(settings) == set()


async def test_the_diff_against_the_cluster_shows_raised_partitions_and_changed_configs(
    migrated: Settings, tmp_path: Path
) -> None:
    settings = fresh(migrated)
    assert (await run_topics(settings))[0] == 0
    inventory = load_inventory()
    inventory["topics"]["payments.updates"] = {
        **inventory["topics"]["payments.updates"],
        "partitions": 4,
        "config": {"retention.ms": 3 * DAY_MS},
    }
    changed = tmp_path / "topics.yaml"
    changed.write_text(yaml.safe_dump(inventory))
    payments = settings.kafka.topics.name(Topic.PAYMENTS)
    code, lines = await run_topics(settings, dry_run=True, path=changed)
    assert code == 0
    assert lines == [
        f"~ partitions {payments}: 2 -> 4",
        f"~ config {payments} retention.ms: {7 * DAY_MS} -> {3 * DAY_MS}",
        "topics: dry run, nothing applied",
    ]
    code, lines = await run_topics(settings, path=changed)
    if code == 0:  # a broker that offers CreatePartitions and AlterConfigs
        assert await run_topics(settings, path=changed) == (0, ["topics: nothing to change"])
    else:  # the embedded broker: refused, with the operation named
        assert lines[-1].startswith("postino topics: CreatePartitions failed")


async def test_migrate_touches_only_the_database(migrated: Settings) -> None:
    no_broker = replace(migrated, kafka=replace(migrated.kafka, bootstrap=None))
    assert await migrate_database(no_broker) == []  # nothing pending, and no broker needed


async def test_lag_per_group_and_partition_falls_to_zero_once_consumed(
    runtime: Runtime,
) -> None:
    topic = runtime.settings.kafka.topics.name(Topic.SUBMITTED)
    await runtime.publisher.publish_many(
        [OutRecord(topic, b"{}", key=f"k{i}".encode()) for i in range(3)]
    )
    before = await lag(runtime.settings, ["deliver"])
    assert {(r.topic, r.partition) for r in before} == {(topic, 0), (topic, 1)}
    assert sum(r.behind for r in before) == 3

    async def drained() -> list[Lag]:
        await drain(runtime)
        return await lag(runtime.settings, ["deliver"])

    after = await eventually(drained, lambda rows: sum(r.behind for r in rows) == 0)
    assert "postino.deliver" in format_lag(after)
