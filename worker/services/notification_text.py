"""What a push or an e-mail says, in Italian or English by the citizen's preference.

docs/integrators/sending.md: the push title is the organisation's name and the body the subject;
when secure channels are required, both are anonymous and an e-mail carries no
message content (neither subject nor text nor sender). Reminders have their own
wording, and the last payment reminder says it is the last one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from schemas.enums import NotificationKind

_IT, _EN = "it", "en"

_ANONYMOUS = {
    _IT: ("Hai un nuovo messaggio", "Entra nell'app IO per leggerlo."),
    _EN: ("You have a new message", "Open the IO app to read it."),
}
_ANONYMOUS_REMINDER = {
    _IT: {
        NotificationKind.REMINDER_READ: "Hai un messaggio da leggere",
        NotificationKind.REMINDER_PAYMENT: "Hai un avviso di pagamento in scadenza",
        NotificationKind.REMINDER_PAYMENT_LAST: "Ultimo promemoria: un avviso di pagamento scade",
    },
    _EN: {
        NotificationKind.REMINDER_READ: "You have a message to read",
        NotificationKind.REMINDER_PAYMENT: "You have a payment notice coming due",
        NotificationKind.REMINDER_PAYMENT_LAST: "Last reminder: a payment notice is coming due",
    },
}
_REMINDER_BODY = {
    _IT: {
        NotificationKind.REMINDER_READ: "Non hai ancora letto: {subject}",
        NotificationKind.REMINDER_PAYMENT: "Ricordati di pagare: {subject}",
        NotificationKind.REMINDER_PAYMENT_LAST: "Ultimo promemoria, scade a breve: {subject}",
    },
    _EN: {
        NotificationKind.REMINDER_READ: "You have not read yet: {subject}",
        NotificationKind.REMINDER_PAYMENT: "Remember to pay: {subject}",
        NotificationKind.REMINDER_PAYMENT_LAST: "Last reminder, due soon: {subject}",
    },
}
_EMAIL_INTRO = {
    _IT: "Hai ricevuto un messaggio da {org} nell'app IO.",
    _EN: "You received a message from {org} in the IO app.",
}
_EMAIL_FOOTER = {
    _IT: "Questa e-mail e' inviata automaticamente dall'app IO: non rispondere.",
    _EN: "This e-mail is sent automatically by the IO app: do not reply.",
}


@dataclass(frozen=True, slots=True)
class Text:
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class Email:
    subject: str
    body: str


def language(preferred: Sequence[str]) -> str:
    """The first preferred language Postino speaks (`it_IT`, `en_GB`, `en`...); else Italian."""
    for tag in preferred:
        code = tag.replace("-", "_").split("_", 1)[0].lower()
        if code in (_IT, _EN):
            return code
    return _IT


def push_text(
    kind: NotificationKind, lang: str, organization: str, subject: str, *, secure: bool
) -> Text:
    if kind is NotificationKind.MESSAGE:
        if secure:
            return Text(*_ANONYMOUS[lang])
        return Text(organization, subject)
    if secure:
        return Text(_ANONYMOUS_REMINDER[lang][kind], _ANONYMOUS[lang][1])
    return Text(organization, _REMINDER_BODY[lang][kind].format(subject=subject))


def email_text(
    kind: NotificationKind,
    lang: str,
    organization: str,
    subject: str,
    markdown: str,
    *,
    secure: bool,
) -> Email:
    push = push_text(kind, lang, organization, subject, secure=secure)
    if secure:
        return Email(push.title, f"{push.title}.\n{push.body}\n\n{_EMAIL_FOOTER[lang]}\n")
    intro = _EMAIL_INTRO[lang].format(org=organization)
    heading = subject if kind is NotificationKind.MESSAGE else push.body
    content = f"{markdown}\n\n" if kind is NotificationKind.MESSAGE and markdown else ""
    return Email(
        f"{organization}: {heading}",
        f"{intro}\n\n{heading}\n\n{content}{_EMAIL_FOOTER[lang]}\n",
    )
