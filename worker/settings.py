"""One frozen settings object, built once from `POSTINO_*` variables.

No I/O here, but for one exception: a secret may be given as `POSTINO_<NAME>_FILE`,
the path of a file holding it (a mounted Kubernetes or Docker secret), read once here.

Every value is parsed and checked up front: a bad value stops the process at start
with a `ConfigError` that names the variable, never later in a worker loop.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from schemas.topics import RETRY_TIER_COUNT, Topics

T = TypeVar("T")


class ConfigError(ValueError):
    """A `POSTINO_*` variable has a value Postino cannot use."""


class _Env:
    """Typed reads of `POSTINO_<NAME>` with errors that name the variable."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def raw(self, name: str) -> str | None:
        value = self._env.get(f"POSTINO_{name}")
        return value if value not in (None, "") else None

    def _parse(self, name: str, default: T, parse: Callable[[str], T], what: str) -> T:
        raw = self.raw(name)
        if raw is None:
            return default
        try:
            return parse(raw)
        except ValueError as exc:
            raise ConfigError(f"POSTINO_{name}={raw!r}: expected {what}") from exc

    def text(self, name: str, default: str) -> str:
        return self.raw(name) or default

    def opt_str(self, name: str) -> str | None:
        return self.raw(name)

    def integer(
        self, name: str, default: int, *, minimum: int = 0, maximum: int | None = None
    ) -> int:
        value = self._parse(name, default, int, "an integer")
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"{minimum}..{maximum}" if maximum is not None else f">= {minimum}"
            raise ConfigError(f"POSTINO_{name}={value}: expected an integer {bound}")
        return value

    def number(self, name: str, default: float, *, minimum: float = 0.0) -> float:
        value = self._parse(name, default, float, "a number")
        if value < minimum:
            raise ConfigError(f"POSTINO_{name}={value}: expected a number >= {minimum}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        def parse(raw: str) -> bool:
            lowered = raw.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)

        return self._parse(name, default, parse, "true or false")

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.text(name, default)
        if value not in choices:
            raise ConfigError(f"POSTINO_{name}={value!r}: expected one of {', '.join(choices)}")
        return value

    def timezone(self, name: str, default: str) -> str:
        value = self.text(name, default)
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"POSTINO_{name}={value!r}: expected an IANA time zone") from exc
        return value

    def secret(self, name: str) -> str | None:
        """`POSTINO_<NAME>`, or the content of the file `POSTINO_<NAME>_FILE` names
        (trailing newline dropped); both set is an error."""
        value, path = self.raw(name), self.raw(f"{name}_FILE")
        if path is None:
            return value
        if value is not None:
            raise ConfigError(f"POSTINO_{name} and POSTINO_{name}_FILE: set one, not both")
        try:
            content = Path(path).read_text().rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(f"POSTINO_{name}_FILE={path!r}: cannot read it ({exc})") from exc
        return content or None

    def path(self, name: str) -> str | None:
        """A file that must exist (read later, by the client that needs it)."""
        value = self.raw(name)
        if value is not None and not Path(value).is_file():
            raise ConfigError(f"POSTINO_{name}={value!r}: no such file")
        return value

    def csv(self, name: str) -> tuple[str, ...]:
        raw = self.raw(name)
        if raw is None:
            return ()
        return tuple(part.strip() for part in raw.split(",") if part.strip())


