"""The SMTP adapter against the dev SMTP sink (aiosmtpd): what a citizen's mailbox gets,
and the connections a mailer keeps."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from collections.abc import AsyncIterator
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from devkit.sinks import DevSinks
from worker.adapters.smtp import SmtpMailer
from worker.core.errors import PermanentError, RetryableError
from worker.settings import NotifySettings

MARKDOWN = (
    "# Tassa sui rifiuti\n\n"
    "Gentile cittadino, l'importo è **120 €**. Paga dal [portale](https://example.org/pay).\n\n"
    "<script>alert('x')</script>\n\n"
    "[Non cliccare](javascript:alert(1))\n"
)


@pytest.fixture
async def sink(tmp_path: Path) -> AsyncIterator[tuple[DevSinks, str]]:
    sinks = DevSinks(tmp_path)
    smtp_url, _ = await sinks.start()
    try:
        yield sinks, smtp_url
    finally:
        await sinks.stop()


@pytest.fixture
async def mailer(sink: tuple[DevSinks, str]) -> AsyncIterator[SmtpMailer]:
    settings = NotifySettings(smtp_url=sink[1], email_from="IO <noreply@io.example.org>")
    mailer = SmtpMailer(settings)
    try:
        yield mailer
    finally:
        await mailer.stop()


def _received(sinks: DevSinks) -> list[EmailMessage]:
    found = []
    for path in sorted(sinks.mail_dir.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        found.append(message)
    return found


async def test_an_email_is_plain_text_and_sanitized_html_with_id_and_date(
    mailer: SmtpMailer, sink: tuple[DevSinks, str]
) -> None:
    await mailer.send("mario.rossi@example.org", "Comune: Tassa sui rifiuti", MARKDOWN)

    [message] = _received(sink[0])
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert text.get_content().replace("\r\n", "\n") == MARKDOWN
    rendered = html.get_content()
    assert "<h1>Tassa sui rifiuti</h1>" in rendered
    assert "<strong>120 €</strong>" in rendered
    assert '<a href="https://example.org/pay" rel="noopener noreferrer">portale</a>' in rendered
    assert "<script" not in rendered and "alert" not in rendered
    assert "javascript" not in rendered and "Non cliccare" in rendered
    assert re.fullmatch(r"<[^@>]+@io\.example\.org>", message["Message-ID"])
    assert parsedate_to_datetime(message["Date"]).tzinfo is not None
    assert message["From"] == "IO <noreply@io.example.org>"


async def test_e_mails_share_one_connection(mailer: SmtpMailer, sink: tuple[DevSinks, str]) -> None:
    for n in range(3):
        await mailer.send(f"citizen{n}@example.org", f"Avviso {n}", "Testo")

    assert len(_received(sink[0])) == 3
    assert mailer.connections_opened == 1
    ids = {m["Message-ID"] for m in _received(sink[0])}
    assert len(ids) == 3


async def test_a_connection_the_server_closed_while_idle_is_reopened_at_once(
    mailer: SmtpMailer, sink: tuple[DevSinks, str]
) -> None:
    await mailer.send("a@example.org", "Uno", "Testo")
    sink[0].drop_connections()

    await mailer.send("b@example.org", "Due", "Testo")

    assert sorted(m["Subject"] for m in _received(sink[0])) == ["Due", "Uno"]
    assert mailer.connections_opened == 2


async def test_after_a_failed_send_the_next_e_mail_opens_a_fresh_connection(
    mailer: SmtpMailer, sink: tuple[DevSinks, str]
) -> None:
    await mailer.send("a@example.org", "Uno", "Testo")
    await sink[0].stop()  # closes the server and the kept connection, as an idle timeout would
    with pytest.raises(RetryableError):
        await mailer.send("b@example.org", "Due", "Testo")

    port = int(sink[1].rsplit(":", 1)[1])
    restarted = DevSinks(sink[0].mail_dir.parent / "restarted", smtp_port=port)
    await restarted.start()
    try:
        await mailer.send("c@example.org", "Tre", "Testo")
    finally:
        await restarted.stop()

    assert [m["Subject"] for m in _received(sink[0])] == ["Uno"]
    assert [m["Subject"] for m in _received(restarted)] == ["Tre"]
    assert mailer.connections_opened == 2


async def test_a_resent_notification_keeps_its_message_id_so_mail_systems_can_drop_it(
    mailer: SmtpMailer, sink: tuple[DevSinks, str]
) -> None:
    for _ in range(2):  # as after a crash between the send and its recorded outcome
        await mailer.send("a@example.org", "Uno", "Testo", key="01M8PGQ:EMAIL:MESSAGE")
    await mailer.send("b@example.org", "Due", "Testo")

    ids = [m["Message-ID"] for m in _received(sink[0])]
    assert len(ids) == 3 and len(set(ids)) == 2
    assert "<01M8PGQ-EMAIL-MESSAGE@io.example.org>" in ids


async def test_concurrent_e_mails_share_at_most_the_configured_connections(
    sink: tuple[DevSinks, str],
) -> None:
    settings = NotifySettings(
        smtp_url=sink[1], email_from="IO <noreply@io.example.org>", smtp_connections=2
    )
    mailer = SmtpMailer(settings)
    try:
        await asyncio.gather(
            *(mailer.send(f"c{n}@example.org", f"Avviso {n}", "Testo") for n in range(6))
        )
        await mailer.send("last@example.org", "Ultimo", "Testo")
    finally:
        await mailer.stop()

    assert len(_received(sink[0])) == 7
    assert mailer.connections_opened == 2


_REFUSED = {b"busy@example.org": b"451 mailbox busy", b"gone@example.org": b"550 no such user"}


class _Refusing(asyncio.Protocol):
    """An SMTP server that refuses some recipients (by address) and some messages (by
    their subject), and keeps the others."""

    def __init__(self, accepted: list[bytes]) -> None:
        self.accepted = accepted
        self.buf = b""
        self.data: bytes | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(b"220 test ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while b"\r\n" in self.buf:
            line, self.buf = self.buf.split(b"\r\n", 1)
            self.transport.write(self._answer(line) or b"")

    def _answer(self, line: bytes) -> bytes | None:
        if self.data is None:
            return self._command(line)
        if line != b".":
            self.data += line + b"\n"
            return None
        message, self.data = self.data, None
        if b"Subject: Rifiutato" in message:
            return b"554 message refused\r\n"
        self.accepted.append(message)
        return b"250 OK\r\n"

    def _command(self, line: bytes) -> bytes:
        verb = line[:4].upper()
        if verb == b"EHLO":
            return b"250-test\r\n250 8BITMIME\r\n"
        if verb == b"RCPT":
            address = line.partition(b"<")[2].partition(b">")[0]
            return _REFUSED.get(address, b"250 OK") + b"\r\n"
        if verb == b"DATA":
            self.data = b""
            return b"354 go on\r\n"
        return b"221 bye\r\n" if verb == b"QUIT" else b"250 OK\r\n"


async def test_refusals_are_classified_and_the_connection_goes_on_after_them() -> None:
    accepted: list[bytes] = []
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Refusing(accepted), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    mailer = SmtpMailer(
        NotifySettings(
            smtp_url=f"smtp://127.0.0.1:{port}", email_from="IO <noreply@io.example.org>"
        )
    )
    try:
        with pytest.raises(PermanentError):
            await mailer.send("gone@example.org", "Uno", "Testo")
        with pytest.raises(RetryableError):
            await mailer.send("busy@example.org", "Due", "Testo")
        with pytest.raises(PermanentError):
            await mailer.send("a@example.org", "Rifiutato", "Testo")
        await mailer.send("b@example.org", "Tre", "Testo")
    finally:
        await mailer.stop()
        server.close()
        await server.wait_closed()

    [message] = accepted
    assert b"To: b@example.org" in message and b"Subject: Tre" in message
    assert mailer.connections_opened == 1
