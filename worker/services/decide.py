"""The delivery decision of IO-RULES section 2, as a pure function."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.enums import MessageStatus, RejectionReason
from worker.services.model import Profile, ServicePreference


@dataclass(frozen=True, slots=True)
class Decision:
    status: MessageStatus
    rejection_reason: RejectionReason | None = None


PROCESSED = Decision(MessageStatus.PROCESSED)


def decide(
    profile: Profile | None, service_id: str, preference: ServicePreference | None
) -> Decision:
    """Inbox or rejection for one message (IO-RULES 2.1-2.4)."""
    if profile is None:
        return Decision(MessageStatus.REJECTED, RejectionReason.USER_NOT_FOUND)
    if not profile.inbox_enabled:
        return Decision(MessageStatus.REJECTED, RejectionReason.SERVICE_NOT_ALLOWED)
    if not inbox_allowed(profile, service_id, preference):
        return Decision(MessageStatus.REJECTED, RejectionReason.SERVICE_NOT_ALLOWED)
    return PROCESSED


def inbox_allowed(profile: Profile, service_id: str, preference: ServicePreference | None) -> bool:
    mode = profile.preferences_mode
    if mode == "LEGACY":
        return "INBOX" not in profile.blocked_channels.get(service_id, [])
    if mode == "MANUAL":
        return preference is not None and preference.is_inbox_enabled
    return preference is None or preference.is_inbox_enabled
