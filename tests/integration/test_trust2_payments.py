"""Payments: the sender is the creditor, and a paid notice is never reminded.

- An explicit `payment_data.payee` must be the sending organisation, unless the
  service is entitled to collect for that other body (`payee_fiscal_codes`).
- Before each payment reminder, the notice's status is asked of pagoPA (the notice
  lookup, `GET {base}/payment-requests/{rpt_id}` with the subscription key): a notice
  pagoPA reports as already paid (duplicated) gets no reminder even when the
  payment event never reached Postino.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.factories import create_profile, create_service, message_body
from tests.integration.helpers import ADMIN
from tests.integration.premium_helpers import CITIZEN, NOTICE, ORG, insert_message
from tests.integration.sender_helpers import key
from worker.bootstrap import Runtime, payment_status
from worker.ingress.app import reload_services
from worker.roles.reminders import run_round

ROME = ZoneInfo("Europe/Rome")
OTHER_BODY = "99999999999"
PAID_NOTICE = "302000000000000009"
ARRIVAL = datetime(2024, 5, 1, 10, 0, tzinfo=ROME)
DUE = datetime(2024, 5, 20, 12, 0, tzinfo=ROME)
D_MINUS_10 = datetime(2024, 5, 10, 8, 0, tzinfo=ROME)
KEY = "pagopa-subscription-key"


def _payment(payee: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {"amount": 1250, "notice_number": NOTICE}
    if payee is not None:
        data["payee"] = {"fiscal_code": payee}
    body = message_body(CITIZEN, payment_data=data)
    return body


async def _submit(
    runtime: Runtime, client: TestClient[Any, Any], payee: str | None, **service: Any
) -> Any:
    _, api_key = await create_service(runtime, payments=True, **service)
    await reload_services(client.app)
    return await client.post("/api/v1/messages", json=_payment(payee), headers=key(api_key))


async def test_a_payee_other_than_the_sender_is_refused(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    resp = await _submit(runtime, client, OTHER_BODY)
    assert resp.status == 403, await resp.text()
    assert "payee" in (await resp.json())["detail"]


async def test_the_sending_organisation_as_payee_is_accepted(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    assert (await _submit(runtime, client, ORG)).status == 201
    assert (await _submit(runtime, client, None)).status == 201


async def test_a_service_entitled_to_collect_for_another_body_may_name_it(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    resp = await _submit(runtime, client, OTHER_BODY, payee_fiscal_codes=[OTHER_BODY])
    assert resp.status == 201, await resp.text()


async def test_the_entitlement_is_set_by_the_back_office(client: TestClient[Any, Any]) -> None:
    resp = await client.post(
        "/api/v1/manage/services",
        json={
            "name": "Riscossione",
            "organization_name": "Unione dei Comuni",
            "organization_fiscal_code": ORG,
            "payments": True,
            "payee_fiscal_codes": [OTHER_BODY],
        },
        headers=ADMIN,
    )
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["payee_fiscal_codes"] == [OTHER_BODY]


@dataclass
class NoticeLookup:
    """A local server shaped like pagoPA's notice lookup: 200 with the notice for a
    payable one; 409 `PAA_PAGAMENTO_DUPLICATO` for one already paid."""

    paid: set[str]
    status: int | None = None
    calls: list[tuple[str, str | None]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        rpt_id = request.match_info["rpt_id"]
        self.calls.append((rpt_id, request.headers.get("Ocp-Apim-Subscription-Key")))
        if request.headers.get("Ocp-Apim-Subscription-Key") != KEY:
            return web.json_response({"title": "Unauthorized"}, status=401)
        if self.status is not None:
            return web.json_response({"title": "unavailable"}, status=self.status)
        if rpt_id in self.paid:
            return web.json_response(
                {
                    "title": "Payment status error",
                    "faultCodeCategory": "PAYMENT_DUPLICATED",
                    "faultCodeDetail": "PAA_PAGAMENTO_DUPLICATO",
                },
                status=409,
            )
        return web.json_response(
            {
                "rptId": rpt_id,
                "paFiscalCode": rpt_id[:11],
                "paName": "Comune di Prova",
                "description": "TARI 2024",
                "amount": 1250,
                "dueDate": "2024-05-20",
            }
        )


@contextlib.asynccontextmanager
async def lookup_server(lookup: NoticeLookup) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/checkout/v1/payment-requests/{rpt_id}", lookup.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/checkout/v1"
    finally:
        await runner.cleanup()


async def _round_with_lookup(runtime: Runtime, base_url: str) -> int:
    rules = replace(runtime.settings.reminders, payment_status_url=base_url, payment_status_key=KEY)
    rt = replace(runtime, settings=replace(runtime.settings, reminders=rules))
    async with payment_status(rules) as lookup:
        return (await run_round(rt, D_MINUS_10, lookup)).planned


async def _two_unpaid_notices(runtime: Runtime) -> None:
    await create_profile(runtime, CITIZEN, reminder_consent="ENABLED")
    for message_id, notice in (("M-PAID", PAID_NOTICE), ("M-DUE", NOTICE)):
        await insert_message(
            runtime, message_id, created_at=ARRIVAL, rpt_id=ORG + notice, due_date=DUE
        )


async def test_a_notice_pagopa_reports_paid_gets_no_reminder(runtime: Runtime) -> None:
    await _two_unpaid_notices(runtime)
    lookup = NoticeLookup(paid={ORG + PAID_NOTICE})
    async with lookup_server(lookup) as base_url:
        planned = await _round_with_lookup(runtime, base_url)

    assert planned == 1
    reminded = await runtime.pool.fetch("SELECT message_id FROM reminders")
    assert [r["message_id"] for r in reminded] == ["M-DUE"]
    assert sorted(lookup.calls) == [(ORG + NOTICE, KEY), (ORG + PAID_NOTICE, KEY)]


async def test_when_pagopa_cannot_answer_the_reminder_goes_as_before(runtime: Runtime) -> None:
    await _two_unpaid_notices(runtime)
    lookup = NoticeLookup(paid={ORG + PAID_NOTICE}, status=503)
    async with lookup_server(lookup) as base_url:
        assert await _round_with_lookup(runtime, base_url) == 2
