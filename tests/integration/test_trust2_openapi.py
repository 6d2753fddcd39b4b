"""The public OpenAPI document costs nothing per request: built once per process,
served with an `ETag` (a matching `If-None-Match` gets 304 and no body) and gzipped
for clients that accept it."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from worker.ingress import openapi

URL = "/api/v1/openapi.json"


async def test_the_document_is_built_once(
    client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    built = 0
    original = openapi.document

    def counted(*args: Any, **kwargs: Any) -> dict[str, Any]:
        nonlocal built
        built += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(openapi, "document", counted)
    for _ in range(3):
        assert (await client.get(URL)).status == 200
    assert built <= 1


async def test_an_unchanged_document_is_not_sent_again(client: TestClient[Any, Any]) -> None:
    first = await client.get(URL)
    assert first.status == 200
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')

    again = await client.get(URL, headers={"If-None-Match": etag})
    assert again.status == 304
    assert await again.read() == b""
    assert again.headers["ETag"] == etag

    other = await client.get(URL, headers={"If-None-Match": '"something-else"'})
    assert other.status == 200


async def test_the_document_is_gzipped_for_clients_that_accept_it(
    client: TestClient[Any, Any],
) -> None:
    plain = await client.get(URL, headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    body = await plain.read()

    zipped = await client.get(URL, headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers.get("Vary", "")
    raw = await zipped.read()
    assert len(raw) < len(body) / 3
    assert json.loads(gzip.decompress(raw)) == json.loads(body)
    assert zipped.headers["ETag"] != plain.headers["ETag"]  # another representation
