"""The delivery decision (docs/integrators/sending.md), the payee default and the rpt_id, branch
by branch."""

from __future__ import annotations

from dataclasses import replace

import pytest

from schemas.enums import Channel, FailureReason, MessageStatus, RejectionReason
from schemas.messages import MessageContent, Payee, PaymentData
from tests.factories import MARKDOWN
from worker.services.decide import (
    Decision,
    decide,
    inbox_allowed,
    rpt_id,
    with_default_payee,
)
from worker.services.directory import Service
from worker.services.model import Profile, ServicePreference

FC = "RSSMRA80A01H501U"
SID = "svc-1"
SERVICE = Service(
    id=SID,
    name="Tributi",
    organization_name="Comune di Prova",
    organization_fiscal_code="12345678901",
    state="approved",
    published=True,
    api_key_hash=b"x",
)
WITH_EMAIL = Profile(FC, email="mario@example.org", email_validated=True)
BOTH = (Channel.PUSH, Channel.EMAIL)
SERVICE_NOT_ALLOWED = Decision(MessageStatus.REJECTED, RejectionReason.SERVICE_NOT_ALLOWED)


def _decide(
    profile: Profile | None,
    preference: ServicePreference | None = None,
    service: Service | None = SERVICE,
    secure: bool | None = None,
) -> Decision:
    return decide(profile, service, preference, require_secure_channels=secure)


def test_an_unknown_service_fails_the_message() -> None:
    assert _decide(WITH_EMAIL, service=None) == Decision(
        MessageStatus.FAILED, failure_reason=FailureReason.SERVICE_NOT_FOUND
    )


def test_a_deleted_service_fails_the_message_even_without_a_profile() -> None:
    assert _decide(None, service=replace(SERVICE, state="deleted")) == Decision(
        MessageStatus.FAILED, failure_reason=FailureReason.SERVICE_DELETED
    )


def test_no_profile_is_rejected_user_not_found() -> None:
    assert _decide(None) == Decision(MessageStatus.REJECTED, RejectionReason.USER_NOT_FOUND)


def test_a_disabled_inbox_is_rejected_service_not_allowed() -> None:
    assert _decide(replace(WITH_EMAIL, inbox_enabled=False)) == SERVICE_NOT_ALLOWED


def test_auto_without_preference_is_processed_on_every_channel() -> None:
    assert _decide(WITH_EMAIL) == Decision(MessageStatus.PROCESSED, channels=BOTH)


def test_auto_opt_out_is_a_preference_disabling_the_inbox() -> None:
    assert _decide(WITH_EMAIL, ServicePreference(is_inbox_enabled=False)) == SERVICE_NOT_ALLOWED


def test_manual_without_preference_is_blocked() -> None:
    assert _decide(replace(WITH_EMAIL, preferences_mode="MANUAL")) == SERVICE_NOT_ALLOWED


def test_manual_with_an_enabling_preference_is_processed() -> None:
    manual = replace(WITH_EMAIL, preferences_mode="MANUAL")
    assert _decide(manual, ServicePreference()).status is MessageStatus.PROCESSED
    disabled = ServicePreference(is_inbox_enabled=False)
    assert _decide(manual, disabled) == SERVICE_NOT_ALLOWED


def test_legacy_blocks_by_the_profile_list_and_ignores_preferences() -> None:
    legacy = replace(WITH_EMAIL, preferences_mode="LEGACY")
    blocked = replace(legacy, blocked_channels={SID: ["INBOX"]})
    assert _decide(blocked) == SERVICE_NOT_ALLOWED
    other = replace(legacy, blocked_channels={"svc-other": ["INBOX"]})
    assert _decide(other, ServicePreference(is_inbox_enabled=False)).channels == BOTH


@pytest.mark.parametrize(
    ("blocked", "expected"),
    [(["PUSH"], (Channel.EMAIL,)), (["EMAIL"], (Channel.PUSH,)), (["PUSH", "EMAIL"], ())],
)
def test_legacy_blocked_channels_silence_push_and_email(
    blocked: list[str], expected: tuple[Channel, ...]
) -> None:
    profile = replace(WITH_EMAIL, preferences_mode="LEGACY", blocked_channels={SID: blocked})
    assert _decide(profile) == Decision(MessageStatus.PROCESSED, channels=expected)


@pytest.mark.parametrize("mode", ["AUTO", "MANUAL"])
def test_preferences_silence_push_and_email(mode: str) -> None:
    profile = replace(WITH_EMAIL, preferences_mode=mode)
    assert _decide(profile, ServicePreference(is_push_enabled=False)).channels == (Channel.EMAIL,)
    assert _decide(profile, ServicePreference(is_email_enabled=False)).channels == (Channel.PUSH,)


def test_push_needs_push_enabled_on_the_profile() -> None:
    assert _decide(replace(WITH_EMAIL, push_enabled=False)).channels == (Channel.EMAIL,)


@pytest.mark.parametrize(
    "profile",
    [
        Profile(FC),
        replace(WITH_EMAIL, email_validated=False),
        replace(WITH_EMAIL, email_enabled=False),
    ],
)
def test_email_needs_a_validated_enabled_address(profile: Profile) -> None:
    assert _decide(profile).channels == (Channel.PUSH,)


def test_secure_channels_rule_out_email_from_the_message_or_the_service() -> None:
    assert _decide(WITH_EMAIL, secure=True).channels == (Channel.PUSH,)
    secure_service = replace(SERVICE, require_secure_channels=True)
    assert _decide(WITH_EMAIL, service=secure_service).channels == (Channel.PUSH,)
    assert _decide(WITH_EMAIL, service=secure_service, secure=False).channels == BOTH


def test_inbox_allowed_is_the_preference_rule_alone() -> None:
    assert inbox_allowed(Profile(FC, inbox_enabled=False), SID, None)
    assert not inbox_allowed(Profile(FC, preferences_mode="MANUAL"), SID, None)


def _content(payee: Payee | None = None, payment: bool = True) -> MessageContent:
    data = PaymentData(amount=100, notice_number="012345678901234567", payee=payee)
    return MessageContent(
        subject="Avviso di pagamento", markdown=MARKDOWN, payment_data=data if payment else None
    )


def test_the_payee_defaults_to_the_senders_organisation() -> None:
    filled = with_default_payee(_content(), SERVICE)
    assert filled.payment_data is not None
    assert filled.payment_data.payee == Payee(fiscal_code="12345678901")
    assert rpt_id(filled) == "12345678901012345678901234567"


def test_a_given_payee_is_kept() -> None:
    given = _content(Payee(fiscal_code="98765432109"))
    assert with_default_payee(given, SERVICE) is given
    assert rpt_id(given) == "98765432109012345678901234567"


def test_no_payee_without_payment_data_or_without_a_service() -> None:
    assert rpt_id(with_default_payee(_content(payment=False), SERVICE)) is None
    assert rpt_id(with_default_payee(_content(), None)) is None
