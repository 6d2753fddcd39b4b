"""What the API fuzz sends its cases into: real credentials for every security scheme,
and things that exist for path parameters to name.

- the *sender* service (published, premium, payments, limits out of the way) whose
  key signs the submits; no case ever names it, so its key keeps working;
- the *target* service, a draft of the manage key's body with one template: half of
  the cases with an `id` of a service name it (and its template), so lifecycle, key,
  logo and template routes get past their 404;
- a body with two manage keys: one signs the CMS calls, the other (the *victim*) is
  what `…/manage-keys/{id}` names;
- a citizen with a session and one delivered message, named by `{fiscal_code}` and
  the message `{id}`s.

After a case that deleted something the fuzz needs (2xx to a DELETE), `repair()`
provisions it again, so later cases still reach past authentication.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiohttp.test_utils import TestClient

from tests.conftest import ADMIN_TOKEN
from tests.factories import create_service, message_body
from tests.fuzz.api_cases import ApiCase
from tests.integration.helpers import ADMIN, drain, session
from worker.bootstrap import Runtime
from worker.ingress.app import reload_services

CITIZEN = "RSSMRA80A01H501U"
BODY = "10987654321"
CMS = "/api/v1/manage/services"
_CARD = {
    "name": "Tributi",
    "description": "Tributi comunali: avvisi di pagamento TARI e IMU.",
    "organization": {"name": "Comune di Prova", "fiscal_code": BODY},
    "metadata": {
        "scope": "LOCAL",
        "topic_id": 10,
        "privacy_url": "https://comune.example.org/privacy",
        "email": "tributi@comune.example.org",
    },
}


_TEMPLATE = {
    "name": "Avviso TARI",
    "subject": "Avviso di pagamento TARI ((anno))",
    "markdown": "Gentile contribuente, è disponibile l'avviso TARI ((anno)). " * 3,
}


class SetupFailed(AssertionError):
    pass


async def _json(resp: Any, *status: int) -> Any:
    text = await resp.text()
    if resp.status not in status:
        raise SetupFailed(f"{resp.method} {resp.url.path}: {resp.status} {text[:300]}")
    return json.loads(text) if text else None


@dataclass
class World:
    client: TestClient[Any, Any]
    runtime: Runtime
    sender_id: str = ""
    sender_key: str = ""
    message_id: str = ""
    target: str = ""
    manage_key: str = ""
    manage_key_id: str = ""
    victim_key: str = ""
    template: str = ""
    citizen: dict[str, str] = field(default_factory=dict)

    async def setup(self) -> None:
        self.sender_id, self.sender_key = await create_service(
            self.runtime, premium=True, payments=True, rate_per_second=10**6, daily_quota=10**9
        )
        await reload_services(self.client.app)
        body = {"fiscal_code": BODY, "name": "Comune di Prova", "email": "urp@example.org"}
        await _json(await self.client.post("/api/v1/admin/organizations", json=body, **_A), 201)
        issued = await self._issue_key()
        self.manage_key, self.manage_key_id = issued["key"], issued["id"]
        await self.repair()
        resp = await self.client.post(
            "/api/v1/messages", json=message_body(CITIZEN), headers=self.credentials("sender")
        )
        self.message_id = (await _json(resp, 201))["id"]
        await drain(self.runtime)

    async def _issue_key(self) -> dict[str, str]:
        path = f"/api/v1/admin/organizations/{BODY}/manage-keys"
        issued: dict[str, str] = await _json(await self.client.post(path, **_A), 201)
        return issued

    async def repair(self) -> None:
        """Provision again what a case may have deleted: the target service, the victim
        manage key, the citizen's profile and session."""
        manage = self.credentials("manage")
        if not self.target or not await self._live(f"/api/v1/admin/services/{self.target}"):
            resp = await self.client.post(CMS, json=_CARD, headers=manage)
            self.target = (await _json(resp, 201))["id"]
            resp = await self.client.post(
                f"{CMS}/{self.target}/templates", json=_TEMPLATE, headers=manage
            )
            self.template = (await _json(resp, 201))["id"]
        await self._victim()
        if (
            not self.citizen
            or (await self.client.get("/api/v1/citizen/profile", headers=self.citizen)).status
            != 200
        ):
            path = f"/api/v1/admin/profiles/{CITIZEN}"
            await _json(await self.client.put(path, json={"inbox_enabled": True}, **_A), 200, 201)
            self.citizen = await session(self.client, CITIZEN)

    async def _victim(self) -> None:
        """A live manage key of the body other than the one the fuzz signs with."""
        listing = await _json(await self.client.get("/api/v1/admin/organizations", **_A), 200)
        (body,) = [o for o in listing["items"] if o["fiscal_code"] == BODY]
        live = [
            k["id"]
            for k in body["manage_keys"]
            if k.get("revoked_at") is None and k["id"] != self.manage_key_id
        ]
        self.victim_key = live[0] if live else (await self._issue_key())["id"]

    async def _live(self, path: str) -> bool:
        resp = await self.client.get(path, **_A)
        return resp.status == 200 and (await resp.json()).get("state") != "deleted"

    def credentials(self, scheme: str) -> dict[str, str]:
        known = {
            "sender": {"Ocp-Apim-Subscription-Key": self.sender_key},
            "manage": {"Ocp-Apim-Subscription-Key": self.manage_key},
            "admin": {"Authorization": f"Bearer {ADMIN_TOKEN}"},
            "citizen": self.citizen,
        }
        if scheme not in known:
            raise SetupFailed(f"no credentials for security scheme {scheme!r}: add them here")
        return known[scheme]

    def known(self, path: str, name: str) -> str | None:
        """A value that exists for path parameter `name` of `path`, if there is one."""
        if name == "id":
            if "/manage-keys/" in path:
                return self.victim_key
            if "/messages" in path:
                return self.message_id
            if "/services/{id}" in path:
                return self.target
            return None
        return {
            "template_id": self.template,
            "version": "1",
            "fiscal_code": CITIZEN,
            "organization_fiscal_code": BODY,
            "service_id": self.sender_id,
            "keyType": "secondary",
        }.get(name)

    def request(self, item: ApiCase) -> dict[str, Any]:
        """aiohttp arguments of `item`: its credentials in place of whatever the case
        drew; when `named`, path parameters that exist where there are some."""
        case, drawn = item.case, item.case.path_parameters
        if item.named and drawn:  # the same case is also sent as drawn: set back after
            case.path_parameters = {
                name: self.known(case.operation.path, name) or value
                for name, value in drawn.items()
            }
        try:
            kwargs = case.as_transport_kwargs(base_url="http://fuzz")
        finally:
            case.path_parameters = drawn
        url = urlsplit(kwargs["url"])
        headers = {k: str(v) for k, v in (kwargs.get("headers") or {}).items()}
        for name in ("Ocp-Apim-Subscription-Key", "Authorization"):
            headers.pop(name, None)
        for scheme in item.schemes:
            headers |= self.credentials(scheme)
        request: dict[str, Any] = {
            "method": kwargs["method"],
            "path": url.path + (f"?{url.query}" if url.query else ""),
            "headers": headers,
            "params": _query(kwargs.get("params") or {}) or None,
        }
        if "json" in kwargs:
            request["data"] = json.dumps(kwargs["json"]).encode()
            headers.setdefault("Content-Type", "application/json")
        elif kwargs.get("data") is not None:
            request["data"] = kwargs["data"]
        return request


_A = {"headers": ADMIN}


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value)


def _query(params: dict[str, Any]) -> list[tuple[str, str]]:
    """A drawn query as (name, value) pairs: a list repeats its name, any other
    value that is not a scalar is sent as its JSON (a case invalid by schema)."""
    pairs = []
    for name, value in params.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append((str(name), _scalar(item)))
    return pairs
