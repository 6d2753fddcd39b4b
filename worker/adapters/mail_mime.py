"""An e-mail's bytes, written directly: multipart/alternative, text and HTML.

The headers are ours and few, so they are written as text instead of going through
the email package's header registry (which parsed and refolded each of them, most of
notify's CPU per e-mail). What comes out is plain 7-bit MIME that any mail system
reads (RFC 5322, 2045-2047):

- a subject of printable ASCII that fits one line goes as it is; any other (non-ASCII,
  control characters, `=?`, edge spaces, too long) as RFC 2047 encoded words, base64
  over UTF-8, each at most 75 characters, split between characters, folded;
- both parts are UTF-8, quoted-printable (lines of at most 76 characters, CRLF);
- the boundary starts with `=_`, which quoted-printable never writes (its `=` is
  always followed by two hex digits or a line break), so no part can contain it.

Only a recipient address of plain ASCII (`simple_address`) takes this path; the
mailer leaves any other address to the email package.
"""

from __future__ import annotations

import binascii
import re

from schemas.patterns import SIMPLE_EMAIL_ADDRESS

BOUNDARY = "=_postino-alternative"
_PLAIN_SUBJECT = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]{0,67}[\x21-\x7e])?")
#: UTF-8 bytes per encoded word: 42 bytes are 56 base64 characters, a 68-character word.
_WORD_BYTES = 42


def simple_address(address: str) -> bool:
    """An ASCII addr-spec without quoting or comments (what the direct path writes)."""
    return len(address) <= 254 and SIMPLE_EMAIL_ADDRESS.fullmatch(address) is not None


def subject_header(subject: str) -> str:
    """The value of a Subject header, folded with CRLF when it takes encoded words."""
    if not subject or ("=?" not in subject and _PLAIN_SUBJECT.fullmatch(subject)):
        return subject
    return "\r\n ".join(_encoded_words(subject))


def _encoded_words(text: str) -> list[str]:
    words: list[str] = []
    chunk = bytearray()
    for char in text:
        encoded = char.encode("utf-8", "replace")
        if len(chunk) + len(encoded) > _WORD_BYTES:
            words.append(_word(bytes(chunk)))
            chunk.clear()
        chunk += encoded
    if chunk or not words:
        words.append(_word(bytes(chunk)))
    return words


def _word(data: bytes) -> str:
    return f"=?utf-8?b?{binascii.b2a_base64(data, newline=False).decode('ascii')}?="


def _quoted_printable(text: str) -> bytes:
    """UTF-8, quoted-printable, CRLF line ends, ending with a line break."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"
    return binascii.b2a_qp(text.encode("utf-8", "replace"), istext=True).replace(b"\n", b"\r\n")


def _part(subtype: str, text: str) -> bytes:
    """A part and the line break after it (which belongs to the next boundary line)."""
    return (
        (
            f'--{BOUNDARY}\r\nContent-Type: text/{subtype}; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        ).encode("ascii")
        + _quoted_printable(text)
        + b"\r\n"
    )


def alternative(headers: str, text: str, html: str) -> bytes:
    """The message: `headers` (complete lines, CRLF each: From, To, Subject, Date,
    Message-ID), then the MIME headers and the two parts."""
    head = (
        f"{headers}MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/alternative; boundary="{BOUNDARY}"\r\n\r\n'
    )
    return b"".join(
        (
            head.encode("ascii"),
            _part("plain", text),
            _part("html", html),
            f"--{BOUNDARY}--\r\n".encode("ascii"),
        )
    )
