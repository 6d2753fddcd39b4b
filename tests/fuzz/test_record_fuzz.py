"""Fuzzing the consumers: hypothesis-generated records on `messages.submitted` and
`payments.updates` (valid by schema, poisoned text, wrong shapes, deep nesting, bytes
that are not JSON), through the real deliver and payments roles.

Oracle: the loop neither crashes nor stalls (it drains every record produced); every
record is accounted for (stored, or in the DLQ with an error code); every record the
ingress accepted (a 201: a signed id) ends PROCESSED, REJECTED or FAILED.
"""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import strategies as st

from schemas.patterns import FISCAL_CODE_BODY, SANDBOX_FISCAL_CODE
from schemas.topics import Topic
from tests.factories import MARKDOWN, create_profile, create_service
from tests.fuzz.generate import SCALE, Tally, deep, examples, poisoned
from tests.integration.helpers import drain, read_topic
from worker.adapters.services_repo import ServicesRepo
from worker.bootstrap import Runtime
from worker.core.records import OutRecord, Record
from worker.ids import record_id
from worker.roles import deliver, payments
from worker.services.ports import INGRESS_ORIGIN

CITIZEN = "RSSMRA80A01H501U"
FINAL = {"PROCESSED", "REJECTED", "FAILED"}
_FC = FISCAL_CODE_BODY

fiscal_codes = st.one_of(
    st.sampled_from([CITIZEN, SANDBOX_FISCAL_CODE]),
    st.from_regex(_FC, fullmatch=True),
    st.text(max_size=20),
)
json_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30)
)
any_json = st.recursive(
    json_leaves,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
subjects = st.one_of(
    st.just("Avviso di pagamento TARI"),
    st.text(min_size=10, max_size=120),
    poisoned(st.just("Promemoria TARI 2026")),
    st.text(max_size=200),
)
markdowns = st.one_of(
    st.just(MARKDOWN),
    st.text(min_size=80, max_size=300),
    poisoned(st.just(MARKDOWN)),
)


def _contents() -> st.SearchStrategy[dict[str, Any]]:
    payment = st.fixed_dictionaries(
        {
            "amount": st.integers(-5, 10**11),
            "notice_number": st.from_regex(r"[0123][0-9]{17}", fullmatch=True)
            | st.text(max_size=20),
        }
    )
    return st.fixed_dictionaries(
        {"subject": subjects, "markdown": markdowns},
        optional={
            "due_date": st.datetimes().map(lambda d: d.isoformat()) | st.text(max_size=30),
            "payment_data": payment,
            "prescription_data": any_json | st.just(deep(40)),
            "require_secure_channels": st.booleans(),
            "third_party_data": st.fixed_dictionaries({"id": st.text(max_size=10)}),
        },
    )


def submitted_values(service_id: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "sender_service_id": st.sampled_from([service_id, service_id, "svc-nobody"]),
            "fiscal_code": fiscal_codes,
            "content": _contents(),
        },
        optional={
            "id": st.text(min_size=1, max_size=70),
            "time_to_live": st.integers(0, 10**7),
            "feature_level_type": st.sampled_from(["STANDARD", "ADVANCED", "PREMIUM"]),
            "created_at": st.datetimes().map(lambda d: d.isoformat()) | st.text(max_size=10),
        },
    )


def _encode(value: Any) -> bytes:
    return json.dumps(value).encode()  # lone surrogates become \\udXXX escapes


def upstream_records(service_id: str) -> st.SearchStrategy[bytes]:
    return st.one_of(
        submitted_values(service_id).map(_encode),
        any_json.map(_encode),
        st.binary(max_size=40),
        st.just(_encode(deep(60))),
    )


payment_values = st.one_of(
    st.fixed_dictionaries(
        {
            "id": st.text(min_size=1, max_size=40) | poisoned(st.just("evt")),
            "debtorPosition": st.fixed_dictionaries(
                {
                    "noticeNumber": st.from_regex(r"[0123][0-9]{17}", fullmatch=True)
                    | st.text(max_size=20)
                }
            ),
            "creditor": st.fixed_dictionaries(
                {"idPA": st.from_regex(r"[0-9]{11}", fullmatch=True) | st.text(max_size=12)}
            ),
        },
        optional={
            "paymentInfo": st.fixed_dictionaries(
                {},
                optional={
                    "paymentDateTime": st.datetimes().map(lambda d: d.isoformat())
                    | st.text(max_size=8),
                    "amount": json_leaves,
                },
            ),
            "extra": any_json,
        },
    ).map(_encode),
    any_json.map(_encode),
    st.binary(max_size=40),
    st.just(_encode({"id": "deep", "x": deep(60)})),
)


