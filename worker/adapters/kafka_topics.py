"""Applying `deploy/topics.yaml` to a cluster: describe what exists, then create,
raise partitions and alter configs as `worker.core.topic_plan` planned.

Admin operations a broker does not offer (the embedded broker has no AlterConfigs
or CreatePartitions) fail with a `TopicsError` naming the operation, never silently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.protocol.offset import OffsetRequest

from worker import logs
from worker.adapters.kafka import admin_client
from worker.core.topic_plan import Plan, TopicSpec, TopicState, desired_topics, plan
from worker.settings import KafkaSettings

log = logs.get("postino.topics")

_TOPIC_ALREADY_EXISTS = 36
#: DescribeConfigs `config_source` of a value set on the topic itself.
_DYNAMIC_TOPIC_CONFIG = 1


class TopicsError(RuntimeError):
    """The cluster refused (or cannot do) a change of the plan."""


def inventory_path() -> Path:
    """deploy/topics.yaml in a checkout; worker/topics.yaml in an installed wheel."""
    packaged = resources.files("worker").joinpath("topics.yaml")
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "deploy" / "topics.yaml"


def load_inventory(path: Path | None = None) -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load((path or inventory_path()).read_text())
    return found


def desired(
    settings: KafkaSettings, inventory: Mapping[str, Any], replication_factor: int | None = None
) -> list[TopicSpec]:
    """The inventory's topics under these settings (`replication_factor`: the
    resolved one, when the settings say -1)."""
    return desired_topics(
        inventory,
        prefix=settings.topic_prefix,
        partitions=settings.partitions,
        replication_factor=replication_factor or settings.replication_factor,
        retry_partitions=settings.retry_partitions,
        dlq_partitions=settings.dlq_partitions,
    )


async def default_replication(admin: AIOKafkaAdminClient) -> int:
    """The cluster's `default.replication.factor` (what -1 means), read from a broker's
    config; where that is not allowed or not offered, as many replicas as brokers, at
    most 3."""
    brokers = sorted(b.nodeId for b in admin._client.cluster.brokers())
    try:
        resource = ConfigResource(ConfigResourceType.BROKER, str(brokers[0]))
        for response in await admin.describe_configs([resource]):
            for error_code, _, _, _, entries in response.resources:
                found = {e[0]: e[1] for e in entries} if not error_code else {}
                if found.get("default.replication.factor"):
                    return int(found["default.replication.factor"])
    except (KafkaError, ValueError, IndexError) as exc:
        log.info("broker_config_unreadable", error=type(exc).__name__)
    return max(1, min(3, len(brokers)))


async def describe(
    admin: AIOKafkaAdminClient, names: Iterable[str]
) -> tuple[dict[str, TopicState], dict[str, dict[str, str]]]:
    """(state of each existing topic among `names`, its topic-level config overrides)."""
    existing = set(await admin.list_topics())
    wanted = sorted(n for n in names if n in existing)
    if not wanted:
        return {}, {}
    counts = {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics(wanted)}
    values: dict[str, dict[str, str]] = {n: {} for n in wanted}
    overrides: dict[str, dict[str, str]] = {n: {} for n in wanted}
    resources_ = [ConfigResource(ConfigResourceType.TOPIC, n) for n in wanted]
    for response in await _call("DescribeConfigs", admin.describe_configs(resources_)):
        for error_code, message, _, name, entries in response.resources:
            if error_code:
                raise TopicsError(f"DescribeConfigs {name}: error {error_code} {message}")
            for entry in entries:
                key, value, source = entry[0], entry[1], entry[3]
                values[name][key] = value
                if response.API_VERSION > 0 and source == _DYNAMIC_TOPIC_CONFIG:
                    overrides[name][key] = value
    states = {n: TopicState(n, counts.get(n, 0), values[n]) for n in wanted}
    return states, overrides


async def _call(operation: str, awaitable: Any) -> Any:
    try:
        return await awaitable
    except KafkaError as exc:
        raise TopicsError(f"{operation} failed: {type(exc).__name__}: {exc}") from exc


def _raise_errors(operation: str, errors: Iterable[tuple[Any, ...]]) -> None:
    for error in errors:
        name, code = error[0], error[1]
        if code and code != _TOPIC_ALREADY_EXISTS:
            detail = error[2] if len(error) > 2 else ""
            raise TopicsError(f"{operation} {name}: error {code} {detail or ''}".strip())


async def apply(
    admin: AIOKafkaAdminClient, changes: Plan, overrides: Mapping[str, Mapping[str, str]]
) -> None:
    """Carry out the plan: creations, then partitions, then configs."""
    if changes.create:
        topics = [
            NewTopic(t.name, t.partitions, t.replication_factor, topic_configs=dict(t.config))
            for t in changes.create
        ]
        try:
            response = await _call("CreateTopics", admin.create_topics(topics))
        except TopicsError as exc:
            # A concurrent apply created some first: the others were created too.
            if not isinstance(exc.__cause__, TopicAlreadyExistsError):
                raise
        else:
            _raise_errors("CreateTopics", response.topic_errors)
    if changes.partitions:
        wanted = {n: NewPartitions(total) for n, (_, total) in changes.partitions.items()}
        response = await _call("CreatePartitions", admin.create_partitions(wanted))
        _raise_errors("CreatePartitions", response.topic_errors)
    if changes.configs:
        # AlterConfigs replaces a topic's whole override set: keep the overrides the
        # file does not name, and set the ones it does.
        altered = [
            ConfigResource(
                ConfigResourceType.TOPIC,
                name,
                configs={**overrides.get(name, {}), **{k: v for k, (_, v) in keys.items()}},
            )
            for name, keys in changes.configs.items()
        ]
        for response in await _call("AlterConfigs", admin.alter_configs(altered)):
            for error_code, message, _, name in response.resources:
                if error_code:
                    raise TopicsError(f"AlterConfigs {name}: error {error_code} {message}")


#: How long `postino topics` waits for the brokers to show what it changed.
SETTLE_SECONDS = 30.0
#: How often it looks meanwhile.
SETTLE_POLL_SECONDS = 0.02
#: ListOffsets' timestamp for "the log end".
_LATEST = -1


async def _settled(admin: AIOKafkaAdminClient, specs: list[TopicSpec]) -> None:
    """Wait until the brokers describe the cluster as planned and every partition's
    leader serves it: Kafka's controller takes a change at once, and each broker's
    metadata and configs follow a moment later, so a role (or the next `postino
    topics`) started right after sees the topics, and its first produce does not meet
    NOT_LEADER_OR_FOLLOWER and retry 100 ms later."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_SECONDS
    names = [s.name for s in specs]
    while True:
        current, _ = await describe(admin, names)
        if plan(specs, current).empty and await _leaders_serve(admin, names):
            return
        if loop.time() > deadline:
            log.warning("topics_not_settled", seconds=SETTLE_SECONDS)
            return
        await asyncio.sleep(SETTLE_POLL_SECONDS)


