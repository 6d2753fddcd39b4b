"""The sender API over HTTP on the real stack: checks of 1.2 in order, status, profiles."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.factories import create_profile, create_service, message_body
from tests.integration.helpers import drain
from tests.integration.sender_helpers import (
    CITIZEN,
    OTHER,
    SANDBOX,
    another_ingress,
    key,
)
from worker.bootstrap import Runtime
from worker.ingress.app import reload_services

Client = TestClient[Any, Any]
PAYMENT = {"amount": 5000, "notice_number": "012345678901234567"}


async def _service(runtime: Runtime, client: Client, **fields: Any) -> dict[str, str]:
    _, api_key = await create_service(runtime, **fields)
    await reload_services(client.app)
    return key(api_key)


async def _problem(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/problem+json"
    body: dict[str, Any] = await resp.json()
    return body


async def test_an_unpublished_service_reaches_only_the_sandbox_and_authorized_recipients(
    runtime: Runtime, client: Client
) -> None:
    headers = await _service(
        runtime, client, state="approved", published=False, authorized_recipients=[OTHER]
    )
    refused = await client.post("/api/v1/messages", json=message_body(CITIZEN), headers=headers)
    assert (await _problem(refused, 403))["title"] == "Recipient forbidden"
    for allowed in (SANDBOX, OTHER):
        ok = await client.post("/api/v1/messages", json=message_body(allowed), headers=headers)
        assert ok.status == 201, await ok.text()


async def test_entitlement_checks_come_in_the_order_of_the_rules(
    runtime: Runtime, client: Client
) -> None:
    headers = await _service(runtime, client, premium=False, payments=False)
    advanced = message_body(CITIZEN, payment_data=PAYMENT)
    advanced["feature_level_type"] = "ADVANCED"
    first = await _problem(
        await client.post("/api/v1/messages", json=advanced, headers=headers), 403
    )
    assert "premium" in first["detail"]
    attachments = message_body(CITIZEN, third_party_data={"id": "x", "has_attachments": True})
    resp = await client.post("/api/v1/messages", json=attachments, headers=headers)
    assert "has_attachments" in (await _problem(resp, 403))["detail"]
    paying = message_body(CITIZEN, payment_data=PAYMENT)
    resp = await client.post("/api/v1/messages", json=paying, headers=headers)
    assert "payments" in (await _problem(resp, 403))["detail"]


async def test_the_amount_may_not_exceed_the_service_maximum(
    runtime: Runtime, client: Client
) -> None:
    headers = await _service(runtime, client, payments=True, max_allowed_payment_amount=5000)
    at_max = message_body(CITIZEN, payment_data=PAYMENT)
    assert (await client.post("/api/v1/messages", json=at_max, headers=headers)).status == 201
    above = message_body(CITIZEN, payment_data={**PAYMENT, "amount": 5001})
    problem = await _problem(
        await client.post("/api/v1/messages", json=above, headers=headers), 400
    )
    assert problem["detail"].startswith("content.payment_data.amount:")


async def test_a_subject_with_personal_data_is_refused_naming_the_kind(
    runtime: Runtime, client: Client
) -> None:
    headers = await _service(runtime, client)
    body = message_body(CITIZEN, subject="Pratica di RSSMRA80A01H501U")
    problem = await _problem(await client.post("/api/v1/messages", json=body, headers=headers), 400)
    assert problem["title"] == "Invalid message structure"
    assert "fiscal code" in problem["detail"]


async def test_authorized_cidrs_use_the_socket_peer_not_a_forged_forwarded_header(
    runtime: Runtime, client: Client
) -> None:
    headers = await _service(runtime, client, authorized_cidrs=["10.0.0.0/8"])
    forged = {**headers, "X-Forwarded-For": "10.1.2.3"}
    resp = await client.post("/api/v1/messages", json=message_body(CITIZEN), headers=forged)
    assert "authorized_cidrs" in (await _problem(resp, 403))["detail"]
    async with another_ingress(runtime, trusted_proxies=("127.0.0.0/8",)) as behind_proxy:
        await reload_services(behind_proxy.app)
        ok = await behind_proxy.post("/api/v1/messages", json=message_body(CITIZEN), headers=forged)
        assert ok.status == 201, await ok.text()
        outside = {**headers, "X-Forwarded-For": "192.0.2.7"}
        resp = await behind_proxy.post(
            "/api/v1/messages", json=message_body(CITIZEN), headers=outside
        )
        await _problem(resp, 403)


async def test_a_caller_inside_the_cidrs_may_send(runtime: Runtime, client: Client) -> None:
    headers = await _service(runtime, client, authorized_cidrs=["127.0.0.0/8", "::1/128"])
    resp = await client.post("/api/v1/messages", json=message_body(CITIZEN), headers=headers)
    assert resp.status == 201, await resp.text()


async def test_bodies_that_are_not_messages_never_answer_500(
    runtime: Runtime, client: Client
) -> None:
    headers = {**await _service(runtime, client), "Content-Type": "application/json"}
    for raw, detail in ((b"", "body: empty"), (b"{oops", "body: not valid JSON"), (b"[]", "body:")):
        problem = await _problem(
            await client.post("/api/v1/messages", data=raw, headers=headers), 400
        )
        assert problem["detail"].startswith(detail)
    limit = runtime.settings.http.max_body_bytes
    huge = message_body(CITIZEN, legal_data={"pad": "x" * limit})
    await _problem(await client.post("/api/v1/messages", json=huge, headers=headers), 413)


async def test_the_status_shows_channels_read_and_payment_to_the_sender_only(
    runtime: Runtime, client: Client
) -> None:
    service_id, api_key = await create_service(runtime, premium=True, payments=True)
    _, other_key = await create_service(runtime)
    await create_profile(runtime, CITIZEN)
    await reload_services(client.app)
    body = message_body(CITIZEN, payment_data=PAYMENT)
    body["feature_level_type"] = "ADVANCED"
    created = await client.post("/api/v1/messages", json=body, headers=key(api_key))
    location, message_id = created.headers["Location"], (await created.json())["id"]
    assert (await (await client.get(location, headers=key(api_key))).json())["status"] == "ACCEPTED"
    await _problem(await client.get(location, headers=key(other_key)), 404)
    await drain(runtime)
    await _problem(await client.get(location, headers=key(other_key)), 403)

    view = await (await client.get(location, headers=key(api_key))).json()
    assert (view["status"], view["read_status"], view["payment_status"]) == (
        "PROCESSED",
        "UNREAD",
        "NOT_PAID",
    )
    await runtime.pool.execute(
        "INSERT INTO notifications (id, message_id, fiscal_code, channel, kind, status, deadline)"
        " VALUES ($1, $2, $3, 'PUSH', 'MESSAGE', 'SENT', now()),"
        " ($1 || 'r', $2, $3, 'EMAIL', 'REMINDER_READ', 'FAILED', now())",
        f"{message_id}-push",
        message_id,
        CITIZEN,
    )
    await runtime.pool.execute(
        "UPDATE messages SET is_read = true, read_consent = true, paid_at = now() WHERE id = $1",
        message_id,
    )
    view = await (await client.get(location, headers=key(api_key))).json()
    assert view["notification"] == {"push": "SENT"}
    assert (view["read_status"], view["payment_status"]) == ("READ", "PAID")
    await runtime.pool.execute(
        "INSERT INTO service_preferences (fiscal_code, service_id, can_access_message_read_status)"
        " VALUES ($1, $2, false)",
        CITIZEN,
        service_id,
    )
    view = await (await client.get(location, headers=key(api_key))).json()
    assert view["read_status"] == "UNAVAILABLE"
    assert view["message"]["content"]["payment_data"]["amount"] == 5000


async def test_a_standard_message_has_no_read_or_payment_status(
    runtime: Runtime, client: Client
) -> None:
    headers = await _service(runtime, client, payments=True)
    await create_profile(runtime, CITIZEN)
    created = await client.post(
        "/api/v1/messages", json=message_body(CITIZEN, payment_data=PAYMENT), headers=headers
    )
    await drain(runtime)
    view = await (await client.get(created.headers["Location"], headers=headers)).json()
    assert view["status"] == "PROCESSED"
    assert "read_status" not in view
    assert "payment_status" not in view


async def test_sender_allowed_follows_the_preferences_and_hides_unknown_citizens(
    runtime: Runtime, client: Client
) -> None:
    service_id, api_key = await create_service(runtime)
    _, sandbox_key = await create_service(runtime, published=False)
    await reload_services(client.app)
    headers = key(api_key)
    await create_profile(runtime, CITIZEN, preferred_languages=["it_IT", "de_DE"])
    resp = await client.get(f"/api/v1/profiles/{CITIZEN}", headers=headers)
    assert await resp.json() == {"sender_allowed": True, "preferred_languages": ["it_IT", "de_DE"]}
    await runtime.pool.execute(
        "INSERT INTO service_preferences (fiscal_code, service_id, is_inbox_enabled)"
        " VALUES ($1, $2, false)",
        CITIZEN,
        service_id,
    )
    resp = await client.post("/api/v1/profiles", json={"fiscal_code": CITIZEN}, headers=headers)
    assert (await resp.json())["sender_allowed"] is False
    await _problem(await client.get(f"/api/v1/profiles/{OTHER}", headers=headers), 404)
    await create_profile(runtime, SANDBOX, inbox_enabled=False)
    await _problem(await client.get(f"/api/v1/profiles/{SANDBOX}", headers=headers), 404)
    # unpublished: 403 whether or not the citizen exists
    for fiscal_code in (CITIZEN, OTHER):
        resp = await client.get(f"/api/v1/profiles/{fiscal_code}", headers=key(sandbox_key))
        await _problem(resp, 403)
    resp = await client.post("/api/v1/profiles", json={"fiscal_code": "bad"}, headers=headers)
    assert (await _problem(resp, 400))["detail"].startswith("fiscal_code:")
    await _problem(await client.get(f"/api/v1/profiles/{CITIZEN}"), 401)


async def test_eu_covid_cert_needs_the_entitlement(runtime: Runtime, client: Client) -> None:
    cert = message_body(CITIZEN, eu_covid_cert={"auth_code": "A1B2C3"})
    plain = await _service(runtime, client)
    problem = await _problem(await client.post("/api/v1/messages", json=cert, headers=plain), 400)
    assert problem["detail"].startswith("content.eu_covid_cert:")
    entitled = await _service(runtime, client, eu_covid_cert=True)
    assert (await client.post("/api/v1/messages", json=cert, headers=entitled)).status == 201


async def test_third_party_content_needs_the_remote_content_configuration(
    runtime: Runtime, client: Client
) -> None:
    headers = await _service(runtime, client, premium=True)
    for third_party in (
        {"id": "pratica-1", "has_remote_content": True},
        {"id": "pratica-1", "has_precondition": "ONCE"},
        {"id": "pratica-1", "has_attachments": True},
    ):
        body = {**message_body(CITIZEN, third_party_data=third_party)}
        body["feature_level_type"] = "ADVANCED"
        resp = await client.post("/api/v1/messages", json=body, headers=headers)
        assert "remote_content" in (await _problem(resp, 400))["detail"], third_party
    bad = message_body(CITIZEN, third_party_data={"id": "x", "has_precondition": "SOMETIMES"})
    resp = await client.post("/api/v1/messages", json=bad, headers=headers)
    detail = (await _problem(resp, 400))["detail"]
    assert detail.startswith("content.third_party_data.has_precondition:")
    never = message_body(CITIZEN, third_party_data={"id": "x", "has_precondition": "NEVER"})
    assert (await client.post("/api/v1/messages", json=never, headers=headers)).status == 201
    configured = await _service(
        runtime, client, remote_content_base_url="https://sender.example.org/io"
    )
    remote = message_body(CITIZEN, third_party_data={"id": "x", "has_remote_content": True})
    assert (await client.post("/api/v1/messages", json=remote, headers=configured)).status == 201
