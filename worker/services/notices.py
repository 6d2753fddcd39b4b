"""Notices to a public body (docs/integrators/services.md): what is worth an e-mail, and its text.

A notice goes to the service's `metadata.email` and to the body's contact. Kinds:
a review approved or rejected (with the reason), the service unpublished, its
callbacks failing for 15 minutes and recovered, its daily quota at 80% and 100%,
a key regenerated. Each is queued with the change that caused it, through a gate
(`NoticeDraft.gate`): at most one notice per gate per service per hour, whatever
the number of processes (the gate is a unique key in the database). Each queued
notice is also an entry of the service's history. Sending is `notice_outbox`'s.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime

from worker.services.backoffice_model import (
    SYSTEM,
    HistoryEntry,
    NoticeDraft,
    ServiceRecord,
)
from worker.services.cms import service_snapshot
from worker.services.service_lifecycle import Action


class NoticeKind(enum.StrEnum):
    REVIEW_APPROVED = "review_approved"
    REVIEW_REJECTED = "review_rejected"
    UNPUBLISHED = "unpublished"
    CALLBACKS_FAILING = "callbacks_failing"
    CALLBACKS_RECOVERED = "callbacks_recovered"
    QUOTA_80 = "quota_80"
    QUOTA_100 = "quota_100"
    KEY_REGENERATED = "key_regenerated"


#: How long callbacks fail before the body is told.
FAILING_AFTER_SECONDS = 15 * 60


@dataclass(frozen=True, slots=True)
class Contacts:
    service_email: str | None
    body_email: str | None

    def recipients(self) -> tuple[str, ...]:
        found = (self.service_email, self.body_email)
        return tuple(dict.fromkeys(a for a in found if a))


def _draft(
    service: ServiceRecord,
    kind: NoticeKind,
    contacts: Contacts,
    at: datetime,
    text: tuple[str, str],
    *,
    gate: str | None = None,
    reason: str | None = None,
) -> NoticeDraft:
    subject, body = text
    history = HistoryEntry(
        service_id=service.id,
        at=at,
        action=f"notice_{kind.value}",
        actor=SYSTEM,
        kind="lifecycle",
        status=service.state,
        version=service.version,
        service=service_snapshot(service),
        reason=reason,
    )
    return NoticeDraft(
        service.id,
        kind.value,
        gate or kind.value,
        subject,
        body,
        contacts.recipients(),
        at,
        history,
    )


def _about(service: ServiceRecord) -> str:
    return f"«{service.name}» ({service.organization_name}, servizio {service.id})"


def for_action(
    action: Action,
    before: ServiceRecord,
    after: ServiceRecord,
    contacts: Contacts,
    at: datetime,
) -> list[NoticeDraft]:
    """The notices a lifecycle or publication action owes the body."""
    about = _about(after)
    found = []
    if action is Action.APPROVE:
        text = (
            f"Servizio approvato: {after.name}",
            f"La revisione del servizio {about} è stata approvata (versione {after.version}).",
        )
        found.append(_draft(after, NoticeKind.REVIEW_APPROVED, contacts, at, text))
    elif action is Action.REJECT:
        reason = after.reject_reason or ""
        text = (
            f"Servizio respinto: {after.name}",
            f"La revisione del servizio {about} è stata respinta.\n\nMotivo: {reason}",
        )
        found.append(_draft(after, NoticeKind.REVIEW_REJECTED, contacts, at, text, reason=reason))
    if before.published and not after.published:
        text = (
            f"Servizio non più pubblicato: {after.name}",
            f"Il servizio {about} non è più pubblicato: raggiunge solo i destinatari autorizzati.",
        )
        found.append(_draft(after, NoticeKind.UNPUBLISHED, contacts, at, text))
    return found


def key_regenerated(
    service: ServiceRecord, which: str, contacts: Contacts, at: datetime
) -> list[NoticeDraft]:
    text = (
        f"Chiave rigenerata: {service.name}",
        f"La chiave {which} del servizio {_about(service)} è stata rigenerata: la"
        " precedente non funziona più. Se non è stato il vostro ente, avvisate la"
        " piattaforma.",
    )
    return [_draft(service, NoticeKind.KEY_REGENERATED, contacts, at, text)]


def callbacks_failing(
    service: ServiceRecord, since: datetime, contacts: Contacts, at: datetime
) -> NoticeDraft:
    text = (
        f"Callback in errore: {service.name}",
        f"Le callback del servizio {_about(service)} falliscono dalle"
        f" {since.isoformat(timespec='minutes')} (UTC): gli eventi di stato vengono"
        f" ritentati fino alla loro scadenza. Controllate {service.callback_url or 'la URL'}.",
    )
    return _draft(service, NoticeKind.CALLBACKS_FAILING, contacts, at, text)


def callbacks_recovered(service: ServiceRecord, contacts: Contacts, at: datetime) -> NoticeDraft:
    text = (
        f"Callback di nuovo funzionanti: {service.name}",
        f"Le callback del servizio {_about(service)} sono di nuovo consegnate.",
    )
    return _draft(service, NoticeKind.CALLBACKS_RECOVERED, contacts, at, text)


def quota_reached(
    service: ServiceRecord, used: int, quota: int, contacts: Contacts, *, day: date, at: datetime
) -> NoticeDraft:
    """The quota notice of the share `used` is of `quota` (80% or 100%); its gate names
    the day, so each is sent once a day at most."""
    percent = quota_level(used, quota) or 80
    kind = NoticeKind.QUOTA_100 if percent >= 100 else NoticeKind.QUOTA_80
    text = (
        f"Quota giornaliera al {percent}%: {service.name}",
        f"Il servizio {_about(service)} ha inviato {used} messaggi il {day.isoformat()}"
        f" (UTC), il {percent}% della sua quota giornaliera di {quota}."
        + (" Fino a mezzanotte UTC gli invii sono rifiutati con 429." if percent >= 100 else ""),
    )
    return _draft(service, kind, contacts, at, text, gate=f"{kind.value}:{day.isoformat()}")


def quota_level(used: int, quota: int) -> int | None:
    """100 or 80 when `used` reached that share of `quota`, else None."""
    if quota <= 0:
        return None
    if used >= quota:
        return 100
    return 80 if used * 5 >= quota * 4 else None