#: Kafka's own `fetch.max.wait.ms`.
KAFKA_FETCH_MAX_WAIT_MS = 500
#: The ingress producer's linger unless `POSTINO_KAFKA_LINGER_MS` says otherwise: Kafka's
#: own producer default since 4.0 (KIP-1030). Each partition's batch gathers for 5 ms,
#: so a record costs the broker a fraction of a batch instead of one of its own.
INGRESS_LINGER_MS = 5


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    #: None: `postino dev` starts the embedded broker and fills this in.
    bootstrap: str | None = None
    topic_prefix: str = ""
    partitions: int = 8
    replication_factor: int = 1
    group_prefix: str = "postino"
    #: "group": Kafka consumer groups (production); "direct": this process owns every
    #: partition, offsets still committed under the group id (dev, tests: no joins).
    assignment: str = "group"
    session_timeout_ms: int = 10000
    heartbeat_interval_ms: int = 1000
    #: How long a fetch waits for data. None: by broker, Kafka's own 500 ms (a real
    #: broker wakes a waiting fetch when data arrives), except the in-memory embedded
    #: broker, which does not: `postino dev` polls it every 20 ms.
    fetch_max_wait_ms: int | None = None
    fetch_min_bytes: int = 1
    max_poll_records: int = 500
    enable_idempotence: bool = False
    #: Producer linger; None: `INGRESS_LINGER_MS` in a process that runs the ingress,
    #: 0 in the others (they publish whole batches at once and wait for them).
    linger_ms: int | None = None
    #: Retry tiers: a partition paused on a record not yet due resumes up to this late
    #: (at most a tenth of the record's own delay), so one fetch takes every record
    #: that came due meanwhile instead of re-reading the tier record by record.
    retry_resume_slack_ms: int = 1000
    #: After a poll batch of fewer than `CONSUMER_LINGER_BELOW` records, a consumer
    #: waits this long before its next poll, so records gather into fewer, larger
    #: fetches and batches (a broker that does not wake a waiting fetch on
    #: `fetch_min_bytes`, like the in-memory embedded one, would otherwise serve a fetch
    #: per few records). 0: poll again at once.
    consumer_linger_ms: int = 0
    #: PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL (Kafka's `security.protocol`).
    security_protocol: str = "PLAINTEXT"
    #: PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512 | OAUTHBEARER, with a SASL_* protocol.
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    #: OAUTHBEARER: a fixed token, or a file re-read at every authentication
    #: (a token that something else rotates, such as a projected service-account token).
    sasl_oauth_token: str | None = None
    sasl_oauth_token_file: str | None = None
    #: TLS (SSL, SASL_SSL): CA bundle (None: the system's), client certificate and key.
    ssl_ca_file: str | None = None
    ssl_cert_file: str | None = None
    ssl_key_file: str | None = None
    ssl_key_password: str | None = None
    #: The topics' full names under `topic_prefix` (derived, built once).
    topics: Topics = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "topics", Topics(self.topic_prefix))

    @property
    def fetch_wait_ms(self) -> int:
        return KAFKA_FETCH_MAX_WAIT_MS if self.fetch_max_wait_ms is None else self.fetch_max_wait_ms

    def producer_linger_ms(self, roles: str) -> int:
        """The linger of the producer of a process running `roles` (names joined by
        '-', as in its client id; `dev` runs them all)."""
        if self.linger_ms is not None:
            return self.linger_ms
        return INGRESS_LINGER_MS if roles == "dev" or "ingress" in roles.split("-") else 0

    def group(self, role: str) -> str:
        return f"{self.group_prefix}.{role}"


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    #: None: `postino dev` starts the embedded PostgreSQL and fills this in.
    url: str | None = None
    pool_min: int = 1
    pool_max: int = 10


@dataclass(frozen=True, slots=True)
class HttpSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 128 * 1024
    #: Proxies whose `X-Forwarded-For` is believed (CIDRs); empty: use the socket peer.
    trusted_proxies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OpsSettings:
    """The ops listener every role serves: `/metrics`, `/healthz`, `/readyz`."""

    host: str = "127.0.0.1"
    #: 0: any free port (tests).
    port: int = 8081
    #: A loop (consumer, timer) silent for longer than this is stalled: `/healthz` 503.
    liveness_seconds: float = 120.0


@dataclass(frozen=True, slots=True)
class LimitSettings:
    default_rate_per_second: int = 100
    default_daily_quota: int = 100_000
    #: How often each ingress flushes its quota counts to PostgreSQL (seconds).
    quota_sync_seconds: float = 1.0
    #: How often each ingress reloads services (keys, states) from PostgreSQL.
    service_refresh_seconds: float = 2.0


