"""The settings object every process builds once: general settings and the sections."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from worker.settings.declare import (
    ConfigError,
    choice,
    directory,
    integer,
    section,
    setting,
    text,
)
from worker.settings.delivery import CallbackSettings, NotifySettings, RemoteContentSettings
from worker.settings.kafka import KafkaSettings
from worker.settings.sections import (
    ConsoleSettings,
    DatabaseSettings,
    HttpSettings,
    LimitSettings,
    OpsSettings,
    ReminderSettings,
    RetentionSettings,
    SenderApiSettings,
)


def _host_name() -> str:
    return socket.gethostname() or "postino"


@dataclass(frozen=True, slots=True)
class Settings:
    profile: str = setting(
        "POSTINO_PROFILE",
        "dev",
        choice("dev", "production"),
        "`production` requires the id secret, refuses weak secrets and changes defaults",
    )
    data_dir: Path = setting(
        "POSTINO_DATA_DIR",
        Path("var"),
        directory(),
        "where `postino dev` keeps its databases, id secret, sinks and bench output",
    )
    log_level: str = setting(
        "POSTINO_LOG_LEVEL", "info", choice("debug", "info", "warning", "error"), "log level"
    )
    log_format: str = setting(
        "POSTINO_LOG_FORMAT",
        "json",
        choice("json", "console"),
        "`json` (one object a line) or `console`",
    )
    event_loop: str = setting(
        "POSTINO_EVENT_LOOP",
        "uvloop",
        choice("uvloop", "asyncio"),
        "the event loop of every process (uvloop: libuv, faster I/O)",
    )
    admin_token: str | None = setting(
        "POSTINO_ADMIN_TOKEN",
        None,
        text(),
        "bearer token of the back-office routes; unset: they all answer 401",
        secret=True,
        shown="unset (`postino dev`: generated)",
    )
    id_secret: str | None = setting(
        "POSTINO_ID_SECRET",
        None,
        text(),
        "signs message ids, so the status route knows the ones it issued; shared by every"
        " ingress; required in production",
        secret=True,
        shown="unset (`postino dev`: generated, kept in the data dir)",
    )
    log_mask_secret: str | None = setting(
        "POSTINO_LOG_MASK_SECRET",
        None,
        text(),
        "key of the HMAC that tags fiscal codes in logs (`fc:<hex>`); the same everywhere",
        secret=True,
        shown="unset (the id secret)",
    )
    session_ttl_seconds: int = setting(
        "POSTINO_SESSION_TTL_SECONDS", 24 * 3600, integer(60), "lifetime of a citizen session"
    )
    instance_id: str = setting(
        "POSTINO_INSTANCE_ID",
        "postino",
        text(),
        "names this process among its role's instances (claims' owner); unique per process",
        computed=_host_name,
        shown="the host name",
    )
    embedded_broker: str = setting(
        "POSTINO_EMBEDDED_BROKER",
        "auto",
        choice("auto", "kafka", "memory", "durable"),
        "the broker `postino dev` starts: `kafka` (Apache Kafka, needs Java 17), `memory`"
        " (Tansu, gone on restart), `durable` (Tansu on a local S3), `auto` (Kafka if Java)",
    )
    kafka: KafkaSettings = section(KafkaSettings, "Kafka")
    database: DatabaseSettings = section(DatabaseSettings, "Database")
    http: HttpSettings = section(HttpSettings, "HTTP ingress")
    limits: LimitSettings = section(LimitSettings, "Limits")
    notify: NotifySettings = section(NotifySettings, "Notify (push and e-mail)")
    callbacks: CallbackSettings = section(CallbackSettings, "Callbacks (sender webhooks)")
    reminders: ReminderSettings = section(ReminderSettings, "Reminders")
    remote_content: RemoteContentSettings = section(
        RemoteContentSettings, "Remote content and attachments"
    )
    ops: OpsSettings = section(OpsSettings, "Ops listener")
    console: ConsoleSettings = section(ConsoleSettings, "Operator console")
    retention: RetentionSettings = section(RetentionSettings, "Data retention")
    sender_api: SenderApiSettings = section(SenderApiSettings, "Sender API: logos and feed")

    def check(self) -> None:
        """Settings that only make sense together."""
        logo, body = self.sender_api.logo_max_bytes, self.http.max_body_bytes
        if (logo + 2) // 3 * 4 + 64 > body:  # base64 of the PNG, in `{"logo": "..."}`
            raise ConfigError(
                f"POSTINO_LOGO_MAX_BYTES={logo}: its base64 body must fit"
                f" POSTINO_HTTP_MAX_BODY_BYTES={body}; lower it or raise the body limit"
            )
