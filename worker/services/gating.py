"""The checks of a submission (docs/integrators/sending.md) that depend only on the service and
the message.

Shared by the ingress (answers 4xx) and deliver (upstream records that fail go to the
DLQ). The network check (authorized CIDRs) and the limits are the ingress's alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.enums import FeatureLevel
from schemas.messages import MessageContent
from worker.services.directory import Service
from worker.services.pii import personal_data_kind


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a message may not be sent: an HTTP status for the ingress, a code for the DLQ."""

    status: int
    title: str
    detail: str
    code: str


def check_content(content: MessageContent) -> Refusal | None:
    """Rules of 1.1 that the types cannot express (no personal data in the subject)."""
    kind = personal_data_kind(content.subject)
    if kind is not None:
        return Refusal(
            400,
            "Invalid message structure",
            f"content.subject: must not contain personal data ({kind} found)",
            "personal_data_in_subject",
        )
    return None


def check_service(
    service: Service, fiscal_code: str, feature_level: FeatureLevel, content: MessageContent
) -> Refusal | None:
    """1.2 steps 1-4, in order; None when the message may go on."""
    if not service.can_send:
        return Refusal(403, "Service deleted", "a deleted service cannot send", "service_deleted")
    if not service.may_reach(fiscal_code):
        return Refusal(
            403,
            "Recipient forbidden",
            "this service is not published and the citizen is not an authorized recipient",
            "recipient_forbidden",
        )
    if feature_level is FeatureLevel.ADVANCED and not service.premium:
        return Refusal(
            403,
            "Forbidden",
            "feature_level_type ADVANCED needs the premium entitlement",
            "premium_required",
        )
    third_party = content.third_party_data
    if (
        third_party is not None
        and third_party.has_attachments
        and (feature_level is not FeatureLevel.ADVANCED)
    ):
        return Refusal(
            403,
            "Forbidden",
            "third_party_data.has_attachments needs ADVANCED",
            "attachments_need_advanced",
        )
    return _check_payment(service, content) or _check_extras(service, content)


def _check_extras(service: Service, content: MessageContent) -> Refusal | None:
    """Remote content needs its configuration, or a configuration of the body named by
    `configuration_id` (docs/integrators/remote-content.md); `eu_covid_cert` needs the
    entitlement (IO's `ApiMessageWriteEUCovidCert`)."""
    third_party = content.third_party_data
    chosen = None if third_party is None else third_party.configuration_id
    if chosen is not None and chosen not in service.remote_configurations:
        return Refusal(
            400,
            "Invalid message structure",
            "content.third_party_data.configuration_id: no such remote-content"
            " configuration of the service's organisation",
            "remote_content_not_configured",
        )
    if (
        third_party is not None
        and third_party.needs_remote_content
        and chosen is None
        and service.remote_content_base_url is None
    ):
        return Refusal(
            400,
            "Invalid message structure",
            "content.third_party_data: remote content, attachments or a precondition need"
            " the service's remote_content configuration or a configuration_id",
            "remote_content_not_configured",
        )
    if content.eu_covid_cert is not None and not service.eu_covid_cert:
        return Refusal(
            400,
            "Invalid message structure",
            "content.eu_covid_cert: the service lacks the eu_covid_cert entitlement",
            "eu_covid_cert_not_allowed",
        )
    return None


def _may_collect_for(service: Service, payee: str) -> bool:
    """The sender is the creditor (pagoPA's `rpt_id` starts with the payee), unless
    the service is entitled to collect for that other body."""
    return payee == service.organization_fiscal_code or payee in service.payee_fiscal_codes


def _check_payment(service: Service, content: MessageContent) -> Refusal | None:
    payment = content.payment_data
    if payment is None:
        return None
    if not service.payments:
        return Refusal(
            403, "Forbidden", "payment_data needs the payments entitlement", "payments_not_allowed"
        )
    payee = payment.payee
    if payee is not None and not _may_collect_for(service, payee.fiscal_code):
        return Refusal(
            403,
            "Forbidden",
            "content.payment_data.payee: must be the sending organisation's fiscal code;"
            " this service is not entitled to collect for another body",
            "payee_not_allowed",
        )
    if payment.amount > service.max_allowed_payment_amount:
        return Refusal(
            400,
            "Invalid message structure",
            f"content.payment_data.amount: above the service's maximum "
            f"({service.max_allowed_payment_amount})",
            "amount_above_maximum",
        )
    return None
