"""What a sender may learn about its messages (docs/integrators/premium.md, callbacks.md), in one
place.

Applied at the source of every sender-facing copy: the producers of `read` and
`paid` events on `messages.status` emit them only when the sender may learn them,
and the callbacks role sends a service only the kinds it chose (`callback_events`).

- `read`: only for an ADVANCED message whose citizen allowed read status for that
  service at the time of reading (decided then by `read_status.read_status_allowed`,
  and kept with the message);
- `paid`: only for an ADVANCED message;
- `notification` of an unread reminder (`REMINDER_READ`): never. Its very existence
  says the message is still unread; the sender learns that from `read_status`, when
  the citizen shares it. Such a notification gets no event and no sequence number,
  so no gap in the numbers hints at it either;
- every other kind (processed, rejected, failed, channel outcomes): always.
"""

from __future__ import annotations

from collections.abc import Collection

from schemas.enums import CallbackEventKind, FeatureLevel, NotificationKind
from schemas.events import StatusEvent


def shares_read(feature_level: str, read_status_allowed: bool) -> bool:
    """May the sender learn that the citizen read this message (decided at reading)?"""
    return feature_level == FeatureLevel.ADVANCED and read_status_allowed


def reports_notification(kind: str) -> bool:
    """Does a status change of a notification of this kind leave as an event?"""
    return kind != NotificationKind.REMINDER_READ


def shares_paid(feature_level: str) -> bool:
    return feature_level == FeatureLevel.ADVANCED


def kind_of(event: StatusEvent) -> CallbackEventKind:
    return CallbackEventKind(str(event.__struct_config__.tag))


def wanted(event: StatusEvent, kinds: Collection[str] | None) -> bool:
    """Does the service want this event on its callback? None: every kind."""
    return kinds is None or kind_of(event) in kinds
