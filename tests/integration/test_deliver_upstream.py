"""Upstream producers writing straight to `messages.submitted`, over the real broker and
PostgreSQL: the ingress's rules apply, refusals go to the DLQ with their reason and
origin, the partition keeps flowing, and a replayed or redone record changes nothing."""

from __future__ import annotations

import json
from typing import Any

from schemas.topics import Topic
from tests.factories import MARKDOWN, create_profile, create_service
from tests.integration.deliver_helpers import citizen, rows
from tests.integration.helpers import drain, read_topic
from worker.adapters.inbox import PostgresInbox
from worker.bootstrap import Runtime
from worker.core.records import OutRecord, Record
from worker.ids import record_id, upstream_id
from worker.services.deliver import DeliverDeps, deliver_batch
from worker.services.ports import INGRESS_ORIGIN


def body(service_id: str, fiscal_code: str, **extra: Any) -> dict[str, Any]:
    content = {"subject": "Avviso di pagamento TARI", "markdown": MARKDOWN}
    content.update(extra.pop("content", {}))
    return {
        "sender_service_id": service_id,
        "fiscal_code": fiscal_code,
        "content": content,
        **extra,
    }


async def produce(runtime: Runtime, *values: bytes, headers: Any = ()) -> None:
    """All on one partition (same key), in this order."""
    topic = runtime.settings.kafka.topics.name(Topic.SUBMITTED)
    await runtime.publisher.publish_many(
        [OutRecord(topic, value, citizen(1).encode(), headers) for value in values]
    )


def encoded(value: dict[str, Any]) -> bytes:
    return json.dumps(value).encode()


def header(record: Record, name: str) -> str:
    raw = record.header(name)
    assert raw is not None, name
    return raw.decode()


async def test_a_poison_record_between_two_valid_ones_delays_neither(runtime: Runtime) -> None:
    service_id, _ = await create_service(runtime)
    await create_profile(runtime, citizen(1))
    first = encoded(body(service_id, citizen(1), id="up-1"))
    last = encoded(body(service_id, citizen(1), id="up-2"))
    await produce(runtime, first, b"{not json", last)

    assert await drain(runtime) == 3

    assert {i: r["status"] for i, r in (await rows(runtime)).items()} == {
        upstream_id(service_id, "up-1"): "PROCESSED",
        upstream_id(service_id, "up-2"): "PROCESSED",
    }
    [dead] = await read_topic(runtime, Topic.SUBMITTED.dlq())
    assert dead.value == b"{not json"
    assert dead.key == citizen(1).encode()
    assert header(dead, "postino-error-code") == "not_json"
    assert header(dead, "postino-error-detail")
    assert header(dead, "postino-original-topic") == runtime.settings.kafka.topics.name(
        Topic.SUBMITTED
    )
    source = await read_topic(runtime, Topic.SUBMITTED)
    poison = next(r for r in source if r.value == b"{not json")
    assert header(dead, "postino-original-partition") == str(poison.partition)
    assert header(dead, "postino-original-offset") == str(poison.offset)


async def test_upstream_records_get_the_ingress_rules(runtime: Runtime) -> None:
    open_id, _ = await create_service(runtime, payments=True, max_allowed_payment_amount=100)
    draft_id, _ = await create_service(runtime, state="draft", published=False)
    deleted_id, _ = await create_service(runtime, state="deleted")
    await create_profile(runtime, citizen(1))
    payment = {"payment_data": {"amount": 101, "notice_number": "012345678901234567"}}
    refused = {
        "not_json": b"\xff\xfe",
        "invalid_message": encoded(body(open_id, "not-a-fiscal-code")),
        "unknown_service": encoded(body("svc-nobody", citizen(1))),
        "recipient_forbidden": encoded(body(draft_id, citizen(1))),
        "service_deleted": encoded(body(deleted_id, citizen(1))),
        "premium_required": encoded(body(open_id, citizen(1), feature_level_type="ADVANCED")),
        "amount_above_maximum": encoded(body(open_id, citizen(1), content=payment)),
        "personal_data_in_subject": encoded(
            body(open_id, citizen(1), content={"subject": f"Avviso per {citizen(1)}"})
        ),
    }
    # Copying the ingress's header does not make a record "accepted by the ingress".
    forged = encoded(body("svc-nobody", citizen(1), id="01M80ZZ7YPV52GGSADHPENDADE"))
    await produce(runtime, *refused.values())
    await produce(runtime, forged, headers=(INGRESS_ORIGIN,))

    await drain(runtime)

    assert await rows(runtime) == {}
    codes = [
        header(r, "postino-error-code") for r in await read_topic(runtime, "messages.submitted.dlq")
    ]
    assert codes == [*refused, "unknown_service"]


async def test_an_upstream_record_without_id_gets_one_from_its_position(runtime: Runtime) -> None:
    service_id, _ = await create_service(runtime)
    await produce(runtime, encoded(body(service_id, citizen(2))))

    await drain(runtime)

    [source] = await read_topic(runtime, Topic.SUBMITTED)
    expected = record_id(source.topic, source.partition, source.offset, source.timestamp_ms)
    assert {i: r["rejection_reason"] for i, r in (await rows(runtime)).items()} == {
        expected: "USER_NOT_FOUND"
    }


async def test_a_redone_batch_writes_nothing_new_and_re_emits_identical_records(
    runtime: Runtime,
) -> None:
    service_id, _ = await create_service(runtime)
    await create_profile(runtime, citizen(1), email="a@example.org", email_validated=True)
    await produce(
        runtime,
        encoded(body(service_id, citizen(1), id="again-1")),
        encoded(body(service_id, citizen(4))),
    )
    records = await read_topic(runtime, Topic.SUBMITTED)
    deps = DeliverDeps(PostgresInbox(runtime.pool), runtime.settings.kafka.topics, runtime.signer)

    first = await deliver_batch(records, deps)
    before = await rows(runtime)
    again = await deliver_batch(records, deps)

    assert again == first
    assert len(first.out) == 4  # two status events, push and email requests
    assert await rows(runtime) == before
