"""What the production profile refuses, beyond each value's own parse.

Every refusal names the variable, never its value:
- weak secrets: shorter than `MIN_SECRET_LENGTH`, a placeholder (`change-me...`,
  `<set-...>`, `...example...`), or too little entropy (`"a" * 32`);
- loopback and `http://` callbacks (`POSTINO_CALLBACK_ALLOW_LOOPBACK`);
- e-mail in clear: the relay needs `smtps://`, `POSTINO_SMTP_TLS` or
  `POSTINO_SMTP_STARTTLS` (credentials and citizens' addresses travel on it);
- Kafka in clear (`PLAINTEXT`, or `SASL_PLAINTEXT` with `PLAIN`, which sends the
  password as it is) unless `POSTINO_KAFKA_ALLOW_PLAINTEXT` says the network allows it;
- a database without a verified TLS connection: `sslmode=verify-full`, or `require`
  with `POSTINO_DATABASE_SSLMODE_REASON` saying why the certificate goes unchecked;
- an `http://` push gateway.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from worker.settings.declare import ConfigError
from worker.settings.smtp_url import parse_smtp_url

if TYPE_CHECKING:
    from worker.settings.root import Settings

#: A production secret needs at least this many characters...
MIN_SECRET_LENGTH = 32
#: ...and about this many bits of entropy, estimated from its own characters (a
#: random 32-character hex string has ~115; `"a" * 32` has none).
MIN_SECRET_BITS = 80
_PLACEHOLDER = re.compile(r"change-?me|<[^>]*>|\bset-|placeholder|example|secret-here", re.I)


def entropy_bits(secret: str) -> float:
    """Shannon entropy of the secret's characters times its length (an estimate: a
    human-chosen phrase scores higher than it deserves, a repeated one lower)."""
    counts = Counter(secret)
    total = len(secret)
    per_char = -sum(n / total * math.log2(n / total) for n in counts.values())
    return per_char * total


def weak(secret: str) -> bool:
    return (
        len(secret) < MIN_SECRET_LENGTH
        or _PLACEHOLDER.search(secret) is not None
        or entropy_bits(secret) < MIN_SECRET_BITS
    )


def _check_secrets(settings: Settings) -> None:
    secrets = (
        ("ADMIN_TOKEN", settings.admin_token),
        ("ID_SECRET", settings.id_secret),
        ("LOG_MASK_SECRET", settings.log_mask_secret),
    )
    for name, value in secrets:
        if value is not None and weak(value):
            raise ConfigError(
                f"POSTINO_{name}: too weak for the production profile (at least"
                f" {MIN_SECRET_LENGTH} random characters, about {MIN_SECRET_BITS} bits;"
                " not a placeholder)"
            )


def _check_smtp(settings: Settings) -> None:
    notify = settings.notify
    if notify.smtp_url is None:
        return
    target = parse_smtp_url(notify.smtp_url, starttls=notify.smtp_starttls, tls=notify.smtp_tls)
    if not target.encrypted:
        raise ConfigError(
            "POSTINO_SMTP_URL: e-mail in clear is refused in the production profile; use"
            " smtps://, POSTINO_SMTP_TLS=true or POSTINO_SMTP_STARTTLS=true"
        )


def _check_kafka(settings: Settings) -> None:
    kafka = settings.kafka
    clear = kafka.security_protocol == "PLAINTEXT" or (
        kafka.security_protocol == "SASL_PLAINTEXT" and kafka.sasl_mechanism == "PLAIN"
    )
    if clear and not kafka.allow_plaintext:
        raise ConfigError(
            f"POSTINO_KAFKA_SECURITY_PROTOCOL={kafka.security_protocol}: records (and a PLAIN"
            " password) in clear are refused in the production profile; use SSL or SASL_SSL,"
            " or set POSTINO_KAFKA_ALLOW_PLAINTEXT=true for a broker on a private network"
        )


def _sslmode(url: str) -> str | None:
    try:
        query = parse_qs(urlsplit(url).query)
    except ValueError:
        return None
    modes = query.get("sslmode")
    return modes[-1] if modes else None


def _check_database(settings: Settings) -> None:
    database = settings.database
    if database.url is None:
        return
    mode = _sslmode(database.url)
    if mode == "verify-full" or (mode == "require" and database.sslmode_reason):
        return
    raise ConfigError(
        f"POSTINO_DATABASE_URL: sslmode={mode or '(unset)'} is refused in the production"
        " profile; use sslmode=verify-full, or sslmode=require with"
        " POSTINO_DATABASE_SSLMODE_REASON saying why the certificate goes unchecked"
    )


def check_production(settings: Settings) -> None:
    """The production profile refuses unsafe settings, naming the variable (never its value)."""
    if settings.profile != "production":
        return
    _check_secrets(settings)
    if settings.callbacks.allow_loopback:
        raise ConfigError(
            "POSTINO_CALLBACK_ALLOW_LOOPBACK=true: refused in the production profile"
            " (http and loopback callbacks are for development)"
        )
    push = settings.notify.push_url
    if push is not None and not push.lower().startswith("https://"):
        raise ConfigError("POSTINO_PUSH_URL: the production profile needs an https:// gateway")
    _check_smtp(settings)
    _check_kafka(settings)
    _check_database(settings)
