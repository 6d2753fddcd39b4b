"""Logos: IO's upload routes take a base64 PNG, check it really is one
of the size IO asks for, store it, and the citizen app gets it back as image/png with
an ETag and cache headers; a service without a logo shows its organisation's."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.factories import create_service
from tests.integration.helpers import ADMIN
from tests.integration.io_schema import validate
from tests.integration.logo_helpers import b64, png
from tests.integration.sender_helpers import key
from worker.bootstrap import Runtime
from worker.ingress.app import reload_services

Client = TestClient[Any, Any]
ORG, OTHER_ORG = "12345678901", "10987654321"


async def _sender(runtime: Runtime, client: Client, **fields: Any) -> tuple[str, dict[str, str]]:
    service_id, api_key = await create_service(runtime, **fields)
    await reload_services(client.app)
    return service_id, key(api_key)


async def test_an_organisation_logo_is_stored_and_served_with_etag_and_cache_headers(
    runtime: Runtime, client: Client
) -> None:
    service_id, headers = await _sender(runtime, client)
    image = png(300, 300)
    body = {"logo": b64(image)}
    validate(body, "Logo")
    stored = await client.put(f"/api/v1/organizations/{ORG}/logo", json=body, headers=headers)
    assert stored.status == 202, await stored.text()

    served = await client.get(f"/api/v1/logos/organizations/{ORG}")
    assert served.status == 200
    assert served.content_type == "image/png"
    assert await served.read() == image
    assert "max-age" in served.headers["Cache-Control"]
    etag = served.headers["ETag"]
    again = await client.get(f"/api/v1/logos/organizations/{ORG}", headers={"If-None-Match": etag})
    assert again.status == 304
    # The service has no logo of its own: it shows its organisation's.
    fallback = await client.get(f"/api/v1/logos/services/{service_id}")
    assert (fallback.status, await fallback.read()) == (200, image)


async def test_a_service_logo_replaces_the_organisations_for_that_service(
    runtime: Runtime, client: Client
) -> None:
    service_id, headers = await _sender(runtime, client)
    await client.put(
        f"/api/v1/organizations/{ORG}/logo", json={"logo": b64(png(300, 300))}, headers=ADMIN
    )
    own = png(400, 400)
    resp = await client.put(
        f"/api/v1/services/{service_id}/logo", json={"logo": b64(own)}, headers=headers
    )
    assert resp.status == 202, await resp.text()
    served = await client.get(f"/api/v1/logos/services/{service_id}")
    assert await served.read() == own
    assert (await client.get("/api/v1/logos/services/unknown")).status == 404


async def test_only_the_organisations_own_services_or_the_platform_may_change_its_logos(
    runtime: Runtime, client: Client
) -> None:
    service_id, _ = await _sender(runtime, client)
    _, stranger = await _sender(runtime, client, organization_fiscal_code=OTHER_ORG)
    body = {"logo": b64(png(300, 300))}
    org = await client.put(f"/api/v1/organizations/{ORG}/logo", json=body, headers=stranger)
    assert org.status == 403
    svc = await client.put(f"/api/v1/services/{service_id}/logo", json=body, headers=stranger)
    assert svc.status == 403
    assert (await client.put(f"/api/v1/organizations/{ORG}/logo", json=body)).status == 401
    unknown = await client.put("/api/v1/services/nope/logo", json=body, headers=ADMIN)
    assert unknown.status == 404


async def test_what_is_not_a_square_png_of_the_right_size_is_refused_naming_why(
    runtime: Runtime, client: Client
) -> None:
    _, headers = await _sender(runtime, client)
    good = png(300, 300)
    truncated = good[:-20]
    bad_crc = good[:30] + bytes([good[30] ^ 1]) + good[31:]
    cases = {
        "not base64": "%%%",
        "not a PNG": b64(b"GIF89a" + b"\x00" * 100),
        "truncated": b64(truncated),
        "bad CRC": b64(bad_crc),
        "300x200": b64(png(300, 200)),
        "200x200": b64(png(200, 200)),
        "1200x1200": b64(png(1200, 1200)),
        "malformed": b64(png(300, 300, colour=2, depth=4)),
        "larger than": b64(good + b"\x00" * (70 * 1024)),
    }
    for reason, text in cases.items():
        resp = await client.put(
            f"/api/v1/organizations/{ORG}/logo", json={"logo": text}, headers=headers
        )
        assert resp.status == 400, reason
        assert reason in (await resp.json())["detail"], reason
    assert (await client.get(f"/api/v1/logos/organizations/{ORG}")).status == 404
