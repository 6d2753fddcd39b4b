"""The HTTP calls the lifecycle state machine makes, each by either API where both
offer it: the platform's `/api/v1/admin/services…` (admin token) or IO's CMS
`/api/v1/manage/services…` (the body's manage key). Each returns the status and
what the machine needs from the answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient

from tests.factories import message_body
from tests.fuzz.lifecycle_model import AUTHORIZED
from tests.integration.helpers import ADMIN

ADMIN_BASE = "/api/v1/admin/services"
CMS_BASE = "/api/v1/manage/services"
BODY = "10987654321"
#: What a successful action answers, by API.
OK = {"admin": 200, "cms": 204}
_CARD = {
    "description": "Tributi comunali: avvisi di pagamento TARI e IMU.",
    "privacy_url": "https://comune.example.org/privacy",
    "scope": "LOCAL",
    "email": "tributi@comune.example.org",
}


def cms_payload(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "description": _CARD["description"],
        "organization": {"name": "Comune di Prova", "fiscal_code": BODY},
        "metadata": {
            "scope": "LOCAL",
            "topic_id": 10,
            "privacy_url": _CARD["privacy_url"],
            "email": _CARD["email"],
        },
        "authorized_recipients": [AUTHORIZED],
    }


@dataclass
class LifecycleApi:
    client: TestClient[Any, Any]
    manage: dict[str, str]

    def _base(self, route: str) -> tuple[str, dict[str, str]]:
        return (ADMIN_BASE, ADMIN) if route == "admin" else (CMS_BASE, self.manage)

    async def _call(
        self, route: str, method: str, suffix: str, body: Any = None
    ) -> tuple[int, Any]:
        base, headers = self._base(route)
        resp = await self.client.request(method, base + suffix, json=body, headers=headers)
        text = await resp.text()
        return resp.status, (await resp.json()) if text and resp.status < 300 else text

    async def create(self, route: str, name: str) -> tuple[int, Any]:
        if route == "cms":
            return await self._call(route, "POST", "", cms_payload(name))
        body = {"name": name, "organization_name": "Comune di Prova"}
        body |= {"organization_fiscal_code": BODY, "authorized_recipients": [AUTHORIZED]}
        return await self._call(route, "POST", "", body | _CARD)

    async def edit(self, route: str, sid: str, name: str) -> int:
        if route == "cms":
            return (await self._call(route, "PUT", f"/{sid}", cms_payload(name)))[0]
        return (await self._call(route, "PATCH", f"/{sid}", {"name": name}))[0]

    async def operational(self, sid: str, change: dict[str, Any]) -> int:
        return (await self._call("admin", "PATCH", f"/{sid}", change))[0]

    async def submit(self, route: str, sid: str, auto_publish: bool) -> int:
        body = {"auto_publish": auto_publish} if route == "cms" else None
        return (await self._call(route, "PUT", f"/{sid}/review", body))[0]

    async def review(self, sid: str, verdict: str) -> int:
        body = {"reason": "La descrizione non basta."} if verdict == "reject" else None
        return (await self._call("admin", "POST", f"/{sid}/{verdict}", body))[0]

    async def release(self, route: str, sid: str, method: str) -> int:
        return (await self._call(route, method, f"/{sid}/release"))[0]

    async def delete(self, route: str, sid: str) -> int:
        return (await self._call(route, "DELETE", f"/{sid}"))[0]

    async def rotate(self, route: str, sid: str, which: str) -> tuple[int, str | None]:
        if route == "cms":
            status, body = await self._call(route, "PUT", f"/{sid}/keys/{which}")
        else:
            status, body = await self._call(route, "POST", f"/{sid}/keys/{which}")
        key = body.get(f"{which}_key") if status == 200 else None
        return status, key

    async def send(self, api_key: str, fiscal_code: str) -> tuple[int, str | None]:
        resp = await self.client.post(
            "/api/v1/messages",
            json=message_body(fiscal_code),
            headers={"Ocp-Apim-Subscription-Key": api_key},
        )
        body = await resp.json() if resp.status == 201 else None
        return resp.status, body["id"] if body else None

    async def message_status(self, api_key: str, fiscal_code: str, message_id: str) -> int:
        path = f"/api/v1/messages/{fiscal_code}/{message_id}"
        resp = await self.client.get(path, headers={"Ocp-Apim-Subscription-Key": api_key})
        return resp.status

    async def view(self, sid: str) -> dict[str, Any]:
        resp = await self.client.get(f"{ADMIN_BASE}/{sid}", headers=ADMIN)
        assert resp.status == 200, await resp.text()
        found: dict[str, Any] = await resp.json()
        return found

    async def published_copy(self, sid: str) -> tuple[int, Any]:
        return await self._call("cms", "GET", f"/{sid}/release")

    async def citizen_message(self, session: dict[str, str], message_id: str) -> tuple[int, Any]:
        resp = await self.client.get(f"/api/v1/citizen/messages/{message_id}", headers=session)
        return resp.status, (await resp.json()) if resp.status == 200 else None

    async def catalogue(self, session: dict[str, str]) -> list[dict[str, Any]]:
        """Every service of the citizen catalogue, all pages."""
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params = {"cursor": cursor} if cursor else {}
            resp = await self.client.get("/api/v1/citizen/services", params=params, headers=session)
            assert resp.status == 200, await resp.text()
            page = await resp.json()
            found += page["items"]
            cursor = page.get("next")
            if not cursor:
                return found