@dataclass(frozen=True, slots=True)
class NotifySettings:
    push_url: str | None = None
    push_timeout_seconds: float = 5.0
    smtp_url: str | None = None
    smtp_starttls: bool = False
    smtp_tls: bool = False
    smtp_timeout_seconds: float = 10.0
    #: SMTP connections each notify process keeps (an SMTP session is one conversation:
    #: one e-mail at a time on each).
    smtp_connections: int = 4
    email_from: str = "IO <noreply@postino.local>"
    #: Delays of the retry tiers in seconds (10 s, 1 min, 10 min, 1 h; the last repeats).
    retry_delays: tuple[float, ...] = (10, 60, 600, 3600)
    #: How often the sweeper looks for expired leases and lost retries.
    sweeper_interval_seconds: float = 5.0
    #: A THROTTLED row with no claim whose retry was due this long ago lost its
    #: retry record: the sweeper re-drives it (a safety net; claims use the lease).
    sweeper_grace_seconds: float = 600.0
    #: How long the other instances trust a claim (a send in progress): at least one
    #: send with its in-process retries. A crash delays a notification by at most this.
    lease_seconds: float = 30.0
    #: In-process attempts of one push or SMTP call (tenacity) before a retry tier.
    call_attempts: int = 2


@dataclass(frozen=True, slots=True)
class CallbackSettings:
    timeout_seconds: float = 10.0
    max_age_seconds: int = 24 * 3600
    retry_delays: tuple[float, ...] = (10, 60, 600, 3600)
    #: Attempts in flight at once for one service (a hanging receiver holds no more);
    #: beyond it, that service's events wait briefly in process, then for their copy.
    max_in_flight_per_service: int = 10
    #: Development only: allow http:// and loopback callback URLs.
    allow_loopback: bool = False
    #: Ports a callback (or remote content) URL may use; empty: any (dev's default).
    allowed_ports: tuple[int, ...] = (443, 8443)
    max_in_flight: int = 100
    #: In-process attempts of one webhook POST (tenacity) before a retry tier.
    call_attempts: int = 2
    #: How long a receiver host's DNS answer is reused (still checked at every POST);
    #: 0: looked up for every POST.
    dns_cache_seconds: float = 30.0


@dataclass(frozen=True, slots=True)
class ReminderSettings:
    unread_period_days: int = 3
    unread_max: int = 3
    payment_period_days: int = 3
    payment_max: int = 4
    payment_window_days: int = 13
    window_start_hour: int = 8
    window_end_hour: int = 21
    timezone: str = "Europe/Rome"
    interval_seconds: float = 300.0
    #: A reminder push not delivered within this long is dropped (its `deadline`).
    notification_ttl_seconds: int = 24 * 3600
    #: How often a standby reminders process tries to become the active one.
    standby_poll_seconds: float = 2.0
    #: At most this many candidate messages are examined per round.
    round_limit: int = 10_000
    #: Base URL of pagoPA's notice lookup (`GET {url}/payment-requests/{rpt_id}`),
    #: asked before each payment reminder; None: not asked.
    payment_status_url: str | None = None
    #: Its `Ocp-Apim-Subscription-Key`.
    payment_status_key: str | None = None
    #: Timeout of one lookup (past it the reminder goes as without the lookup).
    payment_status_timeout_seconds: float = 5.0


@dataclass(frozen=True, slots=True)
class RemoteContentSettings:
    """Calls to senders for remote content and attachments (IO-RULES 7). The SSRF
    rules are the callbacks' (`callbacks.allow_loopback` included)."""

    #: Connect and read timeout of one call (an attachment may take longer in total,
    #: as long as bytes keep coming).
    timeout_seconds: float = 5.0
    #: Largest attachment streamed to a citizen.
    attachment_max_bytes: int = 10 * 1024 * 1024
    #: Largest JSON answer (details, precondition) read from a sender.
    json_max_bytes: int = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    #: The operator console's figures are at most this old (one refresher per ingress).
    refresh_seconds: float = 3.0
    #: Every process adds its counters' increments to `console_flow` this often (0: never).
    sample_seconds: float = 1.0
    #: Notification and callback attempts are kept this long for "where is my message?".
    retention_days: int = 7


