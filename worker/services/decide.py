"""The delivery decision of docs/integrators/sending.md (what happens next), as pure functions.

`decide` answers, for one message, what happens to it and on which channels the
citizen is notified; it reads only its arguments. Order of the checks:

1. the sender service: unknown -> `FAILED / SERVICE_NOT_FOUND`, deleted ->
   `FAILED / SERVICE_DELETED`. Only records the ingress accepted get here without a
   service (the ingress already answered 201, so the message cannot be refused: it
   failed); upstream records of an unknown or deleted service go to the DLQ before.
2. no profile -> `REJECTED / USER_NOT_FOUND`;
3. inbox disabled -> `REJECTED / SERVICE_NOT_ALLOWED`;
4. the per-service preference, by `preferences_mode` (LEGACY: blocked channels;
   AUTO: allowed unless a preference disables the inbox; MANUAL: blocked unless a
   preference enables it; an opt-out is a preference that disables the inbox) ->
   `REJECTED / SERVICE_NOT_ALLOWED`;
5. otherwise `PROCESSED`, with the notification channels of 2.5.

Payment notices (docs/integrators/sending.md, premium.md): `payment_data.payee.fiscal_code`
defaults to the sender's organisation fiscal code, filled into the stored content; the message's
`rpt_id` is that payee fiscal code followed by the notice number.
"""

from __future__ import annotations

import msgspec

from schemas.enums import (
    BlockedChannel,
    Channel,
    FailureReason,
    MessageStatus,
    PreferencesMode,
    RejectionReason,
)
from schemas.messages import MessageContent, Payee
from worker.services.directory import Service
from worker.services.model import Profile, ServicePreference

#: The `blocked_channels` entry of each notification channel.
_BLOCKED = {Channel.PUSH: BlockedChannel.PUSH, Channel.EMAIL: BlockedChannel.EMAIL}


class Decision(msgspec.Struct, frozen=True):
    status: MessageStatus
    rejection_reason: RejectionReason | None = None
    failure_reason: FailureReason | None = None
    #: Where to notify the citizen (PROCESSED only), in a stable order.
    channels: tuple[Channel, ...] = ()


def decide(
    profile: Profile | None,
    service: Service | None,
    preference: ServicePreference | None,
    *,
    require_secure_channels: bool | None = None,
) -> Decision:
    """The outcome of one message. `require_secure_channels` is the message's own
    `content.require_secure_channels` (None: the service's setting applies)."""
    if service is None:
        return Decision(MessageStatus.FAILED, failure_reason=FailureReason.SERVICE_NOT_FOUND)
    if not service.can_send:
        return Decision(MessageStatus.FAILED, failure_reason=FailureReason.SERVICE_DELETED)
    if profile is None:
        return Decision(MessageStatus.REJECTED, RejectionReason.USER_NOT_FOUND)
    if not profile.inbox_enabled or not inbox_allowed(profile, service.id, preference):
        return Decision(MessageStatus.REJECTED, RejectionReason.SERVICE_NOT_ALLOWED)
    secure = (
        service.require_secure_channels
        if require_secure_channels is None
        else (require_secure_channels)
    )
    channels = notification_channels(profile, service.id, preference, secure=secure)
    return Decision(MessageStatus.PROCESSED, channels=channels)


def inbox_allowed(profile: Profile, service_id: str, preference: ServicePreference | None) -> bool:
    """docs/integrators/sending.md: may `service_id` write to this citizen's inbox?"""
    mode = profile.preferences_mode
    if mode == PreferencesMode.LEGACY:
        return not _blocked(profile, service_id, BlockedChannel.INBOX)
    if mode == PreferencesMode.MANUAL:
        return preference is not None and preference.is_inbox_enabled
    return preference is None or preference.is_inbox_enabled


def push_reachable(profile: Profile, service_id: str, preference: ServicePreference | None) -> bool:
    """May a push for `service_id` reach this citizen now (2.2, 2.3 and 2.5)? Asked
    again for each premium reminder, so a later switch or opt-out holds."""
    if not profile.inbox_enabled or not inbox_allowed(profile, service_id, preference):
        return False
    return Channel.PUSH in notification_channels(profile, service_id, preference, secure=True)


def notification_channels(
    profile: Profile, service_id: str, preference: ServicePreference | None, *, secure: bool
) -> tuple[Channel, ...]:
    """docs/integrators/sending.md, for a message already allowed in the inbox."""
    channels: list[Channel] = []
    if profile.push_enabled and _channel_allowed(profile, service_id, preference, Channel.PUSH):
        channels.append(Channel.PUSH)
    email_usable = bool(profile.email) and profile.email_validated and profile.email_enabled
    if (
        email_usable
        and not secure
        and _channel_allowed(profile, service_id, preference, Channel.EMAIL)
    ):
        channels.append(Channel.EMAIL)
    return tuple(channels)


def _channel_allowed(
    profile: Profile, service_id: str, preference: ServicePreference | None, channel: Channel
) -> bool:
    if profile.preferences_mode == PreferencesMode.LEGACY:
        return not _blocked(profile, service_id, _BLOCKED[channel])
    if preference is None:  # AUTO without a preference: the defaults (everything on)
        return True
    if channel is Channel.PUSH:
        return preference.is_push_enabled
    return preference.is_email_enabled


def _blocked(profile: Profile, service_id: str, channel: BlockedChannel) -> bool:
    return channel in profile.blocked_channels.get(service_id, ())  # a str enum: its value


def with_default_payee(content: MessageContent, service: Service | None) -> MessageContent:
    """The content with `payment_data.payee` filled from the sender's organisation."""
    payment = content.payment_data
    if payment is None or payment.payee is not None or service is None:
        return content
    payee = Payee(fiscal_code=service.organization_fiscal_code)
    return msgspec.structs.replace(
        content, payment_data=msgspec.structs.replace(payment, payee=payee)
    )


def rpt_id(content: MessageContent) -> str | None:
    """Payee organisation fiscal code (11) + notice number (18), when both are known."""
    payment = content.payment_data
    if payment is None or payment.payee is None:
        return None
    return payment.payee.fiscal_code + payment.notice_number
