"""E-mail through aiosmtplib; failures classified once, here.

Retryable: connection errors, timeouts, disconnections and SMTP 4xx answers
(greylisting, mailbox busy). Permanent: SMTP 5xx answers and anything else the
server refuses for good. `POSTINO_SMTP_URL` is `smtp://[user:password@]host:port`
(or `smtps://` for TLS from the first byte); STARTTLS is `POSTINO_SMTP_STARTTLS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import aiosmtplib

from worker.core.errors import PermanentError, RetryableError
from worker.settings import ConfigError, NotifySettings


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    host: str
    port: int
    use_tls: bool
    start_tls: bool
    username: str | None = None
    password: str | None = None


def parse_smtp_url(url: str, *, starttls: bool = False, tls: bool = False) -> SmtpTarget:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError(f"POSTINO_SMTP_URL={url!r}: expected smtp://host:port")
    use_tls = tls or parts.scheme == "smtps"
    return SmtpTarget(
        host=parts.hostname,
        port=parts.port or (465 if use_tls else 25),
        use_tls=use_tls,
        start_tls=starttls and not use_tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def _code_error(code: int, what: str) -> Exception:
    if 400 <= code < 500:
        return RetryableError(f"SMTP {what} {code}")
    return PermanentError(f"SMTP {what} {code}")


class SmtpMailer:
    def __init__(self, settings: NotifySettings) -> None:
        if not settings.smtp_url:
            raise ConfigError("POSTINO_SMTP_URL is required to send e-mail")
        self._target = parse_smtp_url(
            settings.smtp_url, starttls=settings.smtp_starttls, tls=settings.smtp_tls
        )
        self._timeout = settings.smtp_timeout_seconds
        self._sender = settings.email_from

    async def send(self, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        target = self._target
        try:
            await aiosmtplib.send(
                message,
                hostname=target.host,
                port=target.port,
                use_tls=target.use_tls,
                start_tls=target.start_tls,
                username=target.username,
                password=target.password,
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [err.code for err in exc.recipients]
            raise _code_error(max(codes, default=550), "recipient refused") from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise _code_error(exc.code, "answered") from exc
        except (aiosmtplib.SMTPTimeoutError, aiosmtplib.SMTPConnectError) as exc:
            raise RetryableError(f"SMTP server unreachable: {type(exc).__name__}") from exc
        except (aiosmtplib.SMTPServerDisconnected, TimeoutError, OSError) as exc:
            raise RetryableError(f"SMTP connection lost: {type(exc).__name__}") from exc
        except aiosmtplib.SMTPException as exc:
            raise PermanentError(f"SMTP failed: {type(exc).__name__}") from exc