@dataclass(frozen=True, slots=True)
class Settings:
    profile: str = "dev"
    data_dir: Path = Path("var")
    log_level: str = "info"
    log_format: str = "json"
    #: The event loop every process runs on: "uvloop" (libuv, faster I/O) or "asyncio".
    event_loop: str = "uvloop"
    #: None: `postino dev` generates one and prints it.
    admin_token: str | None = None
    #: Secret that signs message ids, so the status route can tell an id it issued
    #: from one it never did. Every ingress process must share it.
    id_secret: str | None = None
    #: Key of the fiscal-code tags in logs (`logs.mask`); None: the id secret.
    log_mask_secret: str | None = None
    session_ttl_seconds: int = 24 * 3600
    #: Names this process among the instances of its role (claims' owner); unique per
    #: running process. Default: the host name.
    instance_id: str = "postino"
    #: The broker `postino dev` starts when no bootstrap is given: "memory" (fast, gone
    #: on restart) or "durable" (Tansu on a local SeaweedFS: survives restarts, slower).
    embedded_broker: str = "memory"
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    limits: LimitSettings = field(default_factory=LimitSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)
    callbacks: CallbackSettings = field(default_factory=CallbackSettings)
    reminders: ReminderSettings = field(default_factory=ReminderSettings)
    remote_content: RemoteContentSettings = field(default_factory=RemoteContentSettings)
    ops: OpsSettings = field(default_factory=OpsSettings)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)


def _delays(env: _Env, name: str, default: tuple[float, ...]) -> tuple[float, ...]:
    raw = env.csv(name)
    if not raw:
        return default
    try:
        delays = tuple(float(part) for part in raw)
    except ValueError as exc:
        raise ConfigError(f"POSTINO_{name}: expected comma-separated seconds") from exc
    if any(d <= 0 for d in delays):
        raise ConfigError(f"POSTINO_{name}: every delay must be > 0")
    if len(delays) > RETRY_TIER_COUNT:
        raise ConfigError(f"POSTINO_{name}: at most {RETRY_TIER_COUNT} delays, one per retry tier")
    return delays


def _kafka(env: _Env, profile: str) -> KafkaSettings:
    return KafkaSettings(
        bootstrap=env.opt_str("KAFKA_BOOTSTRAP"),
        topic_prefix=env.text("TOPIC_PREFIX", ""),
        partitions=env.integer("KAFKA_PARTITIONS", 8, minimum=1, maximum=1024),
        replication_factor=env.integer("KAFKA_REPLICATION_FACTOR", 1, minimum=1, maximum=16),
        group_prefix=env.text("KAFKA_GROUP_PREFIX", "postino"),
        assignment=env.choice(
            "KAFKA_ASSIGNMENT", "direct" if profile == "dev" else "group", ("group", "direct")
        ),
        session_timeout_ms=env.integer("KAFKA_SESSION_TIMEOUT_MS", 10000, minimum=1000),
        heartbeat_interval_ms=env.integer("KAFKA_HEARTBEAT_INTERVAL_MS", 1000, minimum=100),
        fetch_max_wait_ms=(
            None
            if env.raw("KAFKA_FETCH_MAX_WAIT_MS") is None
            else env.integer("KAFKA_FETCH_MAX_WAIT_MS", KAFKA_FETCH_MAX_WAIT_MS, minimum=0)
        ),
        fetch_min_bytes=env.integer("KAFKA_FETCH_MIN_BYTES", 1, minimum=1),
        max_poll_records=env.integer("KAFKA_MAX_POLL_RECORDS", 500, minimum=1),
        enable_idempotence=env.flag("KAFKA_ENABLE_IDEMPOTENCE", profile == "production"),
        linger_ms=(
            None
            if env.raw("KAFKA_LINGER_MS") is None
            else env.integer("KAFKA_LINGER_MS", 0, minimum=0, maximum=1000)
        ),
        retry_resume_slack_ms=env.integer("KAFKA_RETRY_RESUME_SLACK_MS", 1000, minimum=0),
        consumer_linger_ms=env.integer("KAFKA_CONSUMER_LINGER_MS", 0, minimum=0, maximum=1000),
        **_kafka_security(env),
    )


_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")
_SASL_KEYS = (
    "sasl_mechanism",
    "sasl_username",
    "sasl_password",
    "sasl_oauth_token",
    "sasl_oauth_token_file",
)


