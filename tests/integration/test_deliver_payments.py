"""Payment notices at delivery, over the real broker and PostgreSQL: the payee defaults
to the sender's organisation, the rpt_id is stored, and a notice already paid is paid
on arrival with its MessagePaid event after the status event."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.enums import FeatureLevel
from schemas.events import MessagePaid, MessageStatusChanged
from schemas.messages import Payee, PaymentData
from tests.factories import create_profile
from tests.integration.deliver_helpers import accepted, citizen, service_entry
from tests.integration.helpers import drain, status_events
from worker.bootstrap import Runtime
from worker.services.directory import Service

ORG = "12345678901"
NOTICE = "302000000000000001"
PAID_AT = datetime(2024, 5, 2, 9, 30, tzinfo=UTC)


async def test_the_payee_defaults_to_the_organisation_and_the_rpt_id_is_stored(
    runtime: Runtime,
) -> None:
    service = await service_entry(runtime, payments=True, organization_fiscal_code=ORG)
    await create_profile(runtime, citizen(1))
    defaulted = await accepted(
        runtime, service, citizen(1), payment_data=PaymentData(amount=1250, notice_number=NOTICE)
    )
    other = PaymentData(amount=1250, notice_number=NOTICE, payee=Payee(fiscal_code="98765432109"))
    given = await accepted(runtime, service, citizen(1), payment_data=other)

    await drain(runtime)

    found = await runtime.pool.fetch("SELECT id, content, rpt_id, paid_at FROM messages")
    stored = {r["id"]: r for r in found}
    assert stored[defaulted]["content"]["payment_data"]["payee"] == {"fiscal_code": ORG}
    assert stored[defaulted]["rpt_id"] == ORG + NOTICE
    assert stored[given]["rpt_id"] == "98765432109" + NOTICE
    assert {r["paid_at"] for r in found} == {None}


async def _paid_notice_arrives(
    runtime: Runtime,
    service: Service,
    fiscal_code: str,
    event_id: str,
    level: FeatureLevel = FeatureLevel.ADVANCED,
) -> str:
    """A payment for the notice is kept first; then the message arrives and is drained."""
    await runtime.pool.execute(
        "INSERT INTO payments (event_id, rpt_id, paid_at) VALUES ($1, $2, $3)",
        event_id,
        ORG + NOTICE,
        PAID_AT,
    )
    payment = PaymentData(amount=1250, notice_number=NOTICE)
    message_id = await accepted(runtime, service, fiscal_code, level, payment_data=payment)
    await drain(runtime)
    return message_id


async def test_a_notice_already_paid_is_paid_on_arrival(runtime: Runtime) -> None:
    service = await service_entry(runtime, payments=True, organization_fiscal_code=ORG)
    await create_profile(runtime, citizen(1))
    message_id = await _paid_notice_arrives(runtime, service, citizen(1), "ev-1")

    row = await runtime.pool.fetchrow(
        "SELECT status, paid_at, paid_seq, status_seq FROM messages WHERE id = $1", message_id
    )
    assert row is not None
    assert (row["status"], row["paid_at"], row["paid_seq"], row["status_seq"]) == (
        "PROCESSED",
        PAID_AT,
        2,
        2,
    )
    events = await status_events(runtime)
    assert [(type(e), e.seq) for e in events] == [(MessageStatusChanged, 1), (MessagePaid, 2)]
    paid = events[1]
    assert isinstance(paid, MessagePaid)
    assert (paid.rpt_id, paid.paid_at) == (ORG + NOTICE, PAID_AT)


async def test_a_rejected_notice_is_not_a_payable_message(runtime: Runtime) -> None:
    service = await service_entry(runtime, payments=True, organization_fiscal_code=ORG)
    message_id = await _paid_notice_arrives(runtime, service, citizen(2), "ev-2")

    row = await runtime.pool.fetchrow(
        "SELECT status, rpt_id, paid_at FROM messages WHERE id = $1", message_id
    )
    assert row is not None
    assert (row["status"], row["rpt_id"], row["paid_at"]) == ("REJECTED", None, None)
    events = await status_events(runtime)
    assert [type(e) for e in events] == [MessageStatusChanged]


async def test_a_standard_notice_paid_on_arrival_tells_its_sender_nothing(
    runtime: Runtime,
) -> None:
    service = await service_entry(runtime, payments=True, organization_fiscal_code=ORG)
    await create_profile(runtime, citizen(1))
    message_id = await _paid_notice_arrives(
        runtime, service, citizen(1), "ev-std", FeatureLevel.STANDARD
    )

    paid_at = await runtime.pool.fetchval("SELECT paid_at FROM messages WHERE id = $1", message_id)
    assert paid_at == PAID_AT
    assert [type(e) for e in await status_events(runtime)] == [MessageStatusChanged]
