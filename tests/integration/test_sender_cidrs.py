"""`authorized_cidrs` guards every sender route, before any lookup (docs/integrators/sending.md):
a key used from outside the service's networks reads no status and no profile."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.factories import create_profile, create_service, message_body
from worker.bootstrap import Runtime
from worker.ingress.app import reload_services

CITIZEN = "RSSMRA80A01H501U"


async def test_a_key_used_from_outside_its_networks_reads_nothing(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    _, outside = await create_service(runtime, authorized_cidrs=["203.0.113.0/24"])
    _, inside = await create_service(runtime, authorized_cidrs=["127.0.0.0/8"])
    await create_profile(runtime, CITIZEN)
    await reload_services(client.app)
    message_id = "01JGOOD0000000000000000001"
    for key, expected in ((outside, 403), (inside, 200)):
        headers = {"Ocp-Apim-Subscription-Key": key}
        answers = [
            await client.get(f"/api/v1/profiles/{CITIZEN}", headers=headers),
            await client.post("/api/v1/profiles", json={"fiscal_code": CITIZEN}, headers=headers),
        ]
        assert [a.status for a in answers] == [expected, expected]
        status = await client.get(f"/api/v1/messages/{CITIZEN}/{message_id}", headers=headers)
        assert status.status == (403 if key == outside else 404)
        submit = await client.post("/api/v1/messages", json=message_body(CITIZEN), headers=headers)
        assert submit.status == (403 if key == outside else 201)
    refused = await (
        await client.get(
            f"/api/v1/profiles/{CITIZEN}", headers={"Ocp-Apim-Subscription-Key": outside}
        )
    ).json()
    assert "authorized_cidrs" in refused["detail"]
