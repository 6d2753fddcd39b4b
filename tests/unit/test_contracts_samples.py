"""Sample records validate against the generated JSON Schemas; broken ones do not.

What an upstream producer checks its records with is what deliver accepts.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest

from schemas import codecs, export
from schemas.enums import Channel, MessageStatus, NotificationKind, NotificationStatus
from schemas.events import (
    Creditor,
    DebtorPosition,
    MessagePaid,
    MessageRead,
    MessageStatusChanged,
    NotificationRequest,
    NotificationStatusChanged,
    PaymentEvent,
)
from schemas.messages import MessageContent, PaymentData, SubmittedMessage
from schemas.topics import Topic
from worker.cli import contracts

AT = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
MARKDOWN = "Gentile cittadino, " + "la informiamo che e' disponibile un nuovo documento. " * 2


def _validator(topic: Topic) -> jsonschema.Draft202012Validator:
    schema = json.loads((contracts.GENERATED / export.schema_file(topic)).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _submitted() -> dict[str, Any]:
    message = SubmittedMessage(
        sender_service_id="svc-1",
        fiscal_code="RSSMRA80A01H501U",
        content=MessageContent(
            subject="Avviso di pagamento TARI",
            markdown=MARKDOWN,
            due_date=AT,
            payment_data=PaymentData(amount=12000, notice_number="012345678901234567"),
        ),
    )
    value: dict[str, Any] = json.loads(codecs.SUBMITTED.encode(message))
    return value


STATUS_SAMPLES = [
    MessageStatusChanged(
        message_id="m1", sender_service_id="s", seq=1, at=AT, status=MessageStatus.PROCESSED
    ),
    NotificationStatusChanged(
        message_id="m1",
        sender_service_id="s",
        seq=2,
        at=AT,
        channel=Channel.PUSH,
        notification_kind=NotificationKind.MESSAGE,
        status=NotificationStatus.SENT,
    ),
    MessageRead(message_id="m1", sender_service_id="s", seq=3, at=AT),
    MessagePaid(message_id="m1", sender_service_id="s", seq=4, at=AT, rpt_id="1" * 29),
]


def test_a_submitted_record_validates_and_an_upstream_one_without_id_too() -> None:
    validator = _validator(Topic.SUBMITTED)
    record = _submitted()
    validator.validate(record)
    assert "id" not in record
    validator.validate({**record, "id": "01HZX", "unknown_field": 1})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("fiscal_code", "rssmra80a01h501u"),
        ("time_to_live", 60),
        ("feature_level_type", "GOLD"),
        ("sender_service_id", ""),
    ],
)
def test_a_broken_submitted_record_is_refused_by_the_schema(field: str, value: Any) -> None:
    with pytest.raises(jsonschema.ValidationError):
        _validator(Topic.SUBMITTED).validate({**_submitted(), field: value})


def test_a_short_subject_is_refused_by_the_schema_as_by_the_decoder() -> None:
    record = _submitted()
    record["content"]["subject"] = "Breve"
    with pytest.raises(jsonschema.ValidationError):
        _validator(Topic.SUBMITTED).validate(record)


@pytest.mark.parametrize("event", STATUS_SAMPLES, ids=lambda e: type(e).__name__)
def test_every_kind_of_status_event_validates(event: Any) -> None:
    _validator(Topic.STATUS).validate(json.loads(codecs.STATUS.encode(event)))


def test_a_status_event_with_seq_zero_or_an_unknown_kind_is_refused() -> None:
    validator = _validator(Topic.STATUS)
    good = json.loads(codecs.STATUS.encode(STATUS_SAMPLES[0]))
    for bad in ({**good, "seq": 0}, {**good, "kind": "deleted"}):
        with pytest.raises(jsonschema.ValidationError):
            validator.validate(bad)


def test_notification_requests_and_payment_events_validate() -> None:
    request = NotificationRequest(
        notification_id="m1-push-message",
        message_id="m1",
        fiscal_code="RSSMRA80A01H501U",
        sender_service_id="s",
        channel=Channel.EMAIL,
        deadline=AT,
    )
    _validator(Topic.NOTIFICATIONS).validate(json.loads(codecs.NOTIFICATION.encode(request)))
    payment = PaymentEvent(
        id="evt-1",
        debtor_position=DebtorPosition(notice_number="012345678901234567"),
        creditor=Creditor(id_pa="01234567891"),
    )
    encoded = json.loads(codecs.PAYMENT.encode(payment))
    assert encoded["creditor"] == {"idPA": "01234567891"}
    _validator(Topic.PAYMENTS).validate(encoded)
    with pytest.raises(jsonschema.ValidationError):
        _validator(Topic.PAYMENTS).validate({**encoded, "creditor": {"idPA": "123"}})
