"""Personal data in a message subject (IO guide: "No alle informazioni personali nel titolo").

`personal_data_kind` names the first kind of personal data found, or None. The
patterns aim at no false positive on ordinary Italian subjects: dates, amounts,
notice numbers and "n. 12/2026" references are not personal data.
"""

from __future__ import annotations

import re

_FISCAL_CODE = re.compile(
    r"\b[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]\b",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_IBAN = re.compile(r"\b[A-Z]{2}[0-9]{2}(?:\s?[A-Z0-9]){11,30}\b", re.IGNORECASE)
_PHONE = re.compile(r"(?<![\w/.,])(?:\+|00)?(?:39)?\s?3[0-9]{2}[\s.-]?[0-9]{6,7}(?![\w/.,])")

_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("fiscal code", _FISCAL_CODE),
    ("e-mail address", _EMAIL),
    ("IBAN", _IBAN),
    ("phone number", _PHONE),
)


def personal_data_kind(subject: str) -> str | None:
    for kind, pattern in _KINDS:
        if pattern.search(subject):
            return kind
    return None