def _kafka_security(env: _Env) -> dict[str, Any]:
    """TLS and SASL options, checked together: what a protocol needs is present, and
    nothing is set that the chosen protocol would silently ignore."""
    protocol = env.choice("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT", _PROTOCOLS)
    found: dict[str, Any] = {
        "security_protocol": protocol,
        "sasl_mechanism": env.raw("KAFKA_SASL_MECHANISM")
        and env.choice("KAFKA_SASL_MECHANISM", "PLAIN", _MECHANISMS),
        "sasl_username": env.secret("KAFKA_SASL_USERNAME"),
        "sasl_password": env.secret("KAFKA_SASL_PASSWORD"),
        "sasl_oauth_token": env.raw("KAFKA_SASL_OAUTH_TOKEN"),
        "sasl_oauth_token_file": env.path("KAFKA_SASL_OAUTH_TOKEN_FILE"),
        "ssl_ca_file": env.path("KAFKA_SSL_CA_FILE"),
        "ssl_cert_file": env.path("KAFKA_SSL_CERT_FILE"),
        "ssl_key_file": env.path("KAFKA_SSL_KEY_FILE"),
        "ssl_key_password": env.secret("KAFKA_SSL_KEY_PASSWORD"),
    }
    _check_security(found)
    return found


def _check_security(found: dict[str, Any]) -> None:
    protocol, mechanism = found["security_protocol"], found["sasl_mechanism"]
    sasl, tls = protocol.startswith("SASL_"), protocol.endswith("SSL")
    where = f"with POSTINO_KAFKA_SECURITY_PROTOCOL={protocol}"
    if sasl and mechanism is None:
        raise ConfigError(f"POSTINO_KAFKA_SASL_MECHANISM is required {where}")
    if not sasl:
        for key in _SASL_KEYS:
            if found[key] is not None:
                raise ConfigError(f"POSTINO_KAFKA_{key.upper()} is set but unused {where}")
    if not tls:
        for key in ("ssl_ca_file", "ssl_cert_file", "ssl_key_file", "ssl_key_password"):
            if found[key] is not None:
                raise ConfigError(f"POSTINO_KAFKA_{key.upper()} is set but unused {where}")
    if (found["ssl_cert_file"] is None) != (found["ssl_key_file"] is None):
        raise ConfigError("POSTINO_KAFKA_SSL_CERT_FILE and _KEY_FILE go together")
    if mechanism == "OAUTHBEARER":
        if (found["sasl_oauth_token"] is None) == (found["sasl_oauth_token_file"] is None):
            raise ConfigError(
                "OAUTHBEARER needs one of POSTINO_KAFKA_SASL_OAUTH_TOKEN or _TOKEN_FILE"
            )
    elif sasl and (found["sasl_username"] is None or found["sasl_password"] is None):
        raise ConfigError(f"POSTINO_KAFKA_SASL_USERNAME and _PASSWORD are required for {mechanism}")


def _ports(env: _Env, name: str, profile: str) -> tuple[int, ...]:
    """Comma-separated ports, or `any`; default 443 and 8443 outside dev, any in dev."""
    raw = env.raw(name)
    if raw is None:
        return () if profile == "dev" else (443, 8443)
    if raw.strip().lower() == "any":
        return ()
    try:
        ports = tuple(int(part) for part in env.csv(name))
    except ValueError as exc:
        raise ConfigError(f"POSTINO_{name}={raw!r}: expected ports (1..65535) or any") from exc
    if not ports or any(not 1 <= p <= 65535 for p in ports):
        raise ConfigError(f"POSTINO_{name}={raw!r}: expected ports (1..65535) or any")
    return ports


