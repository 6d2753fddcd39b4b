"""The sections of the settings but Kafka's and delivery's, each setting declared once
(see `declare`)."""

from __future__ import annotations

from dataclasses import dataclass

from worker.settings.declare import (
    integer,
    names,
    number,
    setting,
    text,
    timezone,
)


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    url: str | None = setting(
        "POSTINO_DATABASE_URL",
        None,
        text(),
        "`postgresql://user:password@host:port/db`; required outside `postino dev`",
        secret=True,
        shown="unset (dev: the embedded PostgreSQL)",
    )
    sslmode_reason: str | None = setting(
        "POSTINO_DATABASE_SSLMODE_REASON",
        None,
        text(),
        "production: why `sslmode=require` (no certificate check) is enough here;"
        " without it the database URL needs `sslmode=verify-full`",
    )
    pool_min: int = setting(
        "POSTINO_DATABASE_POOL_MIN", 1, integer(1), "connections kept open per process"
    )
    pool_max: int = setting(
        "POSTINO_DATABASE_POOL_MAX", 10, integer(1), "most connections per process"
    )


@dataclass(frozen=True, slots=True)
class HttpSettings:
    host: str = setting(
        "POSTINO_HTTP_HOST",
        "127.0.0.1",
        text(),
        "address the ingress listens on (`0.0.0.0` in a container)",
    )
    port: int = setting("POSTINO_HTTP_PORT", 8080, integer(0, 65535), "port the ingress listens on")
    max_body_bytes: int = setting(
        "POSTINO_HTTP_MAX_BODY_BYTES", 128 * 1024, integer(1024), "larger request bodies answer 413"
    )
    trusted_proxies: tuple[str, ...] = setting(
        "POSTINO_TRUSTED_PROXIES",
        (),
        names(),
        "CIDRs of the proxies whose `X-Forwarded-For` is believed; empty: the socket peer",
    )
    unknown_token_cache_size: int = setting(
        "POSTINO_UNKNOWN_TOKEN_CACHE_SIZE",
        10_000,
        integer(0),
        "citizen tokens found unknown, remembered per ingress process (0: none)",
    )
    unknown_token_cache_seconds: float = setting(
        "POSTINO_UNKNOWN_TOKEN_CACHE_SECONDS",
        60.0,
        number(0.0),
        "how long an unknown citizen token is answered 401 without a database lookup",
    )


@dataclass(frozen=True, slots=True)
class OpsSettings:
    """The ops listener every role serves: `/metrics`, `/healthz`, `/readyz`."""

    host: str = setting(
        "POSTINO_OPS_HOST",
        "127.0.0.1",
        text(),
        "address the ops listener listens on",
        fallback="POSTINO_HTTP_HOST",
    )
    port: int = setting(
        "POSTINO_OPS_PORT", 8081, integer(0, 65535), "port of the ops listener (0: any free port)"
    )
    liveness_seconds: float = setting(
        "POSTINO_OPS_LIVENESS_SECONDS",
        120.0,
        number(1.0),
        "a loop silent for longer is stalled (`/healthz` 503); a timer gets its interval more",
    )


@dataclass(frozen=True, slots=True)
class LimitSettings:
    default_rate_per_second: int = setting(
        "POSTINO_DEFAULT_RATE_PER_SECOND", 100, integer(1), "a service's submit rate unless its own"
    )
    default_daily_quota: int = setting(
        "POSTINO_DEFAULT_DAILY_QUOTA", 100_000, integer(1), "a service's daily quota unless its own"
    )
    quota_sync_seconds: float = setting(
        "POSTINO_QUOTA_SYNC_SECONDS",
        1.0,
        number(0.05),
        "how often each ingress adds its quota counts to PostgreSQL",
    )
    service_refresh_seconds: float = setting(
        "POSTINO_SERVICE_REFRESH_SECONDS",
        2.0,
        number(0.05),
        "how often each ingress reloads services (keys, states, limits)",
    )
    lookup_rate_per_second: int = setting(
        "POSTINO_LOOKUP_RATE_PER_SECOND",
        50,
        integer(1),
        "profile and status lookups per second of one API key, per ingress process",
    )


