"""Topics as configuration: what `deploy/topics.yaml` asks for, what the cluster has,
and the changes between them. Pure: the YAML is read and the cluster described by
the caller; this module only compares.

The plan only ever adds: it creates missing topics, raises partition counts and sets
configs. It never deletes a topic, never lowers a partition count (Kafka cannot; a
topic with more partitions than asked is reported and left alone) and never touches
a config key the file does not name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: `min.insync.replicas` is capped at replication factor - 1 (at least 1): with all
#: replicas required in sync, one broker down would stop every acks=all producer.
MIN_INSYNC = "min.insync.replicas"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    config: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TopicState:
    """A topic as the cluster describes it: partitions and config values by key."""

    name: str
    partitions: int
    config: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Plan:
    create: list[TopicSpec] = field(default_factory=list)
    #: topic -> (partitions now, partitions wanted)
    partitions: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: topic -> key -> (value now or None, value wanted)
    configs: dict[str, dict[str, tuple[str | None, str]]] = field(default_factory=dict)
    #: What the plan will not do, and why.
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.create or self.partitions or self.configs)

    def lines(self) -> list[str]:
        """The diff, one line per change, in a stable order."""
        out = [
            f"+ create {t.name} partitions={t.partitions} replication={t.replication_factor}"
            + "".join(f" {k}={v}" for k, v in sorted(t.config.items()))
            for t in self.create
        ]
        out += [
            f"~ partitions {name}: {now} -> {wanted}"
            for name, (now, wanted) in sorted(self.partitions.items())
        ]
        for name, changes in sorted(self.configs.items()):
            out += [
                f"~ config {name} {key}: {now if now is not None else '(default)'} -> {wanted}"
                for key, (now, wanted) in sorted(changes.items())
            ]
        out += [f"! {note}" for note in self.notes]
        return out


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def desired_topics(
    document: Mapping[str, Any],
    *,
    prefix: str,
    partitions: int,
    replication_factor: int,
    retry_partitions: int | None = None,
    dlq_partitions: int | None = None,
) -> list[TopicSpec]:
    """Every topic of the inventory (DLQs included) with its partitions and configs:
    `defaults`, then `dlq_config` for DLQs, then the topic's own `config`. Partitions:
    the topic's own `partitions`, else `retry_partitions` for a retry tier (`retry:
    true`), `dlq_partitions` for a DLQ, `partitions` for the rest."""
    defaults = {k: _text(v) for k, v in (document.get("defaults") or {}).items()}
    dlq_config = {k: _text(v) for k, v in (document.get("dlq_config") or {}).items()}
    found: list[TopicSpec] = []
    for name, entry in (document.get("topics") or {}).items():
        entry = entry or {}
        config = defaults | {k: _text(v) for k, v in (entry.get("config") or {}).items()}
        fallback = retry_partitions if entry.get("retry") and retry_partitions else partitions
        count = int(entry.get("partitions") or fallback)
        found.append(_spec(prefix + name, count, replication_factor, config))
    for name in document.get("dlq") or ():
        dlq = f"{prefix}{name}.dlq"
        count = dlq_partitions or partitions
        found.append(_spec(dlq, count, replication_factor, defaults | dlq_config))
    return found


def _spec(name: str, partitions: int, replication: int, config: dict[str, str]) -> TopicSpec:
    if MIN_INSYNC in config:
        config[MIN_INSYNC] = str(min(int(config[MIN_INSYNC]), max(1, replication - 1)))
    return TopicSpec(name, partitions, replication, config)


def plan(desired: Sequence[TopicSpec], current: Mapping[str, TopicState]) -> Plan:
    """The changes that bring the cluster to `desired` (only additions, see above)."""
    result = Plan()
    for spec in desired:
        state = current.get(spec.name)
        if state is None:
            result.create.append(spec)
            continue
        if state.partitions < spec.partitions:
            result.partitions[spec.name] = (state.partitions, spec.partitions)
        elif state.partitions > spec.partitions:
            result.notes.append(
                f"{spec.name} has {state.partitions} partitions, more than the "
                f"{spec.partitions} asked: left as is (Kafka cannot remove partitions)"
            )
        changes = {
            key: (state.config.get(key), value)
            for key, value in spec.config.items()
            if state.config.get(key) != value
        }
        if changes:
            result.configs[spec.name] = changes
    return result
