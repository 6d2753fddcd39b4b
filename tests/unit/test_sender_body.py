"""Every body rule of docs/integrators/sending.md, on both sides of every limit (lengths in
characters)."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from aiohttp import web

from schemas.messages import NewMessage
from worker.ingress.messages import decode_message

FC = "RSSMRA80A01H501U"
MD = "è" * 80  # multi-byte: 80 characters, 160 bytes


def body(**overrides: Any) -> dict[str, Any]:
    content = {"subject": "Avviso TARI 2026", "markdown": MD}
    content.update(overrides.pop("content", {}))
    return {"fiscal_code": FC, "content": content, **overrides}


def decode(value: Any, path_fc: str | None = None) -> NewMessage | str:
    """The decoded message, or the problem detail."""
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    result = decode_message(raw, path_fc)
    if isinstance(result, web.Response):
        assert result.status == 400
        assert result.content_type == "application/problem+json"
        problem = json.loads(result.body)  # type: ignore[arg-type]
        assert problem["title"] == "Invalid message structure"
        return str(problem["detail"])
    return result[0]


@pytest.mark.parametrize(
    ("content", "field", "ok"),
    [
        ({"subject": "à" * 9}, "content.subject", False),
        ({"subject": "à" * 10}, "content.subject", True),
        ({"subject": "😀" * 120}, "content.subject", True),
        ({"subject": "😀" * 121}, "content.subject", False),
        ({"markdown": "ü" * 79}, "content.markdown", False),
        ({"markdown": "ü" * 80}, "content.markdown", True),
        ({"markdown": "€" * 10000}, "content.markdown", True),
        ({"markdown": "€" * 10001}, "content.markdown", False),
    ],
)
def test_lengths_count_characters(content: dict[str, Any], field: str, ok: bool) -> None:
    result = decode(body(content=content))
    if ok:
        assert isinstance(result, NewMessage)
    else:
        assert isinstance(result, str)
        assert result.startswith(f"{field}:")


@pytest.mark.parametrize(
    ("ttl", "ok"), [(3599, False), (3600, True), (604800, True), (604801, False), (3600.0, False)]
)
def test_time_to_live_range_and_integer_only(ttl: Any, ok: bool) -> None:
    result = decode(body(time_to_live=ttl))
    assert isinstance(result, NewMessage) is ok
    if not ok:
        assert str(result).startswith("time_to_live:")


def test_time_to_live_defaults_to_one_hour_and_feature_level_to_standard() -> None:
    result = decode(body())
    assert isinstance(result, NewMessage)
    assert result.time_to_live == 3600
    assert result.feature_level_type == "STANDARD"


@pytest.mark.parametrize(
    ("amount", "ok"),
    [(0, False), (1, True), (9999999999, True), (10000000000, False), (1.5, False), ("1", False)],
)
def test_payment_amount_is_integer_cents_in_range(amount: Any, ok: bool) -> None:
    payment = {"amount": amount, "notice_number": "012345678901234567"}
    result = decode(body(content={"payment_data": payment}))
    assert isinstance(result, NewMessage) is ok
    if not ok:
        assert str(result).startswith("content.payment_data.amount:")


@pytest.mark.parametrize(
    ("notice", "ok"),
    [
        ("012345678901234567", True),
        ("312345678901234567", True),
        ("412345678901234567", False),
        ("01234567890123456", False),
        ("0123456789012345678", False),
        ("01234567890123456A", False),
    ],
)
def test_notice_number_pattern(notice: str, ok: bool) -> None:
    payment = {"amount": 100, "notice_number": notice}
    result = decode(body(content={"payment_data": payment}))
    assert isinstance(result, NewMessage) is ok


def test_payee_fiscal_code_is_eleven_digits() -> None:
    payment = {"amount": 100, "notice_number": "012345678901234567"}
    good = decode(body(content={"payment_data": {**payment, "payee": {"fiscal_code": "1" * 11}}}))
    assert isinstance(good, NewMessage)
    bad = decode(body(content={"payment_data": {**payment, "payee": {"fiscal_code": "1" * 10}}}))
    assert str(bad).startswith("content.payment_data.payee.fiscal_code:")


@pytest.mark.parametrize(
    ("due", "utc"),
    [
        ("2026-03-01T10:00:00Z", "2026-03-01T10:00:00+00:00"),
        ("2026-03-01T10:00:00", "2026-03-01T10:00:00+00:00"),
        ("2026-03-01T10:00:00.250+01:00", "2026-03-01T09:00:00.250000+00:00"),
        ("2026-03-01T10:00:00-02:30", "2026-03-01T12:30:00+00:00"),
    ],
)
def test_due_date_forms_are_stored_in_utc(due: str, utc: str) -> None:
    result = decode(body(content={"due_date": due}))
    assert isinstance(result, NewMessage)
    assert result.content.due_date is not None
    assert result.content.due_date.isoformat() == utc


@pytest.mark.parametrize("due", ["2026-03-01", "01/03/2026", "2026-13-01T10:00:00Z", "domani"])
def test_other_due_date_forms_are_refused(due: str) -> None:
    assert str(decode(body(content={"due_date": due}))).startswith("content.due_date:")


@pytest.mark.parametrize(
    "fiscal_code",
    ["RSSMRA80A01H501", "RSSMRA80A01H501UU", "rssmra80a01h501u", "RSSMRA80Z01H501U", "1" * 16],
)
def test_fiscal_code_pattern(fiscal_code: str) -> None:
    assert str(decode(body(fiscal_code=fiscal_code))).startswith("fiscal_code:")


def test_an_omocodic_fiscal_code_is_valid() -> None:
    assert isinstance(decode(body(fiscal_code="RSSMRA80A01H50MU")), NewMessage)


def test_the_fiscal_code_goes_in_the_body_or_the_path_exactly_once() -> None:
    without = body()
    del without["fiscal_code"]
    assert str(decode(without)).startswith("fiscal_code:")
    assert str(decode(body(), FC)).startswith("fiscal_code:")
    assert isinstance(decode(without, FC), NewMessage)
    assert str(decode(without, "NOTAFISCALCODE00")).startswith("fiscal_code:")


def test_third_party_id_needs_one_character() -> None:
    bad = decode(body(content={"third_party_data": {"id": ""}}))
    assert str(bad).startswith("content.third_party_data.id:")
    good = decode(body(content={"third_party_data": {"id": "x"}}))
    assert isinstance(good, NewMessage)
    assert good.content.third_party_data is not None
    assert good.content.third_party_data.has_attachments is False


def test_unknown_properties_are_ignored_and_experimental_ones_kept() -> None:
    result = decode(body(extra=1, content={"whatever": True, "legal_data": {"a": 1}}))
    assert isinstance(result, NewMessage)
    assert result.content.legal_data == {"a": 1}
    assert b"whatever" not in msgspec.json.encode(result)


def test_feature_level_must_be_standard_or_advanced() -> None:
    assert str(decode(body(feature_level_type="PREMIUM"))).startswith("feature_level_type:")


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (b"", "body: empty"),
        (b"   ", "body: empty"),
        (b"{not json", "body: not valid JSON"),
        (b"[1, 2]", "body: expected `object`, got `array`"),
        (b'"text"', "body: expected `object`, got `str`"),
        (b"{}", "content: required"),
        (b'{"content": {"subject": "Avviso TARI"}}', "content.markdown: required"),
        (b'{"content": 3}', "content: expected `object`, got `int`"),
    ],
)
def test_bodies_that_are_not_messages_are_400_naming_the_problem(raw: bytes, detail: str) -> None:
    result = decode(raw)
    assert isinstance(result, str)
    assert result.lower().startswith(detail.lower()), result
