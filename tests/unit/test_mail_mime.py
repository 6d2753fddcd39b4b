"""The e-mail bytes the mailer writes itself parse back (email.parser) to the same
headers and parts, whatever the subject and the text, and stay 7-bit with short lines."""

from __future__ import annotations

import email.policy
import re
from email.message import EmailMessage
from email.parser import BytesParser

import pytest

from worker.adapters import mail_mime
from worker.adapters.mail_html import html_document
from worker.adapters.smtp import SmtpMailer
from worker.settings import NotifySettings

FROM = "Città di Roma <noreply@io.example.org>"
SUBJECTS = [
    "Avviso",
    "Comune: Tassa sui rifiuti",
    "Comune di Milano: Tassa sui rifiuti 2026, è scaduta",
    "x" * 69,
    "x" * 70,
    "Una frase lunga, " * 12,
    "€" * 40 + "😀" * 30 + "e",
    "an encoded word look-alike =?utf-8?q?hi?= stays as written",
    " leading and trailing spaces ",
    "two  spaces\tand a tab",
    "a line\r\nBcc: someone@example.org",
    "",
]
TEXTS = [
    "Testo",
    "Gentile cittadino, l'importo è **120 €**.\n\n[portale](https://example.org/pay)\n",
    "a very long line " * 100 + "\n",
    ".a line starting with a dot\n.\nFrom the start\ntrailing spaces   \n= signs =3D\n",
    "CRLF\r\nline ends\r\nand a lone CR\rhere",
    f"--{mail_mime.BOUNDARY}\n--{mail_mime.BOUNDARY}--\n",
    "no final line break",
]


def _mailer() -> SmtpMailer:
    return SmtpMailer(NotifySettings(smtp_url="smtp://127.0.0.1:2525", email_from=FROM))


def _parsed(data: bytes) -> EmailMessage:
    message = BytesParser(policy=email.policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    return message


def _lines(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text if text.endswith("\n") else text + "\n"


def _sent(to: str, subject: str, text: str, key: str | None = None) -> bytes:
    outgoing = _mailer().outgoing(to, subject, text, key)
    assert isinstance(outgoing, tuple)
    sender, recipient, data = outgoing
    assert (sender, recipient) == ("noreply@io.example.org", to)
    return data


@pytest.mark.parametrize("subject", SUBJECTS)
def test_the_subject_parses_back_as_written(subject: str) -> None:
    message = _parsed(_sent("mario.rossi@example.org", subject, "Testo"))

    assert message["Subject"] == subject
    assert message["From"] == FROM
    assert message["To"] == "mario.rossi@example.org"
    assert len(message.get_all("Subject", [])) == 1 and message["Bcc"] is None


@pytest.mark.parametrize("text", TEXTS)
def test_both_parts_parse_back_as_written(text: str) -> None:
    subject = "Comune: è scaduta"
    message = _parsed(_sent("a@example.org", subject, text, key="01M8PGQ:EMAIL:MESSAGE"))

    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    plain, html = (p.get_content() for p in parts)
    assert isinstance(plain, str) and isinstance(html, str)
    assert _lines(plain) == _lines(text)
    assert _lines(html) == _lines(html_document(subject, text))
    assert message["Message-ID"] == "<01M8PGQ-EMAIL-MESSAGE@io.example.org>"
    assert not message.defects and not any(p.defects for p in parts)


@pytest.mark.parametrize("subject", SUBJECTS)
def test_the_bytes_are_7_bit_crlf_with_lines_of_at_most_78_characters(subject: str) -> None:
    data = _sent("a@example.org", subject, TEXTS[2] + "è" * 300)

    text = data.decode("ascii")
    assert "\n" not in text.replace("\r\n", "")
    assert max(len(line) for line in text.split("\r\n")) <= 78


def test_an_address_beyond_plain_ascii_goes_through_the_email_package() -> None:
    outgoing = _mailer().outgoing("josé@example.org", "Avviso", "Testo")

    assert isinstance(outgoing, EmailMessage)
    assert outgoing["To"] == "josé@example.org"


@pytest.mark.parametrize(
    ("address", "simple"),
    [
        ("mario.rossi+io@example.org", True),
        ("a@b", True),
        ("josé@example.org", False),
        ('"quoted"@example.org', False),
        ("a@example.org\r\nBcc: b@example.org", False),
        ("Mario <a@example.org>", False),
        ("", False),
    ],
)
def test_only_a_plain_ascii_address_takes_the_direct_path(address: str, simple: bool) -> None:
    assert mail_mime.simple_address(address) is simple


def test_the_date_header_is_an_rfc_5322_date() -> None:
    message = _parsed(_sent("a@example.org", "Avviso", "Testo"))

    assert re.fullmatch(r"\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000", message["Date"])
