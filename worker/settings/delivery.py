"""The delivery sections: notifications (push, e-mail), callbacks to senders, and calls to
senders for remote content; each setting declared once (see `declare`)."""

from __future__ import annotations

from dataclasses import dataclass

from worker.settings.declare import delays, flag, integer, number, ports, setting, text
from worker.settings.smtp_url import parse_smtp_url

_TIERS = (10.0, 60.0, 600.0, 3600.0)
_TIERS_DOC = "delays of the retry tiers, comma-separated seconds (the last repeats)"


@dataclass(frozen=True, slots=True)
class NotifySettings:
    push_url: str | None = setting(
        "POSTINO_PUSH_URL",
        None,
        text(),
        "push gateway URL (one JSON POST per push); unset: no push channel",
        shown="unset (dev: a local sink)",
    )
    push_timeout_seconds: float = setting(
        "POSTINO_PUSH_TIMEOUT_SECONDS", 5.0, number(0.1), "timeout of one push call"
    )
    smtp_url: str | None = setting(
        "POSTINO_SMTP_URL",
        None,
        text(),
        "`smtp://[user:password@]host:port` or `smtps://...`; unset: no e-mail channel",
        secret=True,
        shown="unset (dev: a local sink)",
    )
    smtp_starttls: bool = setting("POSTINO_SMTP_STARTTLS", False, flag(), "upgrade with STARTTLS")
    smtp_tls: bool = setting("POSTINO_SMTP_TLS", False, flag(), "TLS from the first byte")
    smtp_timeout_seconds: float = setting(
        "POSTINO_SMTP_TIMEOUT_SECONDS", 10.0, number(0.1), "timeout of one SMTP send"
    )
    smtp_connections: int = setting(
        "POSTINO_SMTP_CONNECTIONS",
        4,
        integer(1, 32),
        "SMTP connections each notify process keeps; each carries one e-mail at a time",
    )
    email_from: str = setting(
        "POSTINO_EMAIL_FROM", "IO <noreply@postino.local>", text(), "the `From` of e-mails"
    )
    retry_delays: tuple[float, ...] = setting(
        "POSTINO_NOTIFY_RETRY_DELAYS", _TIERS, delays(), f"notifications: {_TIERS_DOC}"
    )
    sweeper_interval_seconds: float = setting(
        "POSTINO_SWEEPER_INTERVAL_SECONDS",
        5.0,
        number(0.1),
        "how often the sweeper looks for expired leases and lost retries",
    )
    #: A safety net: claims use the lease.
    sweeper_grace_seconds: float = setting(
        "POSTINO_SWEEPER_GRACE_SECONDS",
        600.0,
        number(0.0),
        "an unclaimed notification whose retry was due this long ago is re-driven",
    )
    lease_seconds: float = setting(
        "POSTINO_NOTIFY_LEASE_SECONDS",
        30.0,
        number(1.0),
        "how long other instances trust a claim (a send in progress); a crash delays by this",
    )

    def check(self) -> None:
        """A malformed relay URL stops the process at start (its password never shown)."""
        if self.smtp_url is not None:
            parse_smtp_url(self.smtp_url, starttls=self.smtp_starttls, tls=self.smtp_tls)

    call_attempts: int = setting(
        "POSTINO_NOTIFY_CALL_ATTEMPTS",
        2,
        integer(1, 5),
        "in-process attempts of one push or SMTP call before a retry tier",
    )


