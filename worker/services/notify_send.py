"""One send: the text for the citizen's language, then the push gateway or the mailer.

A channel this process has no configuration for is an operator's fault, not the
citizen's: its sends fail as `RetryableError`, so the notification waits THROTTLED in
the retry tiers (sent once the channel is configured and the role restarted) and
ends EXPIRED at its deadline, never FAILED.
"""

from __future__ import annotations

from schemas.enums import Channel
from schemas.events import NotificationRequest
from worker.core.errors import PermanentError, RetryableError
from worker.services.notification_text import email_text, language, push_text
from worker.services.notify_ports import Channels, NotifyContext, Push
from worker.services.retry import call_with_retry


async def send_one(
    request: NotificationRequest, context: NotifyContext, channels: Channels, attempts: int
) -> None:
    """Raises `RetryableError` or `PermanentError`; returns once the channel took it."""
    recipient = context.recipients.get(request.fiscal_code)
    message = context.messages.get(request.message_id)
    sender = context.senders.get(request.sender_service_id)
    if recipient is None or message is None or sender is None:
        raise PermanentError("profile, message or service not found")
    secure = message.require_secure_channels
    if secure is None:
        secure = sender.require_secure_channels
    lang = language(recipient.languages)
    org = sender.organization_name
    if request.channel is Channel.PUSH:
        if channels.push is None:
            raise RetryableError("no push gateway configured (POSTINO_PUSH_URL)")
        text = push_text(request.kind, lang, org, message.subject, secure=secure)
        push = Push(
            request.fiscal_code,
            request.message_id,
            request.notification_id,
            request.kind.value,
            text.title,
            text.body,
        )
        gateway = channels.push
        await call_with_retry(lambda: gateway.send(push), attempts)
        return
    if channels.mailer is None:
        raise RetryableError("no SMTP server configured (POSTINO_SMTP_URL)")
    if not recipient.email or not recipient.email_validated:
        raise PermanentError("no validated e-mail address")
    mail = email_text(request.kind, lang, org, message.subject, message.markdown, secure=secure)
    mailer, address = channels.mailer, recipient.email
    key = request.notification_id
    await call_with_retry(lambda: mailer.send(address, mail.subject, mail.body, key=key), attempts)
