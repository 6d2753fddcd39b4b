"""The composition root: the one place that chooses and builds the real adapters.

`runtime` opens what a process shares (database pool, Kafka producer, id signer),
waiting for each until reachable; `deps` turns a `Runtime` into each role's
dependencies and `stores` into the ingress's stores. Role modules and ingress handlers
never name an adapter, so tests build the same handlers on in-memory fakes of the
ports (`tests/fakes.py`). Everything is importable from `worker.bootstrap` itself.
"""

from worker.bootstrap.deps import (
    attempt_journal,
    callback_store,
    consumer_runner,
    deliver_deps,
    leader_lock,
    notice_mailer,
    notice_stores,
    notification_store,
    notify_channels,
    payment_status,
    payment_store,
    reminder_store,
    reports_store,
    retention_store,
    sender_client,
    tier_fetch_wait_ms,
    timer_pulse,
    webhook_sender,
)
from worker.bootstrap.runtime import (
    FIRST_PAUSE_SECONDS,
    MAX_PAUSE_SECONDS,
    Runtime,
    Stopped,
    id_secret,
    open_runtime,
    require_endpoints,
    until_reachable,
)
from worker.bootstrap.stores import IngressStores, ingress_stores

__all__ = [
    "FIRST_PAUSE_SECONDS",
    "MAX_PAUSE_SECONDS",
    "IngressStores",
    "Runtime",
    "Stopped",
    "attempt_journal",
    "callback_store",
    "consumer_runner",
    "deliver_deps",
    "id_secret",
    "ingress_stores",
    "leader_lock",
    "notice_mailer",
    "notice_stores",
    "notification_store",
    "notify_channels",
    "open_runtime",
    "payment_status",
    "payment_store",
    "reminder_store",
    "reports_store",
    "require_endpoints",
    "retention_store",
    "sender_client",
    "tier_fetch_wait_ms",
    "timer_pulse",
    "until_reachable",
    "webhook_sender",
]
