"""What the fuzz tests found, kept as plain reproducers once fixed."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.integration.cms_helpers import body_with_key
from tests.integration.helpers import ADMIN


@pytest.mark.parametrize(
    "query", ["service_id=%00", "service_id=%C2%AF%0C%00&since=&until=", "cursor=%00"]
)
async def test_a_nul_in_a_status_query_parameter_is_a_400_problem(
    client: TestClient[Any, Any], query: str
) -> None:
    resp = await client.get(f"/api/v1/status/messages?{query}", headers=ADMIN)
    assert resp.status == 400, await resp.text()
    assert resp.content_type == "application/problem+json"


@pytest.mark.parametrize("offset", ["22933322999601517559808", "9223372036854775808"])
async def test_an_offset_beyond_what_the_database_counts_is_a_400_problem(
    client: TestClient[Any, Any], offset: str
) -> None:
    manage = await body_with_key(client)
    resp = await client.get(f"/api/v1/manage/services?offset={offset}&limit=70", headers=manage)
    assert resp.status == 400, await resp.text()
    assert resp.content_type == "application/problem+json"
