"""The pipeline ceiling: raw aiokafka consume -> one multi-row INSERT -> commit.

The least a Kafka-to-PostgreSQL worker can do with these records on this machine:
typed decode, one `INSERT ... SELECT unnest(...)` per poll batch into the same inbox
table (same indexes), then the offset commit. No rules, no events, no context.
"""

from __future__ import annotations

import time

import asyncpg
import msgspec

from schemas import codecs
from schemas.topics import Topic
from worker.adapters import kafka
from worker.settings import KafkaSettings

_INSERT = """
INSERT INTO messages (id, fiscal_code, sender_service_id, created_at, time_to_live,
                      feature_level_type, content, status)
SELECT id, fc, sid, created, ttl, level, content::jsonb, 'PROCESSED'
FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::int[], $6::text[],
            $7::text[]) AS t(id, fc, sid, created, ttl, level, content)
ON CONFLICT (id) DO NOTHING
"""


async def drain(settings: KafkaSettings, bootstrap: str, url: str, expected: int) -> float:
    """Consume `expected` records of `<prefix>messages.submitted`; returns the seconds taken."""
    consumer = kafka.consumer(settings, bootstrap, f"{settings.group_prefix}.bench-ceiling")
    conn = await asyncpg.connect(url)
    started = time.perf_counter()
    await consumer.start()
    try:
        topic = settings.topics.name(Topic.SUBMITTED)
        consumer.assign(await kafka.all_partitions(consumer, [topic]))
        done = 0
        while done < expected:
            batches = await consumer.getmany(timeout_ms=100)
            records = [r for recs in batches.values() for r in recs]
            if not records:
                continue
            await conn.execute(_INSERT, *_columns(records))
            await consumer.commit({tp: recs[-1].offset + 1 for tp, recs in batches.items()})
            done += len(records)
        return time.perf_counter() - started
    finally:
        await consumer.stop()
        await conn.close()


def _columns(records: list[object]) -> tuple[list[object], ...]:
    cols: tuple[list[object], ...] = ([], [], [], [], [], [], [])
    for record in records:
        msg = codecs.SUBMITTED.decode(record.value)  # type: ignore[attr-defined]
        cols[0].append(msg.id)
        cols[1].append(msg.fiscal_code)
        cols[2].append(msg.sender_service_id)
        cols[3].append(msg.created_at)
        cols[4].append(msg.time_to_live)
        cols[5].append(msg.feature_level_type.value)
        cols[6].append(msgspec.json.encode(msg.content).decode())
    return cols