@dataclass(frozen=True, slots=True)
class ReminderSettings:
    unread_period_days: int = setting(
        "POSTINO_REMINDER_UNREAD_PERIOD_DAYS", 3, integer(1), "days between unread reminders"
    )
    unread_max: int = setting(
        "POSTINO_REMINDER_UNREAD_MAX", 3, integer(0), "most reminders of one unread message"
    )
    payment_period_days: int = setting(
        "POSTINO_REMINDER_PAYMENT_PERIOD_DAYS", 3, integer(1), "days between payment reminders"
    )
    payment_max: int = setting(
        "POSTINO_REMINDER_PAYMENT_MAX", 4, integer(0), "most payment reminders of one notice"
    )
    payment_window_days: int = setting(
        "POSTINO_REMINDER_PAYMENT_WINDOW_DAYS",
        13,
        integer(1),
        "payment reminders fall only within this many days before the due date",
    )
    window_start_hour: int = setting(
        "POSTINO_REMINDER_WINDOW_START_HOUR", 8, integer(0, 23), "no reminder before this hour"
    )
    window_end_hour: int = setting(
        "POSTINO_REMINDER_WINDOW_END_HOUR", 21, integer(1, 24), "no reminder from this hour on"
    )
    timezone: str = setting(
        "POSTINO_REMINDER_TIMEZONE", "Europe/Rome", timezone(), "time zone of the hours above"
    )
    interval_seconds: float = setting(
        "POSTINO_REMINDER_INTERVAL_SECONDS", 300.0, number(0.1), "time between reminder rounds"
    )
    notification_ttl_seconds: int = setting(
        "POSTINO_REMINDER_NOTIFICATION_TTL_SECONDS",
        24 * 3600,
        integer(60),
        "a reminder push not delivered within this long is dropped (its deadline)",
    )
    standby_poll_seconds: float = setting(
        "POSTINO_REMINDER_STANDBY_POLL_SECONDS",
        2.0,
        number(0.05),
        "how often a standby reminders process tries to become the active one",
    )
    round_limit: int = setting(
        "POSTINO_REMINDER_ROUND_LIMIT", 10_000, integer(1), "most candidates examined per round"
    )
    payment_status_url: str | None = setting(
        "POSTINO_PAGOPA_STATUS_URL",
        None,
        text(),
        "base URL of pagoPA's notice lookup (`GET <url>/payment-requests/<rpt_id>`), asked"
        " before each payment reminder; unset: not asked",
    )
    payment_status_key: str | None = setting(
        "POSTINO_PAGOPA_STATUS_KEY",
        None,
        text(),
        "`Ocp-Apim-Subscription-Key` of the notice lookup",
        secret=True,
    )
    payment_status_timeout_seconds: float = setting(
        "POSTINO_PAGOPA_STATUS_TIMEOUT_SECONDS",
        5.0,
        number(0.1),
        "timeout of one notice lookup (past it the reminder goes as without the lookup)",
    )


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    refresh_seconds: float = setting(
        "POSTINO_CONSOLE_REFRESH_SECONDS",
        3.0,
        number(0.2),
        "the console's figures are at most this old (one refresher per ingress)",
    )
    sample_seconds: float = setting(
        "POSTINO_CONSOLE_SAMPLE_SECONDS",
        1.0,
        number(0.0),
        "how often every process adds its counters' increments to `console_flow` (0: never)",
    )
    retention_days: int = setting(
        "POSTINO_CONSOLE_RETENTION_DAYS",
        7,
        integer(1),
        "notification and callback attempts are kept this long for the message search",
    )


@dataclass(frozen=True, slots=True)
class SenderApiSettings:
    """The rest of IO's sender API: logos and the subscriptions feed."""

    logo_max_bytes: int = setting(
        "POSTINO_LOGO_MAX_BYTES",
        64 * 1024,
        integer(1024),
        "largest logo PNG accepted (bytes); its base64 body must fit the HTTP body limit",
    )
    subscriptions_feed_days: int = setting(
        "POSTINO_SUBSCRIPTIONS_FEED_DAYS",
        30,
        integer(1),
        "days of subscriptions feed kept (a sender reads it every day); older ones are pruned",
    )


@dataclass(frozen=True, slots=True)
class RetentionSettings:
    """What Postino keeps, and for how long (the privacy page of the docs)."""

    message_content_days: int = setting(
        "POSTINO_MESSAGE_CONTENT_RETENTION_DAYS",
        365,
        integer(8, 36500),
        "days a message's content and payment data are kept; then the eraser (run by the"
        " active reminders process) clears them, keeping ids, dates and statuses; at least 8"
        " (longer than the longest time to live)",
    )
    batch_size: int = setting(
        "POSTINO_RETENTION_BATCH_SIZE",
        1000,
        integer(1, 50_000),
        "messages the eraser clears per statement (one short transaction each)",
    )
