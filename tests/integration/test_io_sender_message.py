"""`GET /api/v1/messages/{fiscal_code}/{id}` answers IO's
`ExternalMessageResponseWithContent` in every state, checked
against the schema of IO's own document (tests/data/io_openapi_excerpt.yaml):
`message.created_at` and `message.feature_level_type` are required there, also while
the message is only `ACCEPTED`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest
from aiohttp.test_utils import TestClient

from tests.factories import MARKDOWN, create_profile, create_service, message_body
from tests.integration.citizen_helpers import insert_message
from tests.integration.helpers import drain
from tests.integration.io_schema import validate
from tests.integration.sender_helpers import CITIZEN, OTHER, key
from worker.bootstrap import Runtime
from worker.ingress.app import reload_services

Client = TestClient[Any, Any]
PAYMENT = {"amount": 5000, "notice_number": "012345678901234567"}
SCHEMA = "ExternalMessageResponseWithContent"


async def _premium_sender(runtime: Runtime, client: Client) -> tuple[str, dict[str, str]]:
    service_id, api_key = await create_service(runtime, premium=True, payments=True)
    await reload_services(client.app)
    return service_id, key(api_key)


async def _submit(client: Client, headers: dict[str, str], body: dict[str, Any]) -> str:
    resp = await client.post("/api/v1/messages", json=body, headers=headers)
    assert resp.status == 201, await resp.text()
    return str(resp.headers["Location"])


async def _view(client: Client, location: str, headers: dict[str, str]) -> dict[str, Any]:
    resp = await client.get(location, headers=headers)
    assert resp.status == 200, await resp.text()
    view: dict[str, Any] = await resp.json()
    validate(view, SCHEMA)
    return view


async def test_an_accepted_message_already_answers_ios_schema_with_its_time_and_level(
    runtime: Runtime, client: Client
) -> None:
    _, headers = await _premium_sender(runtime, client)
    before = datetime.now(UTC) - timedelta(seconds=1)
    advanced = {**message_body(CITIZEN), "feature_level_type": "ADVANCED"}
    view = await _view(client, await _submit(client, headers, advanced), headers)

    assert view["status"] == "ACCEPTED"
    assert view["message"]["feature_level_type"] == "ADVANCED"
    created = datetime.fromisoformat(view["message"]["created_at"])
    assert before <= created <= datetime.now(UTC) + timedelta(seconds=1)
    standard = await _view(client, await _submit(client, headers, message_body(OTHER)), headers)
    assert standard["message"]["feature_level_type"] == "STANDARD"


async def test_an_accepted_message_sent_with_an_idempotency_key_answers_ios_schema(
    runtime: Runtime, client: Client
) -> None:
    _, headers = await _premium_sender(runtime, client)
    retried = {**headers, "Idempotency-Key": "tari-2026-0001"}
    location = await _submit(client, retried, message_body(CITIZEN))
    view = await _view(client, location, headers)
    assert (view["status"], view["message"]["feature_level_type"]) == ("ACCEPTED", "STANDARD")
    assert await _submit(client, retried, message_body(CITIZEN)) == location


async def test_processed_and_rejected_messages_answer_ios_schema(
    runtime: Runtime, client: Client
) -> None:
    _, headers = await _premium_sender(runtime, client)
    await create_profile(runtime, CITIZEN)
    paid = {**message_body(CITIZEN, payment_data=PAYMENT), "feature_level_type": "ADVANCED"}
    processed = await _submit(client, headers, paid)
    rejected = await _submit(client, headers, message_body(OTHER))  # OTHER has no profile
    await drain(runtime)

    view = await _view(client, processed, headers)
    assert (view["status"], view["read_status"], view["payment_status"]) == (
        "PROCESSED",
        "UNREAD",
        "NOT_PAID",
    )
    # IO's NewMessageContent requires the payee: filled from the organisation.
    assert view["message"]["content"]["payment_data"]["payee"] == {"fiscal_code": "12345678901"}
    refused = await _view(client, rejected, headers)
    assert (refused["status"], refused["rejection_reason"]) == ("REJECTED", "USER_NOT_FOUND")


async def test_a_failed_message_answers_ios_schema(runtime: Runtime, client: Client) -> None:
    service_id, headers = await _premium_sender(runtime, client)
    message_id = await insert_message(
        runtime,
        CITIZEN,
        service_id,
        status="FAILED",
        failure_reason="invalid_message",
        content={},
    )
    view = await _view(client, f"/api/v1/messages/{CITIZEN}/{message_id}", headers)
    assert view["status"] == "FAILED"
    assert "content" not in view["message"]


def test_the_excerpt_is_strict_enough_to_catch_the_old_accepted_answer() -> None:
    """The shape Postino used to answer for ACCEPTED (no created_at, no level) fails."""
    old = {"message": {"id": "01J", "fiscal_code": CITIZEN, "sender_service_id": "s"}}
    with pytest.raises(jsonschema.ValidationError, match="created_at"):
        validate({**old, "status": "ACCEPTED"}, SCHEMA)
    stored = {**old["message"], "created_at": "2026-01-01T00:00:00Z"}
    with pytest.raises(jsonschema.ValidationError, match="feature_level_type"):
        validate({"message": stored, "status": "ACCEPTED"}, SCHEMA)
    content = {"subject": "Avviso di pagamento", "markdown": MARKDOWN}
    good = {**stored, "feature_level_type": "STANDARD", "content": content}
    validate({"message": good, "status": "PROCESSED"}, SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        validate({"message": good, "status": "DELIVERED"}, SCHEMA)