def _sections(env: _Env, profile: str) -> dict[str, Any]:
    return {
        "database": DatabaseSettings(
            url=env.secret("DATABASE_URL"),
            pool_min=env.integer("DATABASE_POOL_MIN", 1, minimum=1),
            pool_max=env.integer("DATABASE_POOL_MAX", 10, minimum=1),
        ),
        "http": HttpSettings(
            host=env.text("HTTP_HOST", "127.0.0.1"),
            port=env.integer("HTTP_PORT", 8080, minimum=0, maximum=65535),
            max_body_bytes=env.integer("HTTP_MAX_BODY_BYTES", 128 * 1024, minimum=1024),
            trusted_proxies=env.csv("TRUSTED_PROXIES"),
        ),
        "limits": LimitSettings(
            default_rate_per_second=env.integer("DEFAULT_RATE_PER_SECOND", 100, minimum=1),
            default_daily_quota=env.integer("DEFAULT_DAILY_QUOTA", 100_000, minimum=1),
            quota_sync_seconds=env.number("QUOTA_SYNC_SECONDS", 1.0, minimum=0.05),
            service_refresh_seconds=env.number("SERVICE_REFRESH_SECONDS", 2.0, minimum=0.05),
        ),
        "notify": NotifySettings(
            push_url=env.opt_str("PUSH_URL"),
            push_timeout_seconds=env.number("PUSH_TIMEOUT_SECONDS", 5.0, minimum=0.1),
            smtp_url=env.secret("SMTP_URL"),
            smtp_starttls=env.flag("SMTP_STARTTLS", False),
            smtp_tls=env.flag("SMTP_TLS", False),
            smtp_timeout_seconds=env.number("SMTP_TIMEOUT_SECONDS", 10.0, minimum=0.1),
            smtp_connections=env.integer("SMTP_CONNECTIONS", 4, minimum=1, maximum=32),
            email_from=env.text("EMAIL_FROM", "IO <noreply@postino.local>"),
            retry_delays=_delays(env, "NOTIFY_RETRY_DELAYS", (10, 60, 600, 3600)),
            sweeper_interval_seconds=env.number("SWEEPER_INTERVAL_SECONDS", 5.0, minimum=0.1),
            sweeper_grace_seconds=env.number("SWEEPER_GRACE_SECONDS", 600.0, minimum=0.0),
            lease_seconds=env.number("NOTIFY_LEASE_SECONDS", 30.0, minimum=1.0),
            call_attempts=env.integer("NOTIFY_CALL_ATTEMPTS", 2, minimum=1, maximum=5),
        ),
        "remote_content": RemoteContentSettings(
            timeout_seconds=env.number("REMOTE_CONTENT_TIMEOUT_SECONDS", 5.0, minimum=0.1),
            attachment_max_bytes=env.integer(
                "ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024, minimum=1024
            ),
            json_max_bytes=env.integer("REMOTE_CONTENT_JSON_MAX_BYTES", 1024 * 1024, minimum=1024),
        ),
        "callbacks": CallbackSettings(
            timeout_seconds=env.number("CALLBACK_TIMEOUT_SECONDS", 10.0, minimum=0.1),
            max_age_seconds=env.integer("CALLBACK_MAX_AGE_SECONDS", 24 * 3600, minimum=1),
            retry_delays=_delays(env, "CALLBACK_RETRY_DELAYS", (10, 60, 600, 3600)),
            allow_loopback=env.flag("CALLBACK_ALLOW_LOOPBACK", False),
            allowed_ports=_ports(env, "CALLBACK_ALLOWED_PORTS", profile),
            max_in_flight=env.integer("CALLBACK_MAX_IN_FLIGHT", 100, minimum=1),
            max_in_flight_per_service=env.integer(
                "CALLBACK_MAX_IN_FLIGHT_PER_SERVICE", 10, minimum=1
            ),
            call_attempts=env.integer("CALLBACK_CALL_ATTEMPTS", 2, minimum=1, maximum=5),
            dns_cache_seconds=env.number("CALLBACK_DNS_CACHE_SECONDS", 30.0, minimum=0.0),
        ),
        "reminders": ReminderSettings(
            unread_period_days=env.integer("REMINDER_UNREAD_PERIOD_DAYS", 3, minimum=1),
            unread_max=env.integer("REMINDER_UNREAD_MAX", 3, minimum=0),
            payment_period_days=env.integer("REMINDER_PAYMENT_PERIOD_DAYS", 3, minimum=1),
            payment_max=env.integer("REMINDER_PAYMENT_MAX", 4, minimum=0),
            payment_window_days=env.integer("REMINDER_PAYMENT_WINDOW_DAYS", 13, minimum=1),
            window_start_hour=env.integer("REMINDER_WINDOW_START_HOUR", 8, minimum=0, maximum=23),
            window_end_hour=env.integer("REMINDER_WINDOW_END_HOUR", 21, minimum=1, maximum=24),
            timezone=env.timezone("REMINDER_TIMEZONE", "Europe/Rome"),
            interval_seconds=env.number("REMINDER_INTERVAL_SECONDS", 300.0, minimum=0.1),
            notification_ttl_seconds=env.integer(
                "REMINDER_NOTIFICATION_TTL_SECONDS", 24 * 3600, minimum=60
            ),
            standby_poll_seconds=env.number("REMINDER_STANDBY_POLL_SECONDS", 2.0, minimum=0.05),
            round_limit=env.integer("REMINDER_ROUND_LIMIT", 10_000, minimum=1),
        ),
        "console": ConsoleSettings(
            refresh_seconds=env.number("CONSOLE_REFRESH_SECONDS", 3.0, minimum=0.2),
            sample_seconds=env.number("CONSOLE_SAMPLE_SECONDS", 1.0, minimum=0.0),
            retention_days=env.integer("CONSOLE_RETENTION_DAYS", 7, minimum=1),
        ),
    }


