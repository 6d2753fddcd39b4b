"""Each identifier rule is written once in `schemas.patterns`; these are its cases."""

from __future__ import annotations

import re

import pytest

from schemas.patterns import (
    EMAIL_ADDRESS_PATTERN,
    NOTICE_NUMBER_PATTERN,
    RPT_ID_PATTERN,
    SIMPLE_EMAIL_ADDRESS,
    is_fiscal_code,
    is_organization_fiscal_code,
)


@pytest.mark.parametrize(
    ("value", "valid"),
    [("01234567890", True), ("0123456789", False), ("012345678901", False), ("0123456789a", False)],
)
def test_an_organisation_fiscal_code_is_eleven_digits(value: str, valid: bool) -> None:
    assert is_organization_fiscal_code(value) is valid
    assert is_organization_fiscal_code(value + "\n") is False


def test_an_rpt_id_is_an_organisation_fiscal_code_then_a_notice_number() -> None:
    notice = "302000100000009424"
    assert re.fullmatch(NOTICE_NUMBER_PATTERN, notice)
    assert re.fullmatch(RPT_ID_PATTERN, "01234567890" + notice)
    assert not re.fullmatch(RPT_ID_PATTERN, "01234567890" + "4" + notice[1:])


def test_a_citizen_fiscal_code_is_checked_whole() -> None:
    assert is_fiscal_code("RSSMRA80A01H501U")
    assert not is_fiscal_code("RSSMRA80A01H501U\n")


@pytest.mark.parametrize(
    ("address", "field", "simple"),
    [
        ("mario.rossi@example.it", True, True),
        ("anna+io@comune.example.gov.it", True, True),
        ("nicolò@example.it", True, False),
        ("no-at-sign.example.it", False, False),
        ("two@@example.it", False, False),
        ("space in@example.it", False, False),
    ],
)
def test_an_email_field_is_loose_and_the_mailer_writes_only_simple_addresses(
    address: str, field: bool, simple: bool
) -> None:
    assert bool(re.fullmatch(EMAIL_ADDRESS_PATTERN, address)) is field
    assert bool(SIMPLE_EMAIL_ADDRESS.fullmatch(address)) is simple
