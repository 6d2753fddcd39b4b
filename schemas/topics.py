"""Every Kafka topic Postino knows, with the prefix applied in one place."""

from __future__ import annotations

import enum

#: What a topic's dead-letter topic adds to its name (prefixed or not).
DLQ_SUFFIX = ".dlq"


class Topic(enum.StrEnum):
    """Base topic names (without the configurable prefix)."""

    SUBMITTED = "messages.submitted"
    STATUS = "messages.status"
    NOTIFICATIONS = "notifications.requested"
    NOTIFICATIONS_RETRY_10S = "notifications.retry.10s"
    NOTIFICATIONS_RETRY_1M = "notifications.retry.1m"
    NOTIFICATIONS_RETRY_10M = "notifications.retry.10m"
    NOTIFICATIONS_RETRY_1H = "notifications.retry.1h"
    CALLBACKS_RETRY_10S = "callbacks.retry.10s"
    CALLBACKS_RETRY_1M = "callbacks.retry.1m"
    CALLBACKS_RETRY_10M = "callbacks.retry.10m"
    CALLBACKS_RETRY_1H = "callbacks.retry.1h"
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


#: Retry tiers in order, with the delay a record waits in each (seconds).
NOTIFICATION_RETRY_TIERS: tuple[tuple[Topic, int], ...] = (
    (Topic.NOTIFICATIONS_RETRY_10S, 10),
    (Topic.NOTIFICATIONS_RETRY_1M, 60),
    (Topic.NOTIFICATIONS_RETRY_10M, 600),
    (Topic.NOTIFICATIONS_RETRY_1H, 3600),
)
CALLBACK_RETRY_TIERS: tuple[tuple[Topic, int], ...] = (
    (Topic.CALLBACKS_RETRY_10S, 10),
    (Topic.CALLBACKS_RETRY_1M, 60),
    (Topic.CALLBACKS_RETRY_10M, 600),
    (Topic.CALLBACKS_RETRY_1H, 3600),
)

#: Topics that a Postino consumer reads, and so have a DLQ.
CONSUMED: tuple[Topic, ...] = (
    Topic.SUBMITTED,
    Topic.STATUS,
    Topic.NOTIFICATIONS,
    *(t for t, _ in NOTIFICATION_RETRY_TIERS),
    *(t for t, _ in CALLBACK_RETRY_TIERS),
    Topic.PAYMENTS,
)


def all_topic_names() -> list[str]:
    """Every base topic name, DLQs included: what `postino dev` creates."""
    names = [t.value for t in Topic]
    names += [t.dlq() for t in CONSUMED]
    return names
