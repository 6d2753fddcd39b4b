"""Helpers of the CMS tests: a registered body with a manage key, IO's payloads, calls."""

from __future__ import annotations

import base64
import struct
import zlib
from typing import Any

from aiohttp.test_utils import TestClient

from tests.integration.helpers import ADMIN
from tests.integration.sender_helpers import key

Client = TestClient[Any, Any]
CMS = "/api/v1/manage/services"
BODY = "12345678901"
OTHER_BODY = "10987654321"


def payload(**fields: Any) -> dict[str, Any]:
    """IO's `CmsServicePayload` of a complete service card."""
    metadata = {
        "scope": "LOCAL",
        "topic_id": 10,
        "privacy_url": "https://comune.example.org/privacy",
        "email": "tributi@comune.example.org",
        **fields.pop("metadata", {}),
    }
    return {
        "name": "Tributi",
        "description": "Tributi comunali: avvisi di pagamento TARI e IMU.",
        "organization": {"name": "Whatever the payload says", "fiscal_code": "99999999999"},
        "metadata": metadata,
        **fields,
    }


async def register(client: Client, fiscal_code: str = BODY, name: str = "Comune di Prova") -> None:
    body = {"fiscal_code": fiscal_code, "name": name, "email": f"urp@{fiscal_code}.example.org"}
    resp = await client.post("/api/v1/admin/organizations", json=body, headers=ADMIN)
    assert resp.status == 201, await resp.text()


async def issue_key(client: Client, fiscal_code: str = BODY) -> dict[str, str]:
    """A new manage key of the body: {"id", "key"}."""
    path = f"/api/v1/admin/organizations/{fiscal_code}/manage-keys"
    resp = await client.post(path, headers=ADMIN)
    assert resp.status == 201, await resp.text()
    issued: dict[str, str] = await resp.json()
    return issued


async def body_with_key(client: Client, fiscal_code: str = BODY) -> dict[str, str]:
    """Register the body and return the headers of a fresh manage key of it."""
    await register(client, fiscal_code)
    return key((await issue_key(client, fiscal_code))["key"])


async def call(
    client: Client, method: str, path: str, headers: dict[str, str], status: int, **kw: Any
) -> Any:
    resp = await client.request(method, path, headers=headers, **kw)
    assert resp.status == status, (method, path, await resp.text())
    if resp.status == 204:
        return None
    return await resp.json()


def png(width: int = 300, height: int = 300) -> bytes:
    """A valid PNG of the smallest size a logo may have (one grey row per line)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def logo(data: bytes | None = None) -> dict[str, str]:
    return {"logo": base64.b64encode(png() if data is None else data).decode()}
