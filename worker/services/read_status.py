"""Read status as the sender may see it: one rule for the status GET, the `read`
callback and the operators' console (docs/integrators/premium.md).

What the citizen was told is what the sender sees. The app shows the citizen, per
service, whether read status is shared (`can_access_message_read_status`); the same
function answers it here, from the profile's preferences mode and the stored
preference:

- LEGACY: never shared (IO answers `UNAVAILABLE` for legacy profiles);
- AUTO: shared unless the citizen's preference for the service denies it;
- MANUAL: not shared unless the citizen's preference for the service allows it.

A read is reported only when it was shared both when the citizen read the message
(kept with the message as `read_consent`) and now: a citizen who read while told
"not shared" never sees that read reported, even after allowing it later.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.enums import FeatureLevel, MessageStatus, PreferencesMode, ReadStatus


def read_status_allowed(preferences_mode: str | None, stored: bool | None) -> bool:
    """The citizen's read-status consent for one service, right now. No profile
    (`preferences_mode` None): not shared."""
    if preferences_mode is None or preferences_mode == PreferencesMode.LEGACY:
        return False
    if stored is not None:
        return stored
    return preferences_mode == PreferencesMode.AUTO


@dataclass(frozen=True, slots=True)
class ReadFacts:
    """What is stored about one message and its citizen's consent for its sender."""

    feature_level_type: str
    status: str
    is_read: bool
    read_consent: bool | None
    preferences_mode: str | None
    stored_consent: bool | None


def sender_read_status(facts: ReadFacts) -> ReadStatus | None:
    """`read_status` for the sender: None for a STANDARD or not processed message."""
    if facts.feature_level_type != FeatureLevel.ADVANCED:
        return None
    if facts.status != MessageStatus.PROCESSED:
        return None
    if not read_status_allowed(facts.preferences_mode, facts.stored_consent):
        return ReadStatus.UNAVAILABLE
    if not facts.is_read:
        return ReadStatus.UNREAD
    return ReadStatus.READ if facts.read_consent else ReadStatus.UNAVAILABLE


def read_facts(row: dict[str, object]) -> ReadFacts:
    """The facts from a row with the columns of `READ_FACTS_SQL`."""
    mode, stored, consent = row["preferences_mode"], row["stored_consent"], row["read_consent"]
    return ReadFacts(
        feature_level_type=str(row["feature_level_type"]),
        status=str(row["status"]),
        is_read=bool(row["is_read"]),
        read_consent=None if consent is None else bool(consent),
        preferences_mode=None if mode is None else str(mode),
        stored_consent=None if stored is None else bool(stored),
    )


#: Columns (over `messages m`) that `read_facts` reads; each repository's query
#: selects them so the rule sees the same facts everywhere.
READ_FACTS_SQL = """
       m.is_read, m.read_consent,
       (SELECT p.preferences_mode FROM profiles p WHERE p.fiscal_code = m.fiscal_code)
         AS preferences_mode,
       (SELECT sp.can_access_message_read_status FROM service_preferences sp
         WHERE sp.fiscal_code = m.fiscal_code AND sp.service_id = m.sender_service_id)
         AS stored_consent"""