#: A production secret needs at least this many characters.
MIN_SECRET_LENGTH = 32


def _weak(secret: str) -> bool:
    return len(secret) < MIN_SECRET_LENGTH or secret.strip().lower().startswith("change-me")


def check_production(settings: Settings) -> None:
    """The production profile refuses weak settings, naming the variable (never its value)."""
    if settings.profile != "production":
        return
    secrets = (
        ("ADMIN_TOKEN", settings.admin_token),
        ("ID_SECRET", settings.id_secret),
        ("LOG_MASK_SECRET", settings.log_mask_secret),
    )
    for name, value in secrets:
        if value is not None and _weak(value):
            raise ConfigError(
                f"POSTINO_{name}: too weak for the production profile (at least"
                f" {MIN_SECRET_LENGTH} characters, not a change-me placeholder)"
            )
    if settings.callbacks.allow_loopback:
        raise ConfigError(
            "POSTINO_CALLBACK_ALLOW_LOOPBACK=true: refused in the production profile"
            " (http and loopback callbacks are for development)"
        )


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from the environment (or the mapping given, for tests).
    The production profile refuses weak secrets and loopback callbacks."""
    settings = _load(_Env(os.environ if environ is None else environ))
    check_production(settings)
    return settings


def _load(env: _Env) -> Settings:
    profile = env.choice("PROFILE", "dev", ("dev", "production"))
    return Settings(
        profile=profile,
        data_dir=Path(env.text("DATA_DIR", "var")),
        log_level=env.choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error")),
        log_format=env.choice("LOG_FORMAT", "json", ("json", "console")),
        event_loop=env.choice("EVENT_LOOP", "uvloop", ("uvloop", "asyncio")),
        admin_token=env.secret("ADMIN_TOKEN"),
        id_secret=env.secret("ID_SECRET"),
        log_mask_secret=env.secret("LOG_MASK_SECRET"),
        session_ttl_seconds=env.integer("SESSION_TTL_SECONDS", 24 * 3600, minimum=60),
        instance_id=env.text("INSTANCE_ID", socket.gethostname() or "postino"),
        embedded_broker=env.choice("EMBEDDED_BROKER", "memory", ("memory", "durable")),
        kafka=_kafka(env, profile),
        ops=_ops(env),
        **_sections(env, profile),
    )


def _ops(env: _Env) -> OpsSettings:
    return OpsSettings(
        # Where the HTTP ingress listens unless told otherwise (0.0.0.0 in a container).
        host=env.text("OPS_HOST", env.text("HTTP_HOST", "127.0.0.1")),
        port=env.integer("OPS_PORT", 8081, minimum=0, maximum=65535),
        liveness_seconds=env.number("OPS_LIVENESS_SECONDS", 120.0, minimum=1.0),
    )
