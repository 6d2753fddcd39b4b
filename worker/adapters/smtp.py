"""E-mail through aiosmtplib over one kept connection; failures classified once, here.

Each e-mail is multipart/alternative: the text as written (markdown, readable as plain
text) and its sanitized HTML rendering (`mail_html`), with `Date` and a `Message-ID`
under the sender's domain. Its bytes are written directly (`mail_mime`) and sent as
MAIL, RCPT, DATA; only an address beyond plain ASCII goes through the email package and
aiosmtplib's `send_message` (and SMTPUTF8).

Up to `POSTINO_SMTP_CONNECTIONS` SMTP connections per mailer (one mailer per notify
process), each opened on first need and kept open: an SMTP session is one conversation,
so each carries one e-mail at a time, and a send takes an idle one (the most recently
used first) or opens one while fewer are open. A connection the server closed while
idle is reopened at once and the send tried again on it; any other failure closes it,
and a later send opens a fresh one.

Retryable: connection errors, timeouts, disconnections and SMTP 4xx answers
(greylisting, mailbox busy). Permanent: SMTP 5xx answers and anything else the
server refuses for good. `POSTINO_SMTP_URL` is `smtp://[user:password@]host:port`
(or `smtps://` for TLS from the first byte); STARTTLS is `POSTINO_SMTP_STARTTLS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from datetime import UTC, datetime
from email.errors import MessageError
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid, parseaddr

import aiosmtplib
from aiosmtplib.typing import SMTPStatus

from worker.adapters import mail_mime
from worker.adapters.mail_html import html_document
from worker.core.errors import PermanentError, RetryableError
from worker.settings import ConfigError, NotifySettings
from worker.settings.smtp_url import parse_smtp_url


def _code_error(code: int, what: str) -> Exception:
    if 400 <= code < 500:
        return RetryableError(f"SMTP {what} {code}")
    return PermanentError(f"SMTP {what} {code}")


_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]")


def _message_id(key: str | None, domain: str) -> str:
    """The same notification always gets the same Message-ID (RFC 5322 dot-atom)."""
    if key is None:
        return make_msgid(domain=domain)
    return f"<{_ID_UNSAFE.sub('-', key)}@{domain}>"


class _Date:
    """The Date header's value, formatted once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def __call__(self) -> str:
        now = datetime.now(UTC).replace(microsecond=0)
        second = int(now.timestamp())
        if second != self._second:
            self._second, self._text = second, format_datetime(now)
        return self._text


#: What one send puts on the wire: the bytes with their envelope, or (for a recipient
#: address beyond plain ASCII) the email package's message.
Outgoing = tuple[str, str, bytes] | EmailMessage


