"""One vocabulary, checked for drift: topics in schemas/, roles in code, entries in deploy/.

Fails when a topic has no producer or no consumer, when a role consumes a topic the
inventory does not say it does, or when a role has no place in the deployment files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from schemas.topics import (
    CALLBACK_RETRY_TIERS,
    CONSUMED,
    GROUP_TOPICS,
    NOTIFICATION_RETRY_TIERS,
    ConsumerGroup,
    Topic,
)
from worker.roles.registry import ROLES

ROOT = Path(__file__).resolve().parents[2]
EXTERNAL_PRODUCERS = {"upstream", "pagopa"}


def _inventory() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "deploy" / "topics.yaml").read_text())
    return data


def _references(topic: Topic) -> tuple[str, ...]:
    """How code names a topic: its enum member, or the tier table it belongs to."""
    names = [f"Topic.{topic.name}"]
    if topic in NOTIFICATION_RETRY_TIERS:
        names.append("NOTIFICATION_RETRY_TIERS")
    if topic in CALLBACK_RETRY_TIERS:
        names.append("CALLBACK_RETRY_TIERS")
    return tuple(names)


def _worker_sources() -> dict[str, str]:
    return {str(p.relative_to(ROOT)): p.read_text() for p in (ROOT / "worker").rglob("*.py")}


def test_the_inventory_lists_exactly_the_topics_of_the_schemas() -> None:
    inventory = _inventory()
    assert set(inventory["topics"]) == {t.value for t in Topic}
    assert set(inventory["dlq"]) == {t.value for t in CONSUMED}


def test_every_topic_has_a_producer_and_a_consumer_that_exist() -> None:
    for name, entry in _inventory()["topics"].items():
        assert entry["producers"], f"{name} has no producer"
        assert entry["consumers"], f"{name} has no consumer"
        for role in (*entry["producers"], *entry["consumers"]):
            assert role in ROLES or role in EXTERNAL_PRODUCERS, f"{name}: unknown role {role}"


def test_each_consuming_role_really_reads_its_topics() -> None:
    for name, entry in _inventory()["topics"].items():
        topic = Topic(name)
        for role in entry["consumers"]:
            source = (ROOT / "worker" / "roles" / f"{role}.py").read_text()
            runs = [g for g in ConsumerGroup if f"ConsumerGroup.{g.name}" in source]
            assert any(topic in GROUP_TOPICS[g] for g in runs), f"{role} does not read {name}"


def test_every_internally_produced_topic_is_named_by_some_producer_code() -> None:
    sources = _worker_sources()
    for name, entry in _inventory()["topics"].items():
        if set(entry["producers"]) <= EXTERNAL_PRODUCERS:
            continue
        refs = _references(Topic(name))
        users = [path for path, text in sources.items() if any(r in text for r in refs)]
        assert users, f"nothing in worker/ produces {name}"


def test_every_role_has_a_service_in_compose_and_a_deployment_in_kubernetes() -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    base = ROOT / "deploy" / "k8s" / "base"
    k8s = [d for p in base.glob("*.yaml") for d in yaml.safe_load_all(p.read_text())]
    deployments = {d["metadata"]["name"] for d in k8s if d and d["kind"] == "Deployment"}
    for role in ROLES:
        assert compose["services"][role]["command"] == [role]
        assert f"postino-{role}" in deployments
