"""Every message that got a 201 ends final (docs/integrators/sending.md): a `messages.submitted`
record that deliver dead-letters, for any reason, is also stored `FAILED` with a
`failure_reason`, and its status event is emitted, whenever its id can be read and is
one the ingress issued (signed for that service and citizen: a 201 was given for it).

Records produced straight to Kafka got no 201: they stay in the DLQ with their reason,
to be fixed and replayed (a FAILED row would make the replay a no-op, and some of
their refusals, such as `quota_exceeded`, are meant to be replayed later).

The read is a token scan of the record's top level (any depth, broken or not) and
what is stored is safe by construction: visible-ASCII ids, a fiscal code that matches
its pattern, an empty content (the refused content is in the DLQ record, not in the
inbox). A record whose id cannot be read is only in the DLQ.
An id already taken keeps its row (`ON CONFLICT DO NOTHING`): nothing is overwritten.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from schemas.enums import FailureReason, FeatureLevel, MessageStatus
from schemas.patterns import is_fiscal_code
from worker.core.batch import DeadLetter
from worker.core.text_rules import top_level_strings
from worker.services.model import InboxRow

#: (message id, service id, fiscal code) -> did the ingress issue this id?
Issued = Callable[[str, str, str], bool]
_ID = re.compile(r"[\x21-\x7e]{1,64}")
#: Dead letters that are not a message of their own (another message holds the id).
_NOT_A_MESSAGE = frozenset({"duplicate_id"})
_REASONS = {
    "unknown_service": FailureReason.SERVICE_NOT_FOUND,
    "processing_error": FailureReason.PROCESSING_ERROR,
}


def _created_at(raw: str | None, fallback_ms: int) -> datetime:
    if isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return datetime.fromtimestamp(fallback_ms / 1000, UTC)


def failed_row(dead: DeadLetter, issued: Issued) -> InboxRow | None:
    """The FAILED row of a dead-lettered ingress record, or None."""
    if dead.code in _NOT_A_MESSAGE:
        return None
    named = top_level_strings(dead.record.value or b"")
    message_id, service_id = named.get("id", ""), named.get("sender_service_id", "")
    fiscal_code = named.get("fiscal_code", "")
    if not (_ID.fullmatch(message_id) and _ID.fullmatch(service_id)):
        return None
    if not is_fiscal_code(fiscal_code):
        return None
    if not issued(message_id, service_id, fiscal_code):
        return None
    level = named.get("feature_level_type")
    return InboxRow(
        id=message_id,
        fiscal_code=fiscal_code,
        sender_service_id=service_id,
        created_at=_created_at(named.get("created_at"), dead.record.timestamp_ms),
        # The ingress never writes a TTL it did not check; unreadable, the default.
        time_to_live=3600,
        feature_level_type=level if level in tuple(FeatureLevel) else FeatureLevel.STANDARD,
        content=None,
        status=MessageStatus.FAILED,
        failure_reason=_REASONS.get(dead.code, FailureReason.INVALID_MESSAGE),
    )


def failed_rows(dead: Sequence[DeadLetter], issued: Issued) -> list[InboxRow]:
    rows: dict[str, InboxRow] = {}
    for letter in dead:
        row = failed_row(letter, issued)
        if row is not None:
            rows.setdefault(row.id, row)
    return list(rows.values())
