"""Prometheus metrics, one registry per process, served at /metrics by the ingress."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "postino_http_requests_total",
    "HTTP requests answered (status 499: the handler was cancelled before its answer)",
    ["route", "method", "status"],
)
HTTP_SECONDS = Histogram(
    "postino_http_request_seconds",
    "HTTP request latency",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
CONSUMED = Counter("postino_records_consumed_total", "Kafka records consumed", ["role"])
PRODUCED = Counter("postino_records_produced_total", "Kafka records produced", ["role"])
DLQ_RECORDS = Counter("postino_dlq_records_total", "Records sent to a DLQ", ["topic", "code"])
RETRIES = Counter("postino_transient_retries_total", "Transient failures retried", ["role", "what"])
BATCH_SECONDS = Histogram(
    "postino_batch_seconds",
    "Time to process one poll batch",
    ["role"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
)
LAG = Gauge("postino_consumer_lag", "Records behind the high watermark", ["role", "topic"])
MESSAGES = Counter("postino_messages_total", "Messages by final status", ["status"])
NOTIFICATIONS = Counter(
    "postino_notifications_total", "Notification outcomes", ["channel", "status"]
)
CALLBACKS = Counter("postino_callbacks_total", "Sender callback outcomes", ["outcome"])
REMOTE_CONTENT = Counter(
    "postino_remote_content_calls_total",
    "Remote content asked of senders for citizens, by kind and outcome",
    ["kind", "outcome"],
)
ACCEPT_TO_PROCESSED = Histogram(
    "postino_accept_to_processed_seconds",
    "From the ingress's accept to deliver's stored status",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)


LOOPS_STALLED = Gauge(
    "postino_loops_stalled",
    "Loops (consumers, timers) silent past their liveness limit; /healthz is 503 while > 0",
)
LOOP_SILENCE = Gauge(
    "postino_loop_silence_seconds",
    "Seconds since each loop's last heartbeat (set when /metrics is scraped)",
    ["loop"],
)


def count_delivered(statuses: Mapping[str, int], seconds: Iterable[float]) -> None:
    """Messages stored with their final status (`statuses`: how many of each), each
    `seconds` after the ingress accepted it. One label lookup per status, not per message."""
    for status, count in statuses.items():
        MESSAGES.labels(status=status).inc(count)
    for s in seconds:
        ACCEPT_TO_PROCESSED.observe(max(0.0, s))