@dataclass(frozen=True, slots=True)
class CallbackSettings:
    timeout_seconds: float = setting(
        "POSTINO_CALLBACK_TIMEOUT_SECONDS", 10.0, number(0.1), "timeout of one webhook POST"
    )
    max_age_seconds: int = setting(
        "POSTINO_CALLBACK_MAX_AGE_SECONDS",
        24 * 3600,
        integer(1),
        "retries of an event stop this long after the event",
    )
    retry_delays: tuple[float, ...] = setting(
        "POSTINO_CALLBACK_RETRY_DELAYS", _TIERS, delays(), f"callbacks: {_TIERS_DOC}"
    )
    #: Beyond it, that service's events wait in process (a full queue: their copy).
    max_in_flight_per_service: int = setting(
        "POSTINO_CALLBACK_MAX_IN_FLIGHT_PER_SERVICE",
        10,
        integer(1),
        "attempts in flight at once for one service (a hanging receiver holds no more)",
    )
    allow_loopback: bool = setting(
        "POSTINO_CALLBACK_ALLOW_LOOPBACK",
        False,
        flag(),
        "development only: allow `http://` and loopback callback URLs",
        shown="`false` (`postino dev`: `true`)",
    )
    allowed_ports: tuple[int, ...] = setting(
        "POSTINO_CALLBACK_ALLOWED_PORTS",
        (443, 8443),
        ports(),
        "ports a callback or remote content URL may use (`any`: any)",
        profiles={"dev": ()},
        shown="`443,8443` (dev: `any`)",
    )
    max_in_flight: int = setting(
        "POSTINO_CALLBACK_MAX_IN_FLIGHT", 100, integer(1), "webhook POSTs in flight per process"
    )
    call_attempts: int = setting(
        "POSTINO_CALLBACK_CALL_ATTEMPTS",
        2,
        integer(1, 5),
        "in-process attempts of one webhook POST before a retry tier",
    )
    copy_after_seconds: float = setting(
        "POSTINO_CALLBACK_COPY_AFTER_SECONDS",
        2.0,
        number(0.1),
        "a first attempt still unsettled this long after its event was read gets a retry "
        "copy, and the event's offset may then be committed",
    )
    dns_cache_seconds: float = setting(
        "POSTINO_CALLBACK_DNS_CACHE_SECONDS",
        30.0,
        number(0.0),
        "how long a receiver's DNS answer is reused (checked at every POST; 0: no reuse)",
    )


@dataclass(frozen=True, slots=True)
class RemoteContentSettings:
    """Calls to senders for remote content and attachments. The SSRF rules are the
    callbacks' (`POSTINO_CALLBACK_ALLOW_LOOPBACK` and the allowed ports included)."""

    #: An attachment may take longer in total, as long as bytes keep coming.
    timeout_seconds: float = setting(
        "POSTINO_REMOTE_CONTENT_TIMEOUT_SECONDS",
        5.0,
        number(0.1),
        "connect and per-read timeout of a call to a sender",
    )
    attachment_max_bytes: int = setting(
        "POSTINO_ATTACHMENT_MAX_BYTES",
        10 * 1024 * 1024,
        integer(1024),
        "largest attachment streamed to a citizen",
    )
    json_max_bytes: int = setting(
        "POSTINO_REMOTE_CONTENT_JSON_MAX_BYTES",
        1024 * 1024,
        integer(1024),
        "largest JSON answer (details, precondition) read from a sender",
    )
    deadline_seconds: float = setting(
        "POSTINO_REMOTE_CONTENT_DEADLINE_SECONDS",
        10.0,
        number(0.1),
        "total time of one JSON call to a sender (address check, connection, answer)",
    )
    attachment_deadline_seconds: float = setting(
        "POSTINO_ATTACHMENT_DEADLINE_SECONDS",
        120.0,
        number(0.1),
        "total time of one attachment download; past it the stream is cut",
    )
    connections_per_host: int = setting(
        "POSTINO_REMOTE_CONTENT_CONNECTIONS_PER_HOST",
        8,
        integer(1),
        "connections each ingress process opens at once to one sender's host",
    )
    per_sender: int = setting(
        "POSTINO_REMOTE_CONTENT_PER_SENDER",
        32,
        integer(1),
        "calls to one sender (service) in flight at once per ingress process; more: 429",
    )
    per_citizen: int = setting(
        "POSTINO_REMOTE_CONTENT_PER_CITIZEN",
        4,
        integer(1),
        "remote content calls of one citizen in flight at once per ingress process; more: 429",
    )
