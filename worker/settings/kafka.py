"""The Kafka section: the brokers, topics, consumer groups, producer and client
security (TLS, SASL) of every role."""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.topics import Topics
from worker.settings.declare import (
    ConfigError,
    choice,
    existing_file,
    flag,
    integer,
    setting,
    text,
)

#: Kafka's own `fetch.max.wait.ms`.
KAFKA_FETCH_MAX_WAIT_MS = 500
#: The ingress producer's linger unless `POSTINO_KAFKA_LINGER_MS` says otherwise: Kafka's
#: own producer default since 4.0 (KIP-1030). Each partition's batch gathers for 5 ms,
#: so a record costs the broker a fraction of a batch instead of one of its own.
INGRESS_LINGER_MS = 5

_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")
_SASL_KEYS = (
    "sasl_mechanism",
    "sasl_username",
    "sasl_password",
    "sasl_oauth_token",
    "sasl_oauth_token_file",
)
_SSL_KEYS = ("ssl_ca_file", "ssl_cert_file", "ssl_key_file", "ssl_key_password")


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    """Security applies to every producer, consumer and admin client of every role
    (client id `postino-<role>`). Broker certificates and host names are always
    verified; an option the chosen protocol would ignore is refused at start."""

    bootstrap: str | None = setting(
        "POSTINO_KAFKA_BOOTSTRAP",
        None,
        text(),
        "bootstrap servers, `host:port[,host:port...]`; required outside `postino dev`",
        shown="unset (dev: the embedded broker)",
    )
    topic_prefix: str = setting(
        "POSTINO_TOPIC_PREFIX", "", text(), "prefix of every topic name (tests use a fresh one)"
    )
    partitions: int = setting(
        "POSTINO_KAFKA_PARTITIONS", 8, integer(1, 1024), "partitions of the topics Postino creates"
    )
    replication_factor: int = setting(
        "POSTINO_KAFKA_REPLICATION_FACTOR",
        1,
        integer(1, 16),
        "replication factor of the topics Postino creates",
    )
    group_prefix: str = setting(
        "POSTINO_KAFKA_GROUP_PREFIX", "postino", text(), "consumer group ids are `<prefix>.<role>`"
    )
    assignment: str = setting(
        "POSTINO_KAFKA_ASSIGNMENT",
        "group",
        choice("group", "direct"),
        "`group`: Kafka consumer groups; `direct`: this process owns every partition"
        " (offsets still committed under the group id; no rebalances)",
        profiles={"dev": "direct"},
    )
    session_timeout_ms: int = setting(
        "POSTINO_KAFKA_SESSION_TIMEOUT_MS", 10000, integer(1000), "consumer group session timeout"
    )
    heartbeat_interval_ms: int = setting(
        "POSTINO_KAFKA_HEARTBEAT_INTERVAL_MS",
        1000,
        integer(100),
        "consumer group heartbeat interval",
    )
    #: None: by broker, Kafka's own 500 ms (Apache Kafka wakes a waiting fetch when data
    #: arrives), except Tansu in memory (the embedded broker without Java), which does
    #: not: `postino dev`, the tests and the bench poll it every 20 ms.
    fetch_max_wait_ms: int | None = setting(
        "POSTINO_KAFKA_FETCH_MAX_WAIT_MS",
        None,
        integer(0),
        "how long a fetch waits for data",
        shown=f"by broker: `{KAFKA_FETCH_MAX_WAIT_MS}` (Kafka's), `20` on Tansu in memory",
    )
    fetch_min_bytes: int = setting(
        "POSTINO_KAFKA_FETCH_MIN_BYTES", 1, integer(1), "the least data a fetch waits for"
    )
    max_poll_records: int = setting(
        "POSTINO_KAFKA_MAX_POLL_RECORDS", 500, integer(1), "most records per batch given a role"
    )
    enable_idempotence: bool = setting(
        "POSTINO_KAFKA_ENABLE_IDEMPOTENCE",
        False,
        flag(),
        "idempotent producer",
        profiles={"production": True},
    )
    #: None: `INGRESS_LINGER_MS` in a process that runs the ingress, 0 in the others
    #: (they publish whole batches at once and wait for them).
    linger_ms: int | None = setting(
        "POSTINO_KAFKA_LINGER_MS",
        None,
        integer(0, 1000),
        "producer linger (batching delay)",
        shown=f"`{INGRESS_LINGER_MS}` in a process running the ingress, `0` in the others",
    )
    #: Retry tiers: a partition paused on a record not yet due resumes up to this late
    #: (at most a tenth of the record's own delay), so one fetch takes every record
    #: that came due meanwhile instead of re-reading the tier record by record.
    retry_resume_slack_ms: int = setting(
        "POSTINO_KAFKA_RETRY_RESUME_SLACK_MS",
        1000,
        integer(0),
        "a retry tier waiting for its next due record resumes up to this late",
    )
    #: After a small poll batch, so records gather into fewer, larger fetches (Tansu in
    #: memory, which does not wake a waiting fetch on `fetch_min_bytes`, would otherwise
    #: serve a fetch per few records; Apache Kafka needs none: 0).
    consumer_linger_ms: int = setting(
        "POSTINO_KAFKA_CONSUMER_LINGER_MS",
        0,
        integer(0, 1000),
        "after a small poll batch, wait this long before the next poll (0: at once)",
    )
    security_protocol: str = setting(
        "POSTINO_KAFKA_SECURITY_PROTOCOL",
        "PLAINTEXT",
        choice(*_PROTOCOLS),
        "Kafka's `security.protocol`",
    )
    sasl_mechanism: str | None = setting(
        "POSTINO_KAFKA_SASL_MECHANISM",
        None,
        choice(*_MECHANISMS),
        "SASL mechanism; required with `SASL_*`",
    )
    sasl_username: str | None = setting(
        "POSTINO_KAFKA_SASL_USERNAME", None, text(), "SASL user (PLAIN, SCRAM)", secret=True
    )
    sasl_password: str | None = setting(
        "POSTINO_KAFKA_SASL_PASSWORD", None, text(), "SASL password (PLAIN, SCRAM)", secret=True
    )
    sasl_oauth_token: str | None = setting(
        "POSTINO_KAFKA_SASL_OAUTH_TOKEN", None, text(), "OAUTHBEARER: a fixed bearer token"
    )
    sasl_oauth_token_file: str | None = setting(
        "POSTINO_KAFKA_SASL_OAUTH_TOKEN_FILE",
        None,
        existing_file(),
        "OAUTHBEARER: a file holding the token, re-read at every authentication",
    )
    ssl_ca_file: str | None = setting(
        "POSTINO_KAFKA_SSL_CA_FILE",
        None,
        existing_file(),
        "PEM bundle of the CAs that sign the brokers' certificates",
        shown="unset (the system's CAs)",
    )
    ssl_cert_file: str | None = setting(
        "POSTINO_KAFKA_SSL_CERT_FILE",
        None,
        existing_file(),
        "client certificate (PEM) for mutual TLS; goes with the key file",
    )
    ssl_key_file: str | None = setting(
        "POSTINO_KAFKA_SSL_KEY_FILE", None, existing_file(), "client private key (PEM)"
    )
    ssl_key_password: str | None = setting(
        "POSTINO_KAFKA_SSL_KEY_PASSWORD",
        None,
        text(),
        "password of an encrypted client key",
        secret=True,
    )
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

    def check(self) -> None:
        """What the protocol needs is present, and nothing is set that it would ignore."""
        protocol, mechanism = self.security_protocol, self.sasl_mechanism
        sasl, tls = protocol.startswith("SASL_"), protocol.endswith("SSL")
        where = f"with POSTINO_KAFKA_SECURITY_PROTOCOL={protocol}"
        if sasl and mechanism is None:
            raise ConfigError(f"POSTINO_KAFKA_SASL_MECHANISM is required {where}")
        unused = (() if sasl else _SASL_KEYS) + (() if tls else _SSL_KEYS)
        for key in unused:
            if getattr(self, key) is not None:
                raise ConfigError(f"POSTINO_KAFKA_{key.upper()} is set but unused {where}")
        if (self.ssl_cert_file is None) != (self.ssl_key_file is None):
            raise ConfigError("POSTINO_KAFKA_SSL_CERT_FILE and _KEY_FILE go together")
        if mechanism == "OAUTHBEARER":
            if (self.sasl_oauth_token is None) == (self.sasl_oauth_token_file is None):
                raise ConfigError(
                    "OAUTHBEARER needs one of POSTINO_KAFKA_SASL_OAUTH_TOKEN or _TOKEN_FILE"
                )
        elif sasl and (self.sasl_username is None or self.sasl_password is None):
            raise ConfigError(
                f"POSTINO_KAFKA_SASL_USERNAME and _PASSWORD are required for {mechanism}"
            )