async def _leaders_serve(admin: AIOKafkaAdminClient, names: list[str]) -> bool:
    """Whether each partition's leader already serves it: a new partition is in the
    metadata a moment before its leader takes requests. Asked with ListOffsets, which
    only the leader answers and which writes nothing."""
    wanted: dict[int, dict[str, list[tuple[int, int]]]] = {}
    for topic in await admin.describe_topics(names):
        if topic["error_code"] or not topic["partitions"]:
            return False
        for part in topic["partitions"]:
            if part["error_code"] or part["leader"] < 0:
                return False
            at = wanted.setdefault(part["leader"], {}).setdefault(topic["topic"], [])
            at.append((part["partition"], _LATEST))
    for leader, topics in wanted.items():
        request = OffsetRequest(-1, 0, list(topics.items()))
        response = await admin._client.send(leader, request)
        if any(error for _, parts in response.topics for _, error, *_ in parts):
            return False
    return True


async def sync_topics(
    settings: KafkaSettings,
    bootstrap: str,
    *,
    dry_run: bool = False,
    inventory: Mapping[str, Any] | None = None,
    show: Callable[[str], None] | None = None,
) -> Plan:
    """Describe, plan, show the diff, and (unless `dry_run`) apply. Returns the plan."""
    admin = admin_client(settings, bootstrap, "topics")
    await _call("connect", admin.start())
    try:
        replication = settings.replication_factor
        if replication == -1:
            replication = await default_replication(admin)
        inventory = inventory if inventory is not None else load_inventory()
        specs = desired(settings, inventory, replication)
        current, overrides = await describe(admin, [s.name for s in specs])
        changes = plan(specs, current)
        for line in changes.lines():
            if show is not None:
                show(line)
        if not (dry_run or changes.empty):
            await apply(admin, changes, overrides)
            await _settled(admin, specs)
            log.info(
                "topics_applied",
                created=len(changes.create),
                partitions_raised=len(changes.partitions),
                configs_altered=len(changes.configs),
            )
        return changes
    finally:
        await admin.close()
