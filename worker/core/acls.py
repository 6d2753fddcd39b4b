"""The least-privilege Kafka ACLs of each principal, derived from the topic inventory.

`deploy/topics.yaml` says which role produces and which consumes each topic; the
consumer groups are `schemas.topics.GROUP_TOPICS`. From those, per role:
- Read on every topic it consumes, and on the consumer group(s) it commits under
  (direct assignment commits under the group id too);
- Write on every topic it produces, and on the DLQ of every topic it consumes
  (Write also covers the idempotent producer on Kafka 2.8 and later, KIP-679);
- the ingress also runs the operator console, which reads every topic's high
  watermark with a fetch and the newest dead letters (Read on every topic and DLQ),
  and every group's committed offsets (Describe on every group).
Then the principals that are not roles: `release` (the release job's `postino
topics`: it describes, creates, grows and configures topics) and `operator` (`postino
dlq list|replay`: it reads DLQs under its own group and writes the original topics).

Read and Write imply Describe in Kafka's authorizer, so Describe is listed only
where nothing else grants it. Pure: the inventory is given by the caller.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from schemas.topics import DLQ_SUFFIX, GROUP_TOPICS

#: (resource type, resource name, operation); names are base names (prefix not applied).
Acl = tuple[str, str, str]

#: What `postino topics` does to every topic of the inventory (CreateTopics is
#: authorised on the topic itself since Kafka 2.0; no Cluster-level right needed).
RELEASE_OPERATIONS = ("Create", "Alter", "AlterConfigs", "DescribeConfigs", "Describe")
#: The operators' DLQ tools' group (`postino dlq`).
REPLAY_GROUP = "dlq-replay"


def _topics(inventory: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: entry or {} for name, entry in (inventory.get("topics") or {}).items()}


def _groups_of(role: str) -> list[str]:
    """The consumer groups a role's runners commit under (`callbacks-retry` is callbacks')."""
    return [g.value for g in GROUP_TOPICS if g.value == role or g.value.startswith(f"{role}-")]


def role_acls(inventory: Mapping[str, Any], role: str) -> set[Acl]:
    """The ACLs a role's principal needs (see the module docstring)."""
    topics = _topics(inventory)
    dlqs = set(inventory.get("dlq") or ())
    found: set[Acl] = set()
    for name, entry in topics.items():
        if role in (entry.get("consumers") or ()):
            found.add(("topic", name, "Read"))
            if name in dlqs:
                found.add(("topic", f"{name}{DLQ_SUFFIX}", "Write"))
        if role in (entry.get("producers") or ()):
            found.add(("topic", name, "Write"))
    found |= {("group", group, "Read") for group in _groups_of(role)}
    if role == "ingress":
        found |= {("topic", name, "Read") for name in _every_topic(inventory)}
        found |= {("group", g.value, "Describe") for g in GROUP_TOPICS}
        found.add(("group", REPLAY_GROUP, "Describe"))
    return found


def _every_topic(inventory: Mapping[str, Any]) -> list[str]:
    dlqs = [f"{name}{DLQ_SUFFIX}" for name in inventory.get("dlq") or ()]
    return [*_topics(inventory), *dlqs]


def release_acls(inventory: Mapping[str, Any]) -> set[Acl]:
    """`postino topics`'s; DescribeConfigs on the cluster reads the brokers'
    `default.replication.factor` (POSTINO_KAFKA_REPLICATION_FACTOR=-1; without it,
    as many replicas as brokers, at most 3)."""
    found = {("topic", name, op) for name in _every_topic(inventory) for op in RELEASE_OPERATIONS}
    found.add(("cluster", "kafka-cluster", "DescribeConfigs"))
    return found


def operator_acls(inventory: Mapping[str, Any]) -> set[Acl]:
    dlqs = list(inventory.get("dlq") or ())
    found: set[Acl] = {("topic", f"{name}{DLQ_SUFFIX}", "Read") for name in dlqs}
    found |= {("topic", name, "Write") for name in dlqs}
    found.add(("group", REPLAY_GROUP, "Read"))
    return found


def all_acls(inventory: Mapping[str, Any], roles: Iterable[str]) -> dict[str, set[Acl]]:
    """Principal (role name, `release`, `operator`) -> its ACLs."""
    found = {role: role_acls(inventory, role) for role in roles}
    found["release"] = release_acls(inventory)
    found["operator"] = operator_acls(inventory)
    return found


def table(acls: set[Acl]) -> list[str]:
    """Markdown rows, `| resource | name | operations |`, one per resource, sorted."""
    by_resource: dict[tuple[str, str], list[str]] = {}
    for kind, name, op in acls:
        by_resource.setdefault((kind, name), []).append(op)
    # Read or Write imply Describe: drop it where one of them is there.
    rows = []
    for (kind, name), ops in sorted(by_resource.items()):
        if "Describe" in ops and ({"Read", "Write"} & set(ops)):
            ops.remove("Describe")
        rows.append(f"| {kind} | `{name}` | {', '.join(sorted(ops))} |")
    return rows
