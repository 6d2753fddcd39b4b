"""Patterns of identifiers, each rule written once: citizens' and organisations' fiscal
codes, payment notice numbers, e-mail addresses, and the sandbox fiscal code every
service may write to.

Anchoring: a whole value is checked with `is_fiscal_code` (`fullmatch`, never
`^...$`, whose `$` also matches before a trailing newline); text is searched with the
`*_IN_TEXT` patterns. `FISCAL_CODE_PATTERN` is the JSON Schema form of the msgspec
constraints (`Meta(pattern=...)`).
"""

from __future__ import annotations

import re

#: A fiscal code: surname, name, year, month letter, day, municipality, check letter
#: (digits may be replaced by the letters of omocodia).
FISCAL_CODE_BODY = (
    r"[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]"
)
FISCAL_CODE_PATTERN = f"^{FISCAL_CODE_BODY}$"
_FISCAL_CODE = re.compile(FISCAL_CODE_BODY)
#: A fiscal code inside a text, as a word (the subject check: no false positives).
FISCAL_CODE_IN_TEXT = re.compile(rf"\b{FISCAL_CODE_BODY}\b", re.IGNORECASE)
#: Anything shaped like a fiscal code, month letter unchecked: what redaction hides
#: (in logs and DLQ listings a miss costs more than a false positive).
FISCAL_CODE_LIKE = r"[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]"
#: An organisation's fiscal code (codice fiscale of a legal person: 11 digits, as the
#: partita IVA).
ORGANIZATION_FISCAL_CODE_BODY = r"[0-9]{11}"
ORGANIZATION_FISCAL_CODE_PATTERN = f"^{ORGANIZATION_FISCAL_CODE_BODY}$"
_ORGANIZATION_FISCAL_CODE = re.compile(ORGANIZATION_FISCAL_CODE_BODY)
#: A pagoPA notice number: 18 digits, the first the aux digit 0-3.
NOTICE_NUMBER_BODY = r"[0123][0-9]{17}"
NOTICE_NUMBER_PATTERN = f"^{NOTICE_NUMBER_BODY}$"
#: A payment's rpt_id: the payee organisation's fiscal code, then the notice number.
RPT_ID_PATTERN = f"^{ORGANIZATION_FISCAL_CODE_BODY}{NOTICE_NUMBER_BODY}$"

#: An e-mail address given in a field (a contact address): one "@", a dot in the
#: domain, no white space. Loose on purpose: the mail relay is the judge.
EMAIL_ADDRESS_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
#: An ASCII addr-spec without quoting or comments: the addresses the mailer writes
#: into headers itself (any other goes through the email package).
SIMPLE_EMAIL_ADDRESS = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
)
#: An e-mail address inside a text. It starts where a run of its characters starts
#: (the look-behind), so a long run without "@" is tried once, not from each character.
EMAIL = r"(?<![\w.%+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}"
EMAIL_IN_TEXT = re.compile(EMAIL)
FISCAL_CODE_LIKE_IN_TEXT = re.compile(FISCAL_CODE_LIKE)
#: Personal data to redact from a log line or an operator's listing.
PERSONAL_IN_TEXT = re.compile(f"{FISCAL_CODE_LIKE}|{EMAIL}", re.IGNORECASE)

#: Unicode categories a single-line text (a subject, a name, a key) may not hold:
#: format characters (bidi controls U+202A-U+202E and U+2066-U+2069, zero-width
#: characters, U+FEFF, the soft hyphen...) and the line and paragraph separators
#: U+2028/U+2029. They reorder, hide or break the text where it is shown.
LOOKALIKE_CATEGORIES = frozenset({"Cf", "Zl", "Zp"})

#: The fiscal code of the sandbox citizen: every service may write to it, published
#: or not, as in IO.
SANDBOX_FISCAL_CODE = "AAAAAA00A00A000A"


def is_fiscal_code(value: str) -> bool:
    """The whole of `value` is a fiscal code (upper case, nothing before or after)."""
    return _FISCAL_CODE.fullmatch(value) is not None


def is_organization_fiscal_code(value: str) -> bool:
    """The whole of `value` is an organisation's fiscal code."""
    return _ORGANIZATION_FISCAL_CODE.fullmatch(value) is not None
