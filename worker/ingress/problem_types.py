"""Every problem type the HTTP API answers with: a stable `code` and its `type` URI.

A problem+json answer (RFC 9457) carries `type`, `title`, `status` and `detail`, as IO's
do, plus `code`, the same snake_case string the `type` URI ends with. Integrators
branch on `type` or `code`, never on `title` or `detail` (the detail names the field or
the reason in words and may be reworded).

`type` is a URI reference, `/problems/<code>`, the same on every deployment: compare it
as a string. The integrators' error catalogue is generated from this list
(`make reference`), so a code listed here is documented, and a test fails when an
answer uses a title or a code that is not here.

The codes of refused messages are the ones the deliver role puts in
`postino-error-code` when it dead-letters an upstream record for the same reason, so
an HTTP sender and a Kafka producer read one vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass

TYPE_PREFIX = "/problems/"


@dataclass(frozen=True, slots=True)
class ProblemType:
    code: str
    status: int
    title: str
    #: when it is answered, for the catalogue (one sentence)
    meaning: str

    @property
    def uri(self) -> str:
        return f"{TYPE_PREFIX}{self.code}"


def _p(code: str, status: int, title: str, meaning: str) -> ProblemType:
    return ProblemType(code, status, title, meaning)


#: Generic types: one per status and title; `problem(status, title, ...)` finds them.
GENERIC: tuple[ProblemType, ...] = (
    _p(
        "bad_request",
        400,
        "Bad request",
        "A parameter, header or body field is malformed; the detail names it.",
    ),
    _p(
        "invalid_message_structure",
        400,
        "Invalid message structure",
        "A message body breaks IO's rules (types, lengths, text rules); the detail names"
        " the field.",
    ),
    _p(
        "unauthorized",
        401,
        "Unauthorized",
        "Missing or unknown API key, admin token or citizen session.",
    ),
    _p(
        "forbidden",
        403,
        "Forbidden",
        "The caller may not do this (an entitlement it lacks, an address outside the"
        " service's `authorized_cidrs`, another service's message).",
    ),
    _p(
        "not_found",
        404,
        "Not found",
        "Nothing by that id or fiscal code, or nothing this caller may see.",
    ),
    _p(
        "method_not_allowed",
        405,
        "Method Not Allowed",
        "The route exists but not with this method; `Allow` lists the methods.",
    ),
    _p(
        "conflict",
        409,
        "Conflict",
        "The change is not allowed in the resource's current state (a lifecycle move).",
    ),
    _p(
        "payload_too_large",
        413,
        "Payload too large",
        "The body exceeds `POSTINO_HTTP_MAX_BODY_BYTES`.",
    ),
    _p(
        "unprocessable_service_card",
        422,
        "Unprocessable service card",
        "A service sent to review lacks card fields; the detail names every one.",
    ),
    _p(
        "too_many_requests",
        429,
        "Too many requests",
        "Over a limit; wait `Retry-After` seconds.",
    ),
    _p(
        "internal_error",
        500,
        "Internal error",
        "A bug; it has been logged with the request id.",
    ),
    _p(
        "bad_gateway",
        502,
        "Bad gateway",
        "The sender's systems did not answer usably (remote content); retry later.",
    ),
    _p(
        "service_unavailable",
        503,
        "Service unavailable",
        "The broker did not acknowledge in time; nothing was accepted, or the change is"
        " saved and the retry confirms it.",
    ),
)

#: Specific types: a refused message (the same codes as the DLQ's) or a limit.
SPECIFIC: tuple[ProblemType, ...] = (
    _p(
        "personal_data_in_subject",
        400,
        "Invalid message structure",
        "The subject holds a fiscal code, an e-mail address, an IBAN or a phone number.",
    ),
    _p(
        "remote_content_not_configured",
        400,
        "Invalid message structure",
        "Remote content, attachments or a precondition without the service's"
        " `remote_content` configuration.",
    ),
    _p(
        "eu_covid_cert_not_allowed",
        400,
        "Invalid message structure",
        "`content.eu_covid_cert` from a service without that entitlement.",
    ),
    _p(
        "amount_above_maximum",
        400,
        "Invalid message structure",
        "`payment_data.amount` above the service's `max_allowed_payment_amount`.",
    ),
    _p(
        "invalid_logo",
        400,
        "Invalid logo",
        "A logo that is not a square PNG of 300-1000 px within the size cap; the detail"
        " says which check failed.",
    ),
    _p(
        "payee_not_allowed",
        403,
        "Forbidden",
        "`payment_data.payee` names another body than the sending organisation, and the"
        " service is not entitled to collect for it (`payee_fiscal_codes`).",
    ),
    _p(
        "service_deleted",
        403,
        "Service deleted",
        "The sending service was deleted: it cannot send.",
    ),
    _p(
        "recipient_forbidden",
        403,
        "Recipient forbidden",
        "The service is not published and the citizen is not one of its `authorized_recipients`.",
    ),
    _p(
        "premium_required",
        403,
        "Forbidden",
        "`feature_level_type: ADVANCED` from a service without the premium entitlement.",
    ),
    _p(
        "attachments_need_advanced",
        403,
        "Forbidden",
        "`third_party_data.has_attachments` on a STANDARD message.",
    ),
    _p(
        "payments_not_allowed",
        403,
        "Forbidden",
        "`payment_data` from a service without the payments entitlement.",
    ),
    _p(
        "rate_exceeded",
        429,
        "Too many requests",
        "Over the service's `rate_per_second`; `Retry-After` says when a token returns.",
    ),
    _p(
        "quota_exceeded",
        429,
        "Too many requests",
        "The service's `daily_quota` is used up; `Retry-After` counts to midnight Europe/Rome.",
    ),
)

CATALOGUE: dict[str, ProblemType] = {p.code: p for p in (*GENERIC, *SPECIFIC)}
#: A title of its own names its type (`Recipient forbidden`); a shared one, the generic.
_BY_TITLE: dict[tuple[int, str], ProblemType] = {
    (p.status, p.title.lower()): p for p in (*SPECIFIC, *GENERIC)
}
_BY_STATUS: dict[int, ProblemType] = {}
for _generic in GENERIC:
    _BY_STATUS.setdefault(_generic.status, _generic)


def find(status: int, title: str, code: str | None = None) -> ProblemType | None:
    """The type of an answer: by its code when given, else by status and title (any
    case: aiohttp's own reasons are title case), else the status's generic type."""
    if code is not None and code in CATALOGUE:
        return CATALOGUE[code]
    return _BY_TITLE.get((status, title.lower())) or _BY_STATUS.get(status)
