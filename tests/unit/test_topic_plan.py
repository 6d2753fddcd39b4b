"""Topics as configuration: the inventory's rules, and the plan between it and a cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from schemas.topics import CALLBACK_RETRY_TIERS, NOTIFICATION_RETRY_TIERS, all_topic_names
from worker.core.topic_plan import TopicSpec, TopicState, desired_topics, plan
from worker.settings import CallbackSettings, NotifySettings

ROOT = Path(__file__).resolve().parents[2]
DAY_MS = 24 * 3600 * 1000


def inventory() -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load((ROOT / "deploy" / "topics.yaml").read_text())
    return found


def specs(replication: int = 3) -> dict[str, TopicSpec]:
    found = desired_topics(inventory(), prefix="", partitions=8, replication_factor=replication)
    return {t.name: t for t in found}


def test_the_inventory_covers_every_topic_and_dlq_once() -> None:
    names = [
        t.name for t in desired_topics(inventory(), prefix="p.", partitions=8, replication_factor=1)
    ]
    assert sorted(names) == sorted(f"p.{n}" for n in all_topic_names())


def test_dead_letters_are_kept_30_days() -> None:
    for name, spec in specs().items():
        if name.endswith(".dlq"):
            assert int(spec.config["retention.ms"]) == 30 * DAY_MS, name


def test_retry_tiers_keep_records_at_least_three_times_their_default_delay() -> None:
    tiers = (
        *zip(NOTIFICATION_RETRY_TIERS, NotifySettings().retry_delays, strict=True),
        *zip(CALLBACK_RETRY_TIERS, CallbackSettings().retry_delays, strict=True),
    )
    for tier, delay_seconds in tiers:
        retention = int(specs()[tier.value].config["retention.ms"])
        assert retention >= 3 * delay_seconds * 1000, tier


def test_the_status_stream_is_deleted_after_7_days_never_compacted() -> None:
    config = specs()["messages.status"].config
    assert config["cleanup.policy"] == "delete"
    assert int(config["retention.ms"]) == 7 * DAY_MS


def test_min_insync_replicas_leaves_one_replica_to_spare() -> None:
    assert specs(replication=3)["messages.submitted"].config["min.insync.replicas"] == "2"
    assert specs(replication=2)["messages.submitted"].config["min.insync.replicas"] == "1"
    assert specs(replication=1)["messages.submitted"].config["min.insync.replicas"] == "1"


WANTED = TopicSpec("a", 8, 3, {"retention.ms": "100", "cleanup.policy": "delete"})


def test_a_missing_topic_is_created_with_its_configs() -> None:
    changes = plan([WANTED], {})
    assert changes.create == [WANTED]
    assert changes.lines() == [
        "+ create a partitions=8 replication=3 cleanup.policy=delete retention.ms=100"
    ]


def test_a_topic_as_asked_needs_nothing() -> None:
    changes = plan([WANTED], {"a": TopicState("a", 8, {**WANTED.config, "other.key": "x"})})
    assert changes.empty
    assert changes.lines() == []


def test_partitions_are_raised_and_configs_altered_key_by_key() -> None:
    current = {"a": TopicState("a", 4, {"retention.ms": "50", "cleanup.policy": "delete"})}
    changes = plan([WANTED], current)
    assert changes.partitions == {"a": (4, 8)}
    assert changes.configs == {"a": {"retention.ms": ("50", "100")}}
    assert changes.lines() == ["~ partitions a: 4 -> 8", "~ config a retention.ms: 50 -> 100"]


def test_a_config_the_cluster_does_not_report_shows_as_default() -> None:
    changes = plan([WANTED], {"a": TopicState("a", 8, {"retention.ms": "100"})})
    assert changes.lines() == ["~ config a cleanup.policy: (default) -> delete"]


def test_partitions_are_never_lowered_only_reported() -> None:
    changes = plan([WANTED], {"a": TopicState("a", 12, dict(WANTED.config))})
    assert changes.empty
    assert changes.lines() == [
        "! a has 12 partitions, more than the 8 asked: left as is (Kafka cannot remove partitions)"
    ]


def test_a_topic_may_ask_for_its_own_partition_count() -> None:
    document = {"topics": {"x": {"partitions": 3}}, "dlq": ["x"]}
    found = desired_topics(document, prefix="", partitions=8, replication_factor=1)
    assert [(t.name, t.partitions) for t in found] == [("x", 3), ("x.dlq", 8)]


def test_retry_tiers_and_dlqs_get_few_partitions_of_their_own() -> None:
    found = desired_topics(
        inventory(),
        prefix="",
        partitions=24,
        replication_factor=3,
        retry_partitions=4,
        dlq_partitions=1,
    )
    counts = {t.name: t.partitions for t in found}
    assert counts["messages.submitted"] == counts["payments.updates"] == 24
    assert counts["notifications.retry.1"] == counts["callbacks.retry.4"] == 4
    assert {n for n, c in counts.items() if c == 1} == {n for n in counts if n.endswith(".dlq")}
    assert sum(counts.values()) == 4 * 24 + 8 * 4 + 12 * 1  # 140, not 24 x 24 = 576
