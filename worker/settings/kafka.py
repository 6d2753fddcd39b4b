"""The Kafka section: the brokers, topics, consumer groups, producer and client
security (TLS, SASL) of every role."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from schemas.topics import Topics
from worker.settings.declare import (
    ConfigError,
    Parser,
    Refused,
    choice,
    existing_file,
    flag,
    integer,
    setting,
    text,
)

#: `POSTINO_KAFKA_COMPRESSION`'s choices (Kafka's `compression.type` names).
COMPRESSIONS = ("none", "gzip", "snappy", "lz4", "zstd")
#: Kafka's own `fetch.max.wait.ms`.
KAFKA_FETCH_MAX_WAIT_MS = 500
#: The ingress producer's linger unless `POSTINO_KAFKA_LINGER_MS` says otherwise: Kafka's
#: own producer default since 4.0 (KIP-1030). Each partition's batch gathers for 5 ms,
#: so a record costs the broker a fraction of a batch instead of one of its own.
INGRESS_LINGER_MS = 5


_EXTENSION_KEY = re.compile(r"[A-Za-z]+")
_EXTENSION_VALUE = re.compile(r"[\x21-\x7e]+")


def extensions() -> Parser[tuple[tuple[str, str], ...]]:
    """RFC 7628 extensions: keys are letters (`auth` is the token's own), values
    printable ASCII without spaces (commas separate the pairs)."""

    def parse(raw: str) -> tuple[tuple[str, str], ...]:
        found = []
        for part in (p.strip() for p in raw.split(",") if p.strip()):
            key, sep, value = part.partition("=")
            if not sep or not _EXTENSION_KEY.fullmatch(key) or key == "auth":
                raise Refused(f"{part!r}: a key of letters (not auth), `=`, a value")
            if not _EXTENSION_VALUE.fullmatch(value):
                raise Refused(f"{part!r}: the value must be printable ASCII without spaces")
            found.append((key, value))
        return tuple(found)

    return Parser("key=value pairs, comma-separated", parse)


def replication() -> Parser[int]:
    def parse(raw: str) -> int:
        value = int(raw)
        if value != -1 and not 1 <= value <= 16:
            raise ValueError(raw)
        return value

    return Parser("-1 (the broker's default) or an integer 1..16", parse)


_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
#: AWS_MSK_IAM: Amazon MSK's IAM access control, spoken as OAUTHBEARER with a token
#: the `msk` extra signs (what AWS gives non-Java clients).
_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "AWS_MSK_IAM")
_SASL_KEYS = (
    "sasl_mechanism",
    "sasl_username",
    "sasl_password",
    "sasl_oauth_token",
    "sasl_oauth_token_file",
    "sasl_oauth_extensions",
    "aws_region",
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
    #: -1: the cluster's `default.replication.factor` (3 on managed clusters), read by
    #: `postino topics` when it creates a topic.
    replication_factor: int = setting(
        "POSTINO_KAFKA_REPLICATION_FACTOR",
        -1,
        replication(),
        "replication factor of the topics Postino creates; `-1`: the broker's default",
    )
    #: Retry tiers and DLQs carry failures only: a few partitions each, not
    #: `partitions` (with 24, the 12 DLQs and 8 tiers alone took 480 partitions).
    retry_partitions: int = setting(
        "POSTINO_KAFKA_RETRY_PARTITIONS",
        4,
        integer(1, 1024),
        "partitions of each retry tier topic Postino creates",
    )
    dlq_partitions: int = setting(
        "POSTINO_KAFKA_DLQ_PARTITIONS",
        1,
        integer(1, 1024),
        "partitions of each dead-letter topic Postino creates",
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
    #: How long the coordinator waits for every member to rejoin a rebalance: a member
    #: first finishes the batch in hand and commits (pushes, webhooks: tens of seconds).
    rebalance_timeout_ms: int = setting(
        "POSTINO_KAFKA_REBALANCE_TIMEOUT_MS",
        60000,
        integer(1000),
        "how long a rebalance waits for members to finish their batch and rejoin",
    )
    #: Below the idle timeouts of cloud middleboxes (Azure's 4 min, AWS NAT's 350 s):
    #: the client closes an idle connection before one drops it silently.
    connections_max_idle_ms: int = setting(
        "POSTINO_KAFKA_CONNECTIONS_MAX_IDLE_MS",
        180000,
        integer(1000),
        "idle connections to brokers are closed after this long",
    )
    metadata_max_age_ms: int = setting(
        "POSTINO_KAFKA_METADATA_MAX_AGE_MS",
        180000,
        integer(1000),
        "cluster metadata (leaders, partitions) is refreshed at least this often",
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
    #: A consumer commits its offsets at most this often after batches (what waits goes
    #: with the next commit, an idle poll, a rebalance or the stop): at a few records
    #: per fetch, a commit per batch is a write to the broker's offsets log per few
    #: records. A crash redoes up to this much more; every handler is idempotent.
    commit_interval_ms: int = setting(
        "POSTINO_KAFKA_COMMIT_INTERVAL_MS",
        1000,
        integer(0, 60_000),
        "consumers commit offsets at most this often while busy (0: after every batch)",
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
    #: Measured with `python -m devkit.bench.codecs` (messages.submitted records, 412
    #: bytes each): in batches of 16, zstd sends 48 bytes a record for 1.7 us to build
    #: and 1.0 us to read (lz4 65 bytes, 1.5/0.4 us; none 412 bytes, 0.8/0.1 us).
    compression: str = setting(
        "POSTINO_KAFKA_COMPRESSION",
        "zstd",
        choice(*COMPRESSIONS),
        "codec of the record batches Postino produces",
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
    allow_plaintext: bool = setting(
        "POSTINO_KAFKA_ALLOW_PLAINTEXT",
        False,
        flag(),
        "production: accept `PLAINTEXT` or `SASL_PLAINTEXT` with `PLAIN` (records and"
        " passwords in clear), for a broker on a private network only",
    )
    sasl_mechanism: str | None = setting(
        "POSTINO_KAFKA_SASL_MECHANISM",
        None,
        choice(*_MECHANISMS),
        "SASL mechanism; required with `SASL_*` (`AWS_MSK_IAM`: Amazon MSK's IAM, with"
        " the `msk` extra)",
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
    #: Confluent Cloud: `logicalCluster=lkc-...,identityPoolId=pool-...`.
    sasl_oauth_extensions: tuple[tuple[str, str], ...] | None = setting(
        "POSTINO_KAFKA_SASL_OAUTH_EXTENSIONS",
        None,
        extensions(),
        "OAUTHBEARER: SASL extensions sent with the token, `key=value,key=value`",
    )
    aws_region: str | None = setting(
        "POSTINO_KAFKA_AWS_REGION",
        None,
        text(),
        "AWS_MSK_IAM: the cluster's AWS region (credentials: the default AWS chain)",
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
        elif self.sasl_oauth_extensions is not None:
            raise ConfigError("POSTINO_KAFKA_SASL_OAUTH_EXTENSIONS go with OAUTHBEARER only")
        if mechanism == "AWS_MSK_IAM":
            self._check_msk(protocol)
        elif self.aws_region is not None:
            raise ConfigError("POSTINO_KAFKA_AWS_REGION goes with AWS_MSK_IAM only")
        elif (
            sasl
            and mechanism != "OAUTHBEARER"
            and (self.sasl_username is None or self.sasl_password is None)
        ):
            raise ConfigError(
                f"POSTINO_KAFKA_SASL_USERNAME and _PASSWORD are required for {mechanism}"
            )

    def _check_msk(self, protocol: str) -> None:
        if protocol != "SASL_SSL":
            raise ConfigError("AWS_MSK_IAM needs POSTINO_KAFKA_SECURITY_PROTOCOL=SASL_SSL")
        if self.aws_region is None:
            raise ConfigError("AWS_MSK_IAM needs POSTINO_KAFKA_AWS_REGION")
        for key in ("sasl_username", "sasl_password", "sasl_oauth_token", "sasl_oauth_token_file"):
            if getattr(self, key) is not None:
                raise ConfigError(f"POSTINO_KAFKA_{key.upper()} is set but unused with AWS_MSK_IAM")
