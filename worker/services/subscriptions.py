"""IO's subscriptions feed: who subscribed to or unsubscribed from a
service on one UTC day, as hashes of their fiscal codes.

What counts as a change, recorded as it happens (`SubscriptionChanges.record`):
- the whole profile (`PROFILE`): created with its inbox enabled, its inbox switched
  on or off, deleted;
- one service: the inbox of that service switched on or off for the citizen, by a
  preference (AUTO or MANUAL mode) or by LEGACY blocked channels.
A change undone on the same day cancels out: the day records the net change only.

The feed of a day combines both levels as IO's does: a new profile is a subscription
to every service (unless it unsubscribed from this one that day), a deleted profile
an unsubscription (unless it subscribed to this one that day), and a service-level
change counts only for a citizen whose profile did not change level that day.

A day is served once it is over (UTC); a service reads the feed only when the
platform allowed it (a hash of a fiscal code is easy to reverse).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Protocol

#: The scope of a profile-level change (account created or deleted, inbox on or off).
PROFILE = ""


class FeedNotReady(Exception):
    """The day is not over yet (UTC): its feed may still change."""


class FeedNotAllowed(Exception):
    """The platform has not allowed this service to read the feed."""


def fiscal_code_hash(fiscal_code: str) -> str:
    """IO's `FiscalCodeHash`: lower-case hex SHA-256 of the upper-case fiscal code."""
    return hashlib.sha256(fiscal_code.upper().encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class DayChanges:
    """The net changes of one day, as sets of fiscal-code hashes."""

    profile_subscribed: frozenset[str] = frozenset()
    profile_unsubscribed: frozenset[str] = frozenset()
    service_subscribed: frozenset[str] = frozenset()
    service_unsubscribed: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Feed:
    day: date
    subscriptions: list[str]
    unsubscriptions: list[str]


class FeedStore(Protocol):
    async def feed_allowed(self, service_id: str) -> bool | None:
        """Whether the service may read the feed; None when there is no such service."""
        ...

    async def day_changes(self, day: date, service_id: str) -> DayChanges: ...


def combine(changes: DayChanges) -> tuple[list[str], list[str]]:
    """(subscriptions, unsubscriptions) of a service on a day, from both levels."""
    ps, pu = changes.profile_subscribed, changes.profile_unsubscribed
    ss, su = changes.service_subscribed, changes.service_unsubscribed
    profile_changed = ps | pu
    subscribed = (ps - su) | (ss - profile_changed)
    unsubscribed = (pu - ss) | (su - profile_changed)
    return sorted(subscribed), sorted(unsubscribed)


def closed(day: date, now: datetime) -> bool:
    """True once the UTC day is over."""
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=now.tzinfo)
    return now >= end


async def feed(store: FeedStore, service_id: str, day: date, now: datetime) -> Feed:
    """The day's feed for the service; `FeedNotAllowed` or `FeedNotReady` otherwise."""
    if not await store.feed_allowed(service_id):
        raise FeedNotAllowed(service_id)
    if not closed(day, now):
        raise FeedNotReady(day.isoformat())
    subscribed, unsubscribed = combine(await store.day_changes(day, service_id))
    return Feed(day, subscribed, unsubscribed)


def inbox_flips(
    before: dict[str, bool], after: dict[str, bool], services: Iterable[str]
) -> dict[str, bool]:
    """Services whose inbox changed between two states: service id -> subscribed now.
    `before`/`after` map a service to whether its inbox is enabled (absent: enabled)."""
    return {s: after.get(s, True) for s in services if before.get(s, True) != after.get(s, True)}


def _legacy_inbox(mode: str, blocked: dict[str, list[str]]) -> dict[str, bool]:
    """LEGACY mode: service id -> whether its inbox is enabled, for the services named."""
    if mode != "LEGACY":
        return {}
    return {service: "INBOX" not in channels for service, channels in blocked.items()}


def profile_changes(
    before: tuple[bool, str, dict[str, list[str]]] | None,
    after: tuple[bool, str, dict[str, list[str]]],
) -> dict[str, bool]:
    """What replacing a profile changes in the feed: scope -> subscribed now.

    A profile is given as (inbox_enabled, preferences_mode, blocked_channels); None
    before: it is new (a subscription, and an unsubscription from every service its
    LEGACY blocked channels close the inbox of). A change of preferences mode alone
    is not a change of the feed."""
    inbox, mode, blocked = after
    if before is None:
        changes = {PROFILE: True} if inbox else {}
        closed_now = _legacy_inbox(mode, blocked)
        changes.update({s: False for s, enabled in closed_now.items() if not enabled})
        return changes
    was_inbox, was_mode, was_blocked = before
    changes = {PROFILE: inbox} if was_inbox != inbox else {}
    if was_mode == mode == "LEGACY":
        old, new = _legacy_inbox(was_mode, was_blocked), _legacy_inbox(mode, blocked)
        changes.update(inbox_flips(old, new, set(old) | set(new)))
    return changes
