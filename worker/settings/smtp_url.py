"""`POSTINO_SMTP_URL` read once: where the relay is, how the connection is secured,
and the relay's credentials. An error names the variable and shows the URL with its
password replaced by `***`: the URL is a secret, and start-up errors end in logs."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from worker.settings.declare import ConfigError

NAME = "POSTINO_SMTP_URL"


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    host: str
    port: int
    #: TLS from the first byte (`smtps://` or `POSTINO_SMTP_TLS`).
    use_tls: bool
    #: Upgraded with STARTTLS (`POSTINO_SMTP_STARTTLS`), when not TLS already.
    start_tls: bool
    username: str | None = None
    password: str | None = None

    @property
    def encrypted(self) -> bool:
        return self.use_tls or self.start_tls


def redacted(url: str) -> str:
    """`url` with the password of its user info replaced by `***`."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "***" if "@" in url else url
    userinfo, at, host = rest.rpartition("@")
    if not at:
        return url
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{host}"


def parse_smtp_url(url: str, *, starttls: bool = False, tls: bool = False) -> SmtpTarget:
    """The relay `url` names; `ConfigError` (the password never shown) otherwise."""
    expected = f"{NAME}={redacted(url)!r}: expected smtp://[user:password@]host[:port]"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ConfigError(expected) from None  # the parser's text may quote the URL
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError(expected)
    use_tls = tls or parts.scheme == "smtps"
    return SmtpTarget(
        host=parts.hostname,
        port=port or (465 if use_tls else 25),
        use_tls=use_tls,
        start_tls=starttls and not use_tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )
