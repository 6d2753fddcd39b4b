"""Fuzzing the consumers: `RECORDS` hypothesis-generated records on each of
`messages.submitted`, `payments.updates` and `messages.status`, produced in bulk by
one producer and drained by the real deliver, payments and callbacks roles, with
tracing on (an in-process OpenTelemetry SDK); among them a record nested 1,000 deep
carrying a `traceparent` (`test_deep_record` also sends it alone through each role).

Oracle: the loop neither crashes nor stalls (it drains every record produced) and is
alive afterwards (a valid record produced after the fuzz is handled by the same
loop); every record is accounted for (stored, or in the DLQ with an error code);
every record the ingress accepted (a 201: a signed id) ends PROCESSED, REJECTED or
FAILED.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from schemas.patterns import FISCAL_CODE_BODY
from schemas.topics import Topic
from tests.factories import create_profile, create_service
from tests.fuzz.generate import RECORDS, TIMEOUT, Tally, examples
from tests.fuzz.loops import Traced, consume_then_canary, dead_offsets, field, ids_of
from tests.fuzz.records import (
    CITIZEN,
    deepest,
    encode,
    headers_of,
    payment_records,
    submitted_values,
    upstream_records,
)
from tests.integration.helpers import read_topic
from worker.adapters.services_repo import ServicesRepo
from worker.bootstrap import Runtime
from worker.core.records import OutRecord
from worker.roles import deliver, payments
from worker.services.ports import INGRESS_ORIGIN

pytestmark = pytest.mark.timeout(TIMEOUT)

FINAL = {"PROCESSED", "REJECTED", "FAILED"}


def _storable(fiscal_code: Any) -> bool:
    return isinstance(fiscal_code, str) and re.fullmatch(FISCAL_CODE_BODY, fiscal_code) is not None


async def _signed(runtime: Runtime, service_id: str, values: list[dict[str, Any]]) -> list[Any]:
    """The values as the ingress writes them after a 201 (an older ingress: the
    checks are deliver's again), each with a signed id."""
    entry = await ServicesRepo(runtime.pool).directory_entry(service_id)
    assert entry is not None
    signed = []
    for value in values:
        fiscal_code = value["fiscal_code"] if _storable(value["fiscal_code"]) else CITIZEN
        value |= {"sender_service_id": entry.id, "fiscal_code": fiscal_code}
        value["id"] = runtime.signer.new(entry.id, fiscal_code)
        signed.append(value)
    return signed


async def test_fuzzed_submitted_records_are_stored_or_dead_lettered_with_a_code(
    runtime: Runtime, traced: Traced
) -> None:
    service_id, _ = await create_service(
        runtime, premium=True, payments=True, rate_per_second=10**6, daily_quota=10**9
    )
    await create_profile(runtime, CITIZEN)
    topic = runtime.settings.kafka.topics.name(Topic.SUBMITTED)
    started = time.perf_counter()
    upstream = examples(upstream_records(service_id), RECORDS * 2 // 3)
    accepted = await _signed(
        runtime, service_id, examples(submitted_values(service_id), RECORDS - len(upstream))
    )
    canary = (await _signed(runtime, service_id, examples(submitted_values(service_id), 1)))[0]
    canary["content"] = {"subject": "Avviso di pagamento TARI", "markdown": "x" * 90}
    out = [OutRecord(topic, value, b"k", headers_of(tp)) for value, tp in upstream]
    out += [OutRecord(topic, encode(v), b"k", (INGRESS_ORIGIN,)) for v in accepted]
    out.append(deepest(topic))
    drawn = time.perf_counter()

    last = OutRecord(topic, encode(canary), b"k", (INGRESS_ORIGIN,))
    loop = await consume_then_canary(runtime, deliver.build, out, [last])

    produced = [r for r in await read_topic(runtime, Topic.SUBMITTED) if r.value != last.value]
    assert loop.handled == len(out) and loop.after == 1, "the deliver loop stalled or died"
    dead = dead_offsets(await read_topic(runtime, f"{Topic.SUBMITTED}.dlq"))
    rows = {
        r["id"]: r["status"] for r in await runtime.pool.fetch("SELECT id, status FROM messages")
    }
    tally, lost = Tally("messages.submitted records (origin, outcome)"), []
    for record in produced:
        what = "ingress (201)" if record.header(INGRESS_ORIGIN[0]) is not None else "upstream"
        stored = [rows[i] for i in ids_of(record) if i in rows]
        if stored:
            tally.add(what, stored[0])
        elif record.offset in dead.get(record.partition, {}):
            tally.add(what, f"dlq {dead[record.partition][record.offset].decode()}")
        else:
            lost.append((record.partition, record.offset))
    print("\n" + tally.table())
    signed = [v["id"] for v in accepted]
    not_final = [i for i in signed if rows.get(i) not in FINAL]
    print(
        f"messages.submitted: {len(out)} records ({len(signed)} as accepted by the ingress),"
        f" {len(not_final)} accepted but not final, {traced.spans} spans;"
        f" drawn in {drawn - started:.1f} s, consumed in {loop.seconds:.1f} s"
    )
    assert rows.get(canary["id"]) in FINAL, "the canary after the fuzz was not handled"
    assert lost == [], "records neither stored nor dead-lettered"
    assert not_final == []


async def test_fuzzed_payment_events_are_kept_or_dead_lettered_with_a_code(
    runtime: Runtime, traced: Traced
) -> None:
    topic = runtime.settings.kafka.topics.name(Topic.PAYMENTS)
    started = time.perf_counter()
    out = [
        OutRecord(topic, v, b"k", headers_of(tp)) for v, tp in examples(payment_records, RECORDS)
    ]
    out.append(deepest(topic))
    canary = {
        "id": "canary-event",
        "debtorPosition": {"noticeNumber": "302000000000000042"},
        "creditor": {"idPA": "12345678901"},
    }
    drawn = time.perf_counter()

    last = OutRecord(topic, encode(canary), b"k")
    loop = await consume_then_canary(runtime, payments.build, out, [last])

    produced = [r for r in await read_topic(runtime, Topic.PAYMENTS) if r.value != last.value]
    assert loop.handled == len(out) and loop.after == 1, "the payments loop stalled or died"
    dead = dead_offsets(await read_topic(runtime, f"{Topic.PAYMENTS}.dlq"))
    kept = {r["event_id"] for r in await runtime.pool.fetch("SELECT event_id FROM payments")}
    tally, lost = Tally("payments.updates records (outcome)"), []
    for record in produced:
        if record.offset in dead.get(record.partition, {}):
            tally.add("payment", f"dlq {dead[record.partition][record.offset].decode()}")
        elif field(record.value, "id") in kept:
            tally.add("payment", "kept")
        else:
            lost.append((record.partition, record.offset))
    print("\n" + tally.table())
    print(
        f"payments.updates: {len(out)} records, {traced.spans} spans;"
        f" drawn in {drawn - started:.1f} s, consumed in {loop.seconds:.1f} s"
    )
    assert "canary-event" in kept, "the canary after the fuzz was not handled"
    assert lost == []
