"""No personal data in the subject (IO guide), without false positives on real subjects."""

from __future__ import annotations

import pytest

from worker.services.pii import personal_data_kind

ORDINARY_SUBJECTS = [
    "Avviso di pagamento TARI 2026",
    "Scadenza 31/12/2026: importo 1.234,56 euro",
    "Avviso n. 12/2026 del Comune di Roma",
    "Codice avviso 301000000000012345",
    "Protocollo n. 0012345 del 03/02/2026",
    "Prot. PG12 2026 0001234 - esito istanza",
    "Rata del 03-12-2026 entro le ore 08.30",
    "Bollo auto: 123,45 euro entro il 15.03.2026",
    "Determina 2026/00456 - rimborso spese",
    "Importo € 1.250,00 - scadenza 01.02.2026",
    "Multa verbale n. 2026/000123 via Roma 12",
    "Rinnovo carta d'identità: appuntamento alle 10:30",
    "Iscrizione asilo nido a.s. 2026/2027",
    "Pratica SUAP 20260001234 completata",
    "Contravvenzione 345/2026 del 12 marzo",
]

PERSONAL_SUBJECTS = [
    ("Comunicazione per RSSMRA80A01H501U", "fiscal code"),
    ("Pratica di rssmra80a01h501u", "fiscal code"),
    ("Risposta a mario.rossi@example.org", "e-mail address"),
    ("Accredito su IT60X0542811101000000123456", "IBAN"),
    ("Accredito su IT60 X054 2811 1010 0000 0123 456 entro marzo", "IBAN"),
    ("Chiamare il 333 1234567 per info", "phone number"),
    ("Chiamare il +39 3331234567", "phone number"),
    ("Chiamare il 347.123.4567", "phone number"),
    ("Ufficio anagrafe: 06 1234 5678", "phone number"),
    ("Ufficio tributi 0461-123456", "phone number"),
    ("Richiamare il tel. 0612345678", "phone number"),
    ("Richiamare il +39 0612345678", "phone number"),
]


@pytest.mark.parametrize("subject", ORDINARY_SUBJECTS)
def test_ordinary_italian_subjects_carry_no_personal_data(subject: str) -> None:
    assert personal_data_kind(subject) is None


@pytest.mark.parametrize(("subject", "kind"), PERSONAL_SUBJECTS)
def test_personal_data_in_a_subject_is_named_by_kind(subject: str, kind: str) -> None:
    assert personal_data_kind(subject) == kind


def test_an_iban_with_a_wrong_check_digit_is_not_an_iban() -> None:
    assert personal_data_kind("Riferimento IT61X0542811101000000123456") is None


def test_a_non_ascii_letter_that_folds_to_ascii_is_not_an_iban_and_does_not_crash() -> None:
    from worker.services.pii import personal_data_kind

    assert personal_data_kind("Avviso I\u212a60X0542811101000000123456 rata") is None


def test_a_subject_asked_again_gets_the_same_answer_and_only_clean_ones_are_remembered() -> None:
    from worker.services import pii

    for _ in range(2):
        for subject in ORDINARY_SUBJECTS:
            assert personal_data_kind(subject) is None
        for subject, kind in PERSONAL_SUBJECTS:
            assert personal_data_kind(subject) == kind
    assert not {subject for subject, _ in PERSONAL_SUBJECTS} & pii._CLEAN


def test_the_memory_of_clean_subjects_is_bounded() -> None:
    from worker.services import pii

    for n in range(pii._CLEAN_MAX + 10):
        assert personal_data_kind(f"Avviso n. {n}/2026") is None
    assert len(pii._CLEAN) <= pii._CLEAN_MAX
