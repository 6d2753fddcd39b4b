"""Personal data in a message subject (IO guide: "No alle informazioni personali nel titolo").

`personal_data_kind` names the first kind of personal data found, or None. The
patterns aim at no false positive on ordinary Italian subjects: dates, amounts,
notice numbers, protocol numbers and "n. 12/2026" references are not personal data.
So an IBAN must pass its mod-97 check, and a landline needs the shape people write
(international prefix, a separator after the area code, or a "tel." label).

The subject is read as a person sees it (`as_seen`): compatibility forms folded
(full-width letters and digits are letters and digits) and invisible characters
dropped (combining marks left alone, format characters, fillers), so a fiscal code
with an invisible character inside, or written in full width, is still found.
"""

from __future__ import annotations

import re
import unicodedata

from schemas.patterns import EMAIL_IN_TEXT, FISCAL_CODE_IN_TEXT

_IBAN = re.compile(r"\b[A-Z]{2}[0-9]{2}(?:[ ]?[A-Z0-9]){11,30}\b", re.IGNORECASE)
# Digits glued to letters, slashes, dots or commas are references or amounts, not phones.
_EDGE_L = r"(?<![\w/.,-])"
_EDGE_R = r"(?![\w/,-]|\.\d)"
_PREFIX = r"(?:(?:\+|00)39[\s.-]?)"
_MOBILE = re.compile(_EDGE_L + _PREFIX + r"?3\d{2}[\s.-]?\d{3}[\s.-]?\d{3,4}" + _EDGE_R)
_LANDLINE = re.compile(
    _EDGE_L
    + r"(?:"
    + _PREFIX
    + r"0\d{5,10}|"  # +39 0612345678
    + _PREFIX
    + r"?0\d{1,3}[\s.-]\d{3,4}[\s.-]?\d{2,4}"  # 06 1234 5678, 0461-123456
    + r")"
    + _EDGE_R
)
_LABELLED = re.compile(
    r"\b(?:tel|telefono|cell|cellulare|fax)\b\.?:?\s*(?:\+|00)?[0-9][0-9\s.-]{5,14}[0-9]",
    re.IGNORECASE,
)


def _iban_valid(candidate: str) -> bool:
    text = candidate.replace(" ", "").upper()
    # IGNORECASE regexes also match non-ASCII letters such as the Kelvin sign (U+212A);
    # an IBAN is ASCII letters and digits only.
    if not 15 <= len(text) <= 34 or not (text.isascii() and text.isalnum()):
        return False
    rotated = text[4:] + text[:4]
    digits = "".join(str(int(c, 36)) for c in rotated)
    return int(digits) % 97 == 1


def _has_iban(subject: str) -> bool:
    """A valid IBAN, possibly followed by other words (tried at each space boundary)."""
    for match in _IBAN.finditer(subject):
        groups = match.group(0).split(" ")
        if any(_iban_valid("".join(groups[:n])) for n in range(len(groups), 0, -1)):
            return True
    return False


# Cheap gates: each pattern below is tried only when its gate matches, and every gate
# matches whenever its pattern does (the gates start with a plain character set, so the
# regex engine skips ahead; the full patterns start with look-behinds or word edges).
# The fiscal-code pattern is always tried (an omocode fiscal code may have no digit).
_IBAN_HEAD = re.compile(r"[A-Z]{2}[0-9]{2}", re.IGNORECASE)
# Mobile (9+ digits) and landline (7+) numbers: digits with at most one separator
# between two of them.
_SEVEN_DIGITS = re.compile(r"\d(?:[\s.-]?\d){6}")
_LABELS = ("tel", "cell", "fax")


def _has_phone(subject: str) -> bool:
    if _SEVEN_DIGITS.search(subject) and (_MOBILE.search(subject) or _LANDLINE.search(subject)):
        return True
    lowered = subject.lower()
    return any(label in lowered for label in _LABELS) and _LABELLED.search(subject) is not None


# Senders send one subject to many citizens: a subject found clean is remembered (the
# refused ones are not kept). Bounded: emptied when full.
_CLEAN: set[str] = set()
_CLEAN_MAX = 4096


def personal_data_kind(subject: str) -> str | None:
    """The first kind of personal data in `subject`, or None."""
    if subject in _CLEAN:
        return None
    kind = _personal_data_kind(subject)
    if kind is None:
        if len(_CLEAN) >= _CLEAN_MAX:
            _CLEAN.clear()
        _CLEAN.add(subject)
    return kind


#: Characters with no visible form that are letters or marks to Unicode (so neither
#: Cf nor white space): the combining grapheme joiner and the Hangul fillers.
_FILLERS = frozenset("\u034f\u115f\u1160\u3164\uffa0")
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Mn", "Me", "Cc"})


def as_seen(text: str) -> str:
    """`text` as a reader sees it: NFKC, then without invisible characters."""
    if text.isascii():
        return text
    folded = unicodedata.normalize("NFKC", text)
    return "".join(
        c
        for c in folded
        if c not in _FILLERS and unicodedata.category(c) not in _INVISIBLE_CATEGORIES
    )


def _personal_data_kind(subject: str) -> str | None:
    subject = as_seen(subject)
    if FISCAL_CODE_IN_TEXT.search(subject):
        return "fiscal code"
    if "@" in subject and EMAIL_IN_TEXT.search(subject):
        return "e-mail address"
    if _IBAN_HEAD.search(subject) and _has_iban(subject):
        return "IBAN"
    if _has_phone(subject):
        return "phone number"
    return None
