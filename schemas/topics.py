"""Every Kafka topic Postino knows, and `Topics`: their full names, the prefix applied once."""

from __future__ import annotations

import enum

#: What a topic's dead-letter topic adds to its name (prefixed or not).
DLQ_SUFFIX = ".dlq"


class Topic(enum.StrEnum):
    """Base topic names (without the configurable prefix)."""

    SUBMITTED = "messages.submitted"
    STATUS = "messages.status"
    NOTIFICATIONS = "notifications.requested"
    NOTIFICATIONS_RETRY_1 = "notifications.retry.1"
    NOTIFICATIONS_RETRY_2 = "notifications.retry.2"
    NOTIFICATIONS_RETRY_3 = "notifications.retry.3"
    NOTIFICATIONS_RETRY_4 = "notifications.retry.4"
    CALLBACKS_RETRY_1 = "callbacks.retry.1"
    CALLBACKS_RETRY_2 = "callbacks.retry.2"
    CALLBACKS_RETRY_3 = "callbacks.retry.3"
    CALLBACKS_RETRY_4 = "callbacks.retry.4"
    PAYMENTS = "payments.updates"

    def dlq(self) -> str:
        """The dead-letter topic of this topic (base name, unprefixed)."""
        return f"{self.value}{DLQ_SUFFIX}"


class ConsumerGroup(enum.StrEnum):
    """Base consumer group names of the roles' consumers (prefixed like topics)."""

    DELIVER = "deliver"
    PAYMENTS = "payments"
    NOTIFY = "notify"
    CALLBACKS = "callbacks"
    CALLBACKS_RETRY = "callbacks-retry"


#: Retry tiers in order: attempt n waits in tier n, the last tier takes every later
#: attempt. How long it waits is a setting, one delay per tier
#: (`POSTINO_NOTIFY_RETRY_DELAYS`, `POSTINO_CALLBACK_RETRY_DELAYS`), carried by each
#: record in its due header; one delay per tier keeps a tier in due order.
NOTIFICATION_RETRY_TIERS: tuple[Topic, ...] = (
    Topic.NOTIFICATIONS_RETRY_1,
    Topic.NOTIFICATIONS_RETRY_2,
    Topic.NOTIFICATIONS_RETRY_3,
    Topic.NOTIFICATIONS_RETRY_4,
)
CALLBACK_RETRY_TIERS: tuple[Topic, ...] = (
    Topic.CALLBACKS_RETRY_1,
    Topic.CALLBACKS_RETRY_2,
    Topic.CALLBACKS_RETRY_3,
    Topic.CALLBACKS_RETRY_4,
)
#: How many tiers each retry schedule has (so how many delays a setting may give).
RETRY_TIER_COUNT = len(NOTIFICATION_RETRY_TIERS)

#: Topics that a Postino consumer reads, and so have a DLQ.
CONSUMED: tuple[Topic, ...] = (
    Topic.SUBMITTED,
    Topic.STATUS,
    Topic.NOTIFICATIONS,
    *NOTIFICATION_RETRY_TIERS,
    *CALLBACK_RETRY_TIERS,
    Topic.PAYMENTS,
)


#: What each consumer group reads: the roles build their runners from it, and lag
#: (`postino topics --lag`, the console) is read per group over the same topics.
GROUP_TOPICS: dict[ConsumerGroup, tuple[Topic, ...]] = {
    ConsumerGroup.DELIVER: (Topic.SUBMITTED,),
    ConsumerGroup.PAYMENTS: (Topic.PAYMENTS,),
    ConsumerGroup.NOTIFY: (Topic.NOTIFICATIONS, *NOTIFICATION_RETRY_TIERS),
    ConsumerGroup.CALLBACKS: (Topic.STATUS,),
    ConsumerGroup.CALLBACKS_RETRY: CALLBACK_RETRY_TIERS,
}


def all_topic_names() -> list[str]:
    """Every base topic name, DLQs included: what `postino dev` creates."""
    names = [t.value for t in Topic]
    names += [t.dlq() for t in CONSUMED]
    return names


class Topics:
    """The full names of the topics under one prefix (`POSTINO_KAFKA_TOPIC_PREFIX`):
    built once with the settings; services, roles and tools name topics through it."""

    __slots__ = ("_names", "prefix")

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self._names = {t: f"{prefix}{t.value}" for t in Topic}

    def name(self, topic: Topic) -> str:
        return self._names[topic]

    def dlq(self, topic: Topic) -> str:
        return f"{self.prefix}{topic.dlq()}"

    def base(self, full_name: str) -> str:
        """A full name without the prefix."""
        return full_name.removeprefix(self.prefix)
