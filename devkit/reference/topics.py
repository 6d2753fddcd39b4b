"""The topics reference, from `deploy/topics.yaml` (what `postino topics` applies) and the
consumer groups of `schemas/topics.py`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from devkit.reference.markdown import BANNER, ROOT, code, table
from schemas.topics import GROUP_TOPICS

SOURCE = Path("deploy/topics.yaml")
_UNITS = ((86_400_000, "day"), (3_600_000, "hour"), (60_000, "minute"), (1000, "second"))


def duration(ms: object) -> str:
    """`604800000` -> `7 days (604800000 ms)`."""
    value = int(str(ms))
    for size, unit in _UNITS:
        if value and value % size == 0:
            n = value // size
            return f"{n} {unit}{'s' if n != 1 else ''} ({value} ms)"
    return f"{value} ms"


def _config_text(config: dict[str, Any]) -> str:
    parts = []
    for key, value in sorted(config.items()):
        shown = duration(value) if key.endswith(".ms") else value
        parts.append(f"{code(key)} {shown}")
    return ", ".join(parts)


def _rows(spec: dict[str, Any]) -> list[tuple[str, ...]]:
    defaults: dict[str, Any] = spec.get("defaults", {})
    rows: list[tuple[str, ...]] = []
    for name, topic in spec["topics"].items():
        config = {**defaults, **(topic.get("config") or {})}
        rows.append(
            (
                code(name),
                code(topic["key"]),
                code(topic["value"]),
                ", ".join(topic.get("producers", ())),
                ", ".join(topic.get("consumers", ())),
                _config_text(config),
            )
        )
    return rows


def render() -> str:
    spec = yaml.safe_load((ROOT / SOURCE).read_text())
    dlq_config = {**spec.get("defaults", {}), **spec.get("dlq_config", {})}
    groups = [
        (code(f"<prefix>.{group.value}"), ", ".join(code(t.value) for t in topics))
        for group, topics in GROUP_TOPICS.items()
    ]
    parts = [
        BANNER.format(source=f"{SOURCE} and schemas/topics.py"),
        "# Topics\n",
        "Every topic Postino uses, as `postino topics` (`make topics`) creates and configures"
        " it. Names are base names: `POSTINO_TOPIC_PREFIX` is prepended to each. Partitions:"
        " `POSTINO_KAFKA_PARTITIONS` unless a topic says otherwise, retry tiers"
        " `POSTINO_KAFKA_RETRY_PARTITIONS` and DLQs `POSTINO_KAFKA_DLQ_PARTITIONS`; replicas:"
        " `POSTINO_KAFKA_REPLICATION_FACTOR` (default: the cluster's"
        " `default.replication.factor`). `min.insync.replicas` is applied as"
        " min(its value, replication factor - 1), at least 1. Values are JSON; the"
        " [Kafka contract](../producers/contract.md) has their schemas.\n",
        table(("topic", "key", "value", "written by", "read by", "config"), _rows(spec)),
        "## Dead-letter topics\n",
        "Each of these has `<topic>.dlq` (original key and bytes, the reason in headers), with "
        + _config_text(dlq_config)
        + ": "
        + ", ".join(code(t) for t in spec.get("dlq", ()))
        + ".\n",
        "## Consumer groups\n",
        "Group ids are `POSTINO_KAFKA_GROUP_PREFIX` (default `postino`), a dot and the name;"
        " `make lag` and the console report lag per group.\n",
        table(("group", "reads"), groups),
    ]
    return "\n".join(parts).rstrip() + "\n"