class SmtpMailer:
    def __init__(self, settings: NotifySettings) -> None:
        if not settings.smtp_url:
            raise ConfigError("POSTINO_SMTP_URL is required to send e-mail")
        self._target = parse_smtp_url(
            settings.smtp_url, starttls=settings.smtp_starttls, tls=settings.smtp_tls
        )
        self._timeout = settings.smtp_timeout_seconds
        self._sender = settings.email_from
        address = parseaddr(settings.email_from)[1]
        self._envelope_from = address
        self._direct = mail_mime.simple_address(address)
        self._from_line = SMTP_POLICY.header_factory("From", settings.email_from).fold(
            policy=SMTP_POLICY
        )
        self._domain = address.rpartition("@")[2] or "postino.local"
        self._date = _Date()
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots = asyncio.Semaphore(settings.smtp_connections)
        self.connections_opened = 0

    def compose(self, to: str, subject: str, body: str, key: str | None = None) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = _message_id(key, self._domain)
        message.set_content(body)
        message.add_alternative(html_document(subject, body), subtype="html")
        return message

    def outgoing(self, to: str, subject: str, body: str, key: str | None = None) -> Outgoing:
        """The e-mail as sent: its bytes (`mail_mime`) for a plain ASCII address."""
        if not (self._direct and mail_mime.simple_address(to)):
            return self.compose(to, subject, body, key)
        headers = (
            f"{self._from_line}To: {to}\r\n"
            f"Subject: {mail_mime.subject_header(subject)}\r\n"
            f"Date: {self._date()}\r\nMessage-ID: {_message_id(key, self._domain)}\r\n"
        )
        data = mail_mime.alternative(headers, body, html_document(subject, body))
        return self._envelope_from, to, data

    async def send(self, to: str, subject: str, body: str, *, key: str | None = None) -> None:
        """Raises `RetryableError` or `PermanentError`. An e-mail the mail library will
        not build or encode (its `ValueError`: a header with a line break, say) is
        permanent: the same data would be refused again."""
        try:
            message = self.outgoing(to, subject, body, key)
        except (ValueError, LookupError, AttributeError, MessageError) as exc:
            # AttributeError: the email package trips on some malformed addresses
            raise PermanentError(f"e-mail not composed: {type(exc).__name__}") from exc
        try:
            async with self._slots:
                await self._send_on_connection(message)
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
        except ValueError as exc:  # the address or the text cannot be encoded as sent
            raise PermanentError(f"e-mail not encoded: {type(exc).__name__}") from exc

    async def _send_on_connection(self, message: Outgoing) -> None:
        """On an idle connection (back to the idle ones after the send, unless it failed)."""
        client = self._idle.pop() if self._idle else None
        if client is not None and not client.is_connected:
            client.close()
            client = None
        try:
            sent = await self._send_or_close(client or await self._open(), message)
        except aiosmtplib.SMTPServerDisconnected:
            if client is None:
                raise
            # the server closed the kept connection while it was idle: not a failure yet
            sent = await self._send_or_close(await self._open(), message)
        self._idle.append(sent)

    async def _send_or_close(self, client: aiosmtplib.SMTP, message: Outgoing) -> aiosmtplib.SMTP:
        try:
            if isinstance(message, EmailMessage):
                await client.send_message(message)
            else:
                await _deliver(client, *message)
        except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPResponseException):
            if await self._reset(client):
                self._idle.append(client)
            raise
        except BaseException:
            client.close()
            raise
        return client

    async def _open(self) -> aiosmtplib.SMTP:
        target = self._target
        client = aiosmtplib.SMTP(
            hostname=target.host,
            port=target.port,
            use_tls=target.use_tls,
            start_tls=target.start_tls,
            username=target.username,
            password=target.password,
            timeout=self._timeout,
            local_hostname=self._domain,
        )
        await client.connect()
        self.connections_opened += 1
        if client.is_ehlo_or_helo_needed:
            await _greet(client)
        return client

    async def _reset(self, client: aiosmtplib.SMTP) -> bool:
        """After a refused message the session goes on; RSET makes sure it starts clean
        (False: it could not, and the connection is closed)."""
        try:
            await client.rset()
        except (aiosmtplib.SMTPException, OSError):
            client.close()
            return False
        return True

    async def stop(self) -> None:
        """Say QUIT and close the idle connections (idempotent; call it once no send
        is in flight)."""
        idle, self._idle = self._idle, []
        for client in idle:
            if client.is_connected:
                with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                    await client.quit()
            client.close()


async def _greet(client: aiosmtplib.SMTP) -> None:
    """EHLO, or HELO from a server that does not speak ESMTP (as `sendmail` would)."""
    try:
        await client.ehlo()
    except aiosmtplib.SMTPHeloError:
        if not client.is_connected:
            raise
        await client.helo()


async def _deliver(client: aiosmtplib.SMTP, sender: str, to: str, data: bytes) -> None:
    """`sendmail`'s conversation for one recipient (MAIL, RCPT, DATA; its errors), less
    its four parses of the two addresses, which `mail_mime.simple_address` vouched for."""
    response = await client.execute_command(b"MAIL", f"FROM:<{sender}>".encode("ascii"))
    if response.code != SMTPStatus.completed:
        raise aiosmtplib.SMTPSenderRefused(response.code, response.message, sender)
    response = await client.execute_command(b"RCPT", f"TO:<{to}>".encode("ascii"))
    if response.code not in (SMTPStatus.completed, SMTPStatus.will_forward):
        refused = aiosmtplib.SMTPRecipientRefused(response.code, response.message, to)
        raise aiosmtplib.SMTPRecipientsRefused([refused])
    await client.data(data)
