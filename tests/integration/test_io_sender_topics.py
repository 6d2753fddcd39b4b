"""Service topics: IO's fixed list at IO's path, in IO's shape."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.factories import create_service
from tests.integration.helpers import ADMIN
from tests.integration.io_schema import validate
from tests.integration.sender_helpers import key
from worker.bootstrap import Runtime
from worker.ingress.app import reload_services

Client = TestClient[Any, Any]
PATH = "/api/v1/manage/services/topics"


async def test_a_sender_reads_ios_topic_list_with_ids_and_italian_names(
    runtime: Runtime, client: Client
) -> None:
    service_id, api_key = await create_service(runtime)
    await reload_services(client.app)
    resp = await client.get(PATH, headers=key(api_key))
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    validate(body, "CmsServiceTopicList")
    names = {t["id"]: t["name"] for t in body["topics"]}
    assert sorted(names) == list(range(18))
    assert (names[0], names[3], names[17]) == ("Altro", "Benessere sociale", "Salute")
    # The path is not taken for a service id by the back-office's /manage/services/{id}.
    assert (await client.get(PATH, headers=ADMIN)).status == 200
    assert (await client.get(f"/api/v1/manage/services/{service_id}", headers=ADMIN)).status == 200


async def test_topics_need_a_key(client: Client) -> None:
    assert (await client.get(PATH)).status == 401
    assert (await client.get(PATH, headers=key("unknown"))).status == 401