def _dead_offsets(dead: list[Record]) -> dict[int, bytes]:
    codes: dict[int, bytes] = {}
    for record in dead:
        offset = record.header("postino-original-offset")
        code = record.header("postino-error-code")
        assert code, "a DLQ record without an error code"
        if offset is not None:
            codes[int(offset)] = code
    return codes


async def test_fuzzed_submitted_records_are_stored_or_dead_lettered_with_a_code(
    runtime: Runtime,
) -> None:
    service_id, _ = await create_service(runtime, premium=True, payments=True)
    await create_profile(runtime, CITIZEN)
    service = await _service(runtime, service_id)
    upstream = examples(upstream_records(service_id), SCALE * 6)
    accepted = examples(submitted_values(service_id), SCALE * 3)
    topic = runtime.settings.kafka.topics.name(Topic.SUBMITTED)
    signed: list[str] = []
    out = [OutRecord(topic, value, b"k") for value in upstream]
    for value in accepted:  # as the ingress writes them after a 201 (an older ingress)
        fiscal_code = value["fiscal_code"] if isinstance(value["fiscal_code"], str) else CITIZEN
        if not _storable(fiscal_code):
            fiscal_code = CITIZEN
        value |= {"sender_service_id": service.id, "fiscal_code": fiscal_code}
        value["id"] = runtime.signer.new(service.id, fiscal_code)
        signed.append(value["id"])
        out.append(OutRecord(topic, _encode(value), b"k", (INGRESS_ORIGIN,)))
    await runtime.publisher.publish_many(out)

    handled = await drain(runtime, deliver.build)  # raises if the loop crashed

    tally = Tally("messages.submitted records")
    produced = await read_topic(runtime, Topic.SUBMITTED)
    assert handled == len(produced) == len(out), "the deliver loop stalled"
    dead = _dead_offsets(await read_topic(runtime, f"{Topic.SUBMITTED}.dlq"))
    rows = {
        r["id"]: r["status"] for r in await runtime.pool.fetch("SELECT id, status FROM messages")
    }
    lost = []
    for record in produced:
        from_ingress = record.header(INGRESS_ORIGIN[0]) is not None
        what = "ingress (201)" if from_ingress else "upstream"
        message_id = _id_of(record)
        if message_id in rows:
            tally.add(what, rows[message_id])
        elif record.offset in dead:
            tally.add(what, f"dlq {dead[record.offset].decode()}")
        else:
            lost.append(record.offset)
    print("\n" + tally.table())
    assert lost == [], "records neither stored nor dead-lettered"
    not_final = [i for i in signed if rows.get(i) not in FINAL]
    print(f"accepted (201) records: {len(signed)}, not final: {len(not_final)}")
    lost_values = [r.value for r in produced if _id_of(r) in not_final]
    assert not_final == [], f"accepted but not final: {lost_values!r:.2000}"


async def test_fuzzed_payment_events_are_kept_or_dead_lettered_with_a_code(
    runtime: Runtime,
) -> None:
    values = examples(payment_values, SCALE * 6)
    topic = runtime.settings.kafka.topics.name(Topic.PAYMENTS)
    await runtime.publisher.publish_many([OutRecord(topic, v, b"k") for v in values])

    handled = await drain(runtime, payments.build)

    produced = await read_topic(runtime, Topic.PAYMENTS)
    assert handled == len(produced) == len(values), "the payments loop stalled"
    dead = _dead_offsets(await read_topic(runtime, f"{Topic.PAYMENTS}.dlq"))
    kept = {r["event_id"] for r in await runtime.pool.fetch("SELECT event_id FROM payments")}
    tally = Tally("payments.updates records")
    lost = []
    for record in produced:
        event_id = _field(record.value, "id")
        if record.offset in dead:
            tally.add("payment", f"dlq {dead[record.offset].decode()}")
        elif event_id in kept:
            tally.add("payment", "kept")
        else:
            lost.append(record.offset)
    print("\n" + tally.table())
    assert lost == []


async def _service(runtime: Runtime, service_id: str) -> Any:

    entry = await ServicesRepo(runtime.pool).directory_entry(service_id)
    assert entry is not None
    return entry


def _storable(fiscal_code: str) -> bool:

    return re.fullmatch(_FC, fiscal_code) is not None


def _field(value: bytes | None, name: str) -> Any:
    try:
        decoded = json.loads(value or b"")
    except (ValueError, RecursionError):
        return None
    return decoded.get(name) if isinstance(decoded, dict) else None


def _id_of(record: Record) -> str | None:
    explicit = _field(record.value, "id")
    if isinstance(explicit, str):
        return explicit
    return record_id(record.topic, record.partition, record.offset, record.timestamp_ms)
