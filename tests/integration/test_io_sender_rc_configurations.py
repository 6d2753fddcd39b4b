"""Remote-content configurations as IO's resources: a body creates,
lists, reads and replaces its own; a message picks one by
`third_party_data.configuration_id`, whose test environment serves its test users and
whose prod environment serves everyone else; another body's is not found."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.factories import create_profile, create_service, message_body
from tests.integration.cms_helpers import body_with_key
from tests.integration.helpers import drain, session
from tests.integration.io_schema import validate
from tests.integration.sender_helpers import CITIZEN, OTHER, key
from worker.bootstrap import Runtime
from worker.ingress.app import reload_services

Client = TestClient[Any, Any]
BASE = "/api/v1/messages-sending/remote-contents/configurations"


@asynccontextmanager
async def sender_system(label: str, seen: list[tuple[str, str | None]]) -> AsyncIterator[str]:
    """One environment of the sender: answers details titled with its label."""

    async def details(request: web.Request) -> web.Response:
        seen.append((label, request.headers.get("X-Env-Key")))
        subject = f"Referto dall'ambiente {label}"
        return web.json_response({"details": {"subject": subject, "markdown": "Testo " * 20}})

    app = web.Application()
    app.router.add_get("/io/messages/{id}", details)
    async with TestServer(app) as server:
        yield str(server.make_url("/io"))


def configuration(prod_url: str, test_url: str, name: str = "Referti") -> dict[str, Any]:
    def auth(secret: str) -> dict[str, str]:
        return {"header_key_name": "X-Env-Key", "key": secret, "type": "API-KEY"}

    return {
        "name": name,
        "description": "Referti del laboratorio analisi",
        "has_precondition": "NEVER",
        "disable_lollipop_for": [],
        "is_lollipop_enabled": False,
        "prod_environment": {"base_url": prod_url, "details_authentication": auth("prod-key")},
        "test_environment": {
            "base_url": test_url,
            "details_authentication": auth("test-key"),
            "test_users": [OTHER],
        },
    }


async def _json(resp: Any, status: int) -> Any:
    assert resp.status == status, await resp.text()
    return await resp.json()


async def test_a_body_manages_its_own_configurations_in_ios_shapes(
    runtime: Runtime, client: Client
) -> None:
    _, api_key = await create_service(runtime)
    _, stranger = await create_service(runtime, organization_fiscal_code="10987654321")
    await reload_services(client.app)
    body = configuration("http://127.0.0.1:9/io", "http://127.0.0.1:10/io")
    validate(body, "NewRCConfigurationPublic")
    created = await _json(await client.post(BASE, json=body, headers=key(api_key)), 201)
    validate(created, "RCConfigurationResponse")
    one = f"{BASE}/{created['configuration_id']}"
    assert created["user_id"] == "12345678901"

    listed = await _json(await client.get(BASE, headers=key(api_key)), 200)
    validate(listed, "RCConfigurationListResponse")
    assert [c["configuration_id"] for c in listed["rcConfigList"]] == [created["configuration_id"]]
    renamed = {**body, "name": "Referti e analisi"}
    assert (await client.put(one, json=renamed, headers=key(api_key))).status == 204
    assert (await _json(await client.get(one, headers=key(api_key)), 200))["name"] == renamed[
        "name"
    ]

    assert (await client.get(one, headers=key(stranger))).status == 404
    assert (await client.put(one, json=body, headers=key(stranger))).status == 404
    assert (await _json(await client.get(BASE, headers=key(stranger)), 200)) == {"rcConfigList": []}
    no_env = {k: v for k, v in body.items() if not k.endswith("_environment")}
    assert (await client.post(BASE, json=no_env, headers=key(api_key))).status == 400
    unsafe = configuration("https://10.0.0.1/io", "http://127.0.0.1:10/io")
    refused = await _json(await client.post(BASE, json=unsafe, headers=key(api_key)), 400)
    assert "prod_environment.base_url" in refused["detail"]


async def test_a_message_picks_a_configuration_and_test_users_get_its_test_environment(
    runtime: Runtime, client: Client
) -> None:
    seen: list[tuple[str, str | None]] = []
    async with sender_system("prod", seen) as prod, sender_system("test", seen) as test:
        _, api_key = await create_service(runtime)
        await reload_services(client.app)
        created = await client.post(BASE, json=configuration(prod, test), headers=key(api_key))
        config_id = (await _json(created, 201))["configuration_id"]
        await reload_services(client.app)
        third_party = {"id": "esito-42", "has_remote_content": True, "configuration_id": config_id}
        for citizen in (CITIZEN, OTHER):
            await create_profile(runtime, citizen)
            body = message_body(citizen, third_party_data=third_party)
            await _json(await client.post("/api/v1/messages", json=body, headers=key(api_key)), 201)
        unknown = message_body(
            CITIZEN, third_party_data={**third_party, "configuration_id": "01" * 13}
        )
        refused = await client.post("/api/v1/messages", json=unknown, headers=key(api_key))
        assert "configuration_id" in (await _json(refused, 400))["detail"]
        await drain(runtime)

        subjects = {}
        for citizen in (CITIZEN, OTHER):
            headers = await session(client, citizen)
            inbox = await _json(await client.get("/api/v1/citizen/messages", headers=headers), 200)
            message_id = inbox["items"][0]["id"]
            url = f"/api/v1/citizen/messages/{message_id}/third-party"
            subjects[citizen] = (await _json(await client.get(url, headers=headers), 200))[
                "details"
            ]
        assert subjects[CITIZEN]["subject"].endswith("prod")
        assert subjects[OTHER]["subject"].endswith("test")
        assert sorted(seen) == [("prod", "prod-key"), ("test", "test-key")]


async def test_the_bodys_manage_key_sees_the_configurations_its_services_keys_created(
    runtime: Runtime, client: Client
) -> None:
    manage = await body_with_key(client, "12345678901")
    _, api_key = await create_service(runtime)
    await reload_services(client.app)
    body = configuration("http://127.0.0.1:9/io", "http://127.0.0.1:10/io")
    created = await _json(await client.post(BASE, json=body, headers=manage), 201)
    listed = await _json(await client.get(BASE, headers=key(api_key)), 200)
    assert [c["configuration_id"] for c in listed["rcConfigList"]] == [created["configuration_id"]]
    assert (await client.get(BASE, headers=key("nobody"))).status == 401
