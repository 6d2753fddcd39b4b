"""The cheap gates of `personal_data_kind` never hide a match: on a seeded corpus of
subjects built from personal data, near misses and ordinary references, the gated
check answers exactly what every full pattern tried in order answers."""

from __future__ import annotations

import random

from schemas.patterns import EMAIL_IN_TEXT, FISCAL_CODE_IN_TEXT
from worker.services import pii

FRAGMENTS = (
    "Avviso di pagamento",
    "TARI 2026",
    "rata n. 2/2026",
    "scadenza 31/05/2026",
    "il 12.03.2026 alle 10:30",
    "prot. 0461-123456",
    "06 1234 5678",
    "+39 0612345678",
    "0039 347 1234567",
    "3471234567",
    "347.123.4567",
    "tel. 06 123456",
    "Cell: 333-1234-567",
    "FAX 0612 34 56",
    "RSSMRA80A01H501U",
    "rssmra80a01h501u",
    "RSSMRALPALMHLMNU",
    "IT60 X054 2811 1010 0000 0123 456",
    "IT60X0542811101000000123456",
    "GB82WEST12345698765432",
    "IT00X0000000000000000000000",
    "mario.rossi@example.it",
    "mario@ rossi",
    "importo 1.234,56 euro",
    "avviso 301000000000000000",
    "\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669",
    "citt\u00e0 di Forl\u00ec",
    "telefono",
)
SEPARATORS = (" ", " - ", ", ", ": ", "/", ".", "")


def _ungated(subject: str) -> str | None:
    if FISCAL_CODE_IN_TEXT.search(subject):
        return "fiscal code"
    if EMAIL_IN_TEXT.search(subject):
        return "e-mail address"
    if pii._has_iban(subject):
        return "IBAN"
    if any(p.search(subject) for p in (pii._MOBILE, pii._LANDLINE, pii._LABELLED)):
        return "phone number"
    return None


def test_gates_agree_with_the_full_patterns() -> None:
    rng = random.Random(7)
    kinds = set()
    for _ in range(5000):
        parts = rng.sample(FRAGMENTS, rng.randint(1, 4))
        subject = "".join(p + rng.choice(SEPARATORS) for p in parts).strip()
        expected = _ungated(subject)
        assert pii.personal_data_kind(subject) == expected, subject
        kinds.add(expected)
    assert kinds == {None, "fiscal code", "e-mail address", "IBAN", "phone number"}
