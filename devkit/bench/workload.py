"""What the bench sends: a demo-like published service, citizens with profiles in
every preferences mode, and pre-encoded message bodies and records.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import asyncpg
import msgspec

from schemas import codecs
from schemas.enums import Channel
from schemas.messages import MessageContent, SubmittedMessage
from worker.ids import IdSigner
from worker.services.directory import hash_key

SERVICE_ID = "bench-service"
API_KEY = "postino-bench-key"
SUBJECT = "Avviso di pagamento TARI 2026"
MARKDOWN = (
    "Gentile cittadino, la informiamo che la rata della TARI per il 2026 scade il 30 "
    "novembre. Il pagamento puo' essere effettuato dall'app IO. Grazie per la collaborazione."
)
_MODES = ("LEGACY", "AUTO", "MANUAL")


def fiscal_code(n: int) -> str:
    """A valid, distinct fiscal code for 0 <= n < 100000."""
    return f"BNCMRA{n % 100:02d}A{(n // 100) % 100:02d}H{(n // 10000) % 10:03d}U"


def citizens(count: int) -> list[str]:
    return [fiscal_code(n) for n in range(count)]


async def seed(conn: asyncpg.Connection, count: int) -> None:
    """Idempotent: the bench service (limits out of the way) and `count` citizens.

    Modes rotate LEGACY/AUTO/MANUAL; LEGACY citizens block EMAIL for the service, MANUAL
    ones have an explicit preference (every 10th with the inbox off: REJECTED path).
    """
    await conn.execute(
        """
        INSERT INTO services (id, name, organization_name, organization_fiscal_code, state,
                              published, api_key_hash, premium, payments,
                              rate_per_second, daily_quota)
        VALUES ($1, 'Servizio bench', 'Comune di Esempio', '01234567891', 'approved',
                true, $2, true, true, 1000000000, 2000000000)
        ON CONFLICT (id) DO NOTHING
        """,
        SERVICE_ID,
        hash_key(API_KEY),
    )
    codes = citizens(count)
    modes = [_MODES[n % 3] for n in range(count)]
    blocked = [json.dumps({SERVICE_ID: ["EMAIL"]}) if m == "LEGACY" else "{}" for m in modes]
    await conn.execute(
        """
        INSERT INTO profiles (fiscal_code, email, email_validated, preferences_mode,
                              blocked_channels)
        SELECT fc, fc || '@example.org', true, mode, blocked::jsonb
        FROM unnest($1::text[], $2::text[], $3::text[]) AS t(fc, mode, blocked)
        ON CONFLICT (fiscal_code) DO NOTHING
        """,
        codes,
        modes,
        blocked,
    )
    manual = [(fc, n % 30 != 2) for n, fc in enumerate(codes) if modes[n] != "LEGACY"]
    await conn.execute(
        """
        INSERT INTO service_preferences (fiscal_code, service_id, is_inbox_enabled)
        SELECT fc, $2, inbox FROM unnest($1::text[], $3::bool[]) AS t(fc, inbox)
        ON CONFLICT DO NOTHING
        """,
        [fc for fc, _ in manual],
        SERVICE_ID,
        [inbox for _, inbox in manual],
    )


#: The sender of the history rows (`reset_history`): outside every phase's figures.
HISTORY_SERVICE_ID = "bench-history"
#: Messages already in the inbox when a phase starts, each with its two notifications.
HISTORY_MESSAGES = 20_000

_HISTORY = """
WITH m AS (
    INSERT INTO messages (id, fiscal_code, sender_service_id, created_at, time_to_live,
                          feature_level_type, content, status, status_seq, processed_at)
    SELECT 'H' || lpad(n::text, 25, '0'), 'HSTCTZ' || lpad((n % 5000)::text, 10, '0'),
           $2, t, 3600, 'STANDARD', $3::jsonb, 'PROCESSED', 3, t
    FROM generate_series(1, $1::int) AS n,
         LATERAL (SELECT now() - interval '2 days' + n * interval '1 second' AS t) AS at
    RETURNING id, fiscal_code, created_at
)
INSERT INTO notifications (id, message_id, fiscal_code, sender_service_id, channel, kind,
                           status, attempts, deadline, status_seq, created_at, updated_at)
SELECT m.id || '-' || lower(c) || '-message', m.id, m.fiscal_code, $2, c, 'MESSAGE',
       'SENT', 1, m.created_at + interval '1 hour', s, m.created_at, m.created_at
FROM m, unnest(ARRAY['PUSH', 'EMAIL'], ARRAY[2, 3]) AS ch(c, s)
"""


async def reset_history(conn: asyncpg.Connection, count: int = HISTORY_MESSAGES) -> None:
    """Empty inbox and notifications, then `count` delivered messages of two days ago
    (another sender), analyzed: each phase starts on tables that have a history and
    statistics, as in production. On tables emptied just before, the planner's first
    plans see one page and scan it; a prepared statement keeps such a generic plan
    while its table grows through the phase, which no production table does."""
    content = msgspec.json.encode({"subject": SUBJECT, "markdown": MARKDOWN}).decode()
    await conn.execute("TRUNCATE messages, notifications")
    await conn.execute(_HISTORY, count, HISTORY_SERVICE_ID, content)
    await conn.execute("ANALYZE messages, notifications, profiles, service_preferences, services")


def channels(count: int) -> dict[str, tuple[Channel, ...]]:
    """The channels our pipeline notifies per citizen under the rules `seed` sets up
    (absent: the message is rejected, inbox off); for the full-pipeline ceiling."""
    found: dict[str, tuple[Channel, ...]] = {}
    for n, fc in enumerate(citizens(count)):
        mode = _MODES[n % 3]
        if mode == "LEGACY":
            found[fc] = (Channel.PUSH,)
        elif mode == "AUTO" or n % 30 != 2:
            found[fc] = (Channel.PUSH, Channel.EMAIL)
    return found


def submit_bodies(count: int) -> list[bytes]:
    """`POST /api/v1/messages` bodies, one per citizen."""
    return [
        msgspec.json.encode(
            {"fiscal_code": fc, "content": {"subject": SUBJECT, "markdown": MARKDOWN}}
        )
        for fc in citizens(count)
    ]


def submitted_records(
    count: int, citizens_count: int, signer: IdSigner
) -> list[tuple[bytes, bytes]]:
    """(key, value) of `messages.submitted` records, as the ingress would write them."""
    codes = citizens(citizens_count)
    content = MessageContent(subject=SUBJECT, markdown=MARKDOWN)
    out = []
    for n in range(count):
        fc = codes[n % len(codes)]
        record = SubmittedMessage(
            id=signer.new(SERVICE_ID, fc),
            sender_service_id=SERVICE_ID,
            fiscal_code=fc,
            created_at=datetime.now(UTC),
            content=content,
        )
        out.append((fc.encode(), codecs.SUBMITTED.encode(record)))
    return out
