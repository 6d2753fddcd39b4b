"""A hypothesis state machine over the service lifecycle (docs/integrators/services.md),
driven through
the HTTP API: create, edit, submit for review, abort, approve, reject, publish,
unpublish, delete, key rotation, callback and remote-content changes, each by the
platform's admin routes or IO's CMS routes with the body's manage key where both
offer it. After every step, what senders and citizens see must follow the model
(`lifecycle_model`):

- each action answers as the model says (done, or 409 / 404);
- a submit with a current key reaches the sandbox citizen and the authorized
  recipient always, anyone else only while published; a deleted service sends nothing;
  a rotated-away key is refused at once, for submits and for status reads;
- the back office shows the working version and the published copy (the name it had
  when approved), and whether it is published;
- after deliver has run, each accepted message is PROCESSED if the service may still
  reach its citizen, and the citizen sees it under the name served now: the approved
  copy's while published, even while a new version is in draft; the citizen
  catalogue (where the route exists) lists exactly the published services.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.conftest import eventually
from tests.fuzz.generate import RANDOM, SCALE, TIMEOUT, Tally
from tests.fuzz.lifecycle_api import BODY, OK, LifecycleApi
from tests.fuzz.lifecycle_model import AUTHORIZED, CITIZENS, OUTSIDER, SANDBOX, ServiceModel
from tests.integration.helpers import ADMIN, session
from worker.bootstrap import Runtime
from worker.roles import deliver

pytestmark = pytest.mark.timeout(TIMEOUT)

T = TypeVar("T")
ROUTES = st.sampled_from(["admin", "cms"])
KEYS = st.sampled_from(["primary", "secondary"])
MAX_SERVICES = 3
STEPS = int(os.environ.get("POSTINO_FUZZ_STEPS", "20"))
OPERATIONAL = (
    {"callback_url": "http://127.0.0.1:9/hook"},
    {"callback_url": "http://127.0.0.1:10/hook"},
    {"callback_url": None},
    {
        "remote_content": {
            "base_url": "http://127.0.0.1:9/rc",
            "header_key_name": "X-Api-Key",
            "key": "sender-secret-for-remote-content",
        }
    },
    {"remote_content": None},
)


class Context:
    """The event loop's side: the API, the citizens' sessions, a way to call in."""

    def __init__(self, client: TestClient[Any, Any], runtime: Runtime) -> None:
        self.client, self.runtime = client, runtime
        self.loop = asyncio.get_running_loop()
        self.api = LifecycleApi(client, {})
        self.sessions: dict[str, dict[str, str]] = {}
        self.catalogue = False
        self.tally = Tally("lifecycle steps (rule, outcome)")
        self.seconds: dict[str, float] = {}
        self.deliver = deliver.build(runtime)

    async def setup(self) -> None:
        body = {"fiscal_code": BODY, "name": "Comune di Prova", "email": "urp@example.org"}
        await self.client.post("/api/v1/admin/organizations", json=body, headers=ADMIN)
        issued = await self.client.post(
            f"/api/v1/admin/organizations/{BODY}/manage-keys", headers=ADMIN
        )
        assert issued.status == 201, await issued.text()
        self.api.manage = {"Ocp-Apim-Subscription-Key": (await issued.json())["key"]}
        for fiscal_code in CITIZENS:
            path = f"/api/v1/admin/profiles/{fiscal_code}"
            resp = await self.client.put(path, json={"inbox_enabled": True}, headers=ADMIN)
            assert resp.status in (200, 201), await resp.text()
            self.sessions[fiscal_code] = await session(self.client, fiscal_code)
        document = await (await self.client.get("/api/v1/openapi.json")).json()
        self.catalogue = "/api/v1/citizen/services" in document["paths"]

    async def deliver_all(self, ids: list[str]) -> None:
        """Run deliver (one loop for the whole test) until every id is stored."""

        async def stored() -> int:
            await self.deliver.run_until_idle(idle_polls=1, timeout_ms=50)
            return int(
                await self.runtime.pool.fetchval(
                    "SELECT count(*) FROM messages WHERE id = ANY($1::text[])", ids
                )
            )

        await eventually(stored, lambda n: n == len(ids), timeout=60)

    def call(self, make: Callable[[], Awaitable[T]]) -> T:
        async def wrapped() -> T:
            return await make()

        started = time.perf_counter()
        try:
            return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result(timeout=120)
        finally:
            name = getattr(make, "__qualname__", "?")
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started


def machine(ctx: Context) -> type[RuleBasedStateMachine]:
    api = ctx.api

    class ServiceLifecycle(RuleBasedStateMachine):
        services = Bundle("services")

        def __init__(self) -> None:
            super().__init__()
            self.models: list[ServiceModel] = []
            self.names = itertools.count(1)

        def _name(self) -> str:
            return f"Servizio {len(self.models)}.{next(self.names)}"

        def _expect(self, rule: str, status: int, allowed: bool, ok: int, no: int = 409) -> bool:
            ctx.tally.add(rule, str(status))
            assert status == (ok if allowed else no), (rule, status, allowed)
            return allowed

        @precondition(lambda self: len(self.models) < MAX_SERVICES)
        @rule(target=services, route=ROUTES)
        def create(self, route: str) -> ServiceModel:
            name = self._name()
            status, body = ctx.call(lambda: api.create(route, name))
            ctx.tally.add(f"create ({route})", str(status))
            assert status == 201, body
            keys = {"primary": body["primary_key"], "secondary": body["secondary_key"]}
            model = ServiceModel(body["id"], name, keys)
            self.models.append(model)
            return model

        @rule(service=services, route=ROUTES)
        def edit(self, service: ServiceModel, route: str) -> None:
            name = self._name()
            status = ctx.call(lambda: api.edit(route, service.id, name))
            if self._expect(f"edit ({route})", status, service.edit_allowed(), 200):
                service.edited(name)

        @rule(service=services, change=st.sampled_from(OPERATIONAL))
        def change_settings(self, service: ServiceModel, change: dict[str, Any]) -> None:
            status = ctx.call(lambda: api.operational(service.id, change))
            ctx.tally.add(f"settings ({next(iter(change))})", str(status))
            assert status == 200 or (status == 409 and not service.can_send), status

        @rule(service=services, route=ROUTES, auto_publish=st.booleans())
        def submit(self, service: ServiceModel, route: str, auto_publish: bool) -> None:
            status = ctx.call(lambda: api.submit(route, service.id, auto_publish))
            if self._expect(f"submit ({route})", status, service.submit_allowed(), OK[route]):
                service.submitted(auto_publish and route == "cms")

        @rule(service=services, verdict=st.sampled_from(["approve", "reject", "abort"]))
        def review(self, service: ServiceModel, verdict: str) -> None:
            status = ctx.call(lambda: api.review(service.id, verdict))
            if self._expect(verdict, status, service.review_allowed(), 200):
                if verdict == "approve":
                    service.approved()
                else:
                    service.state = "rejected" if verdict == "reject" else "draft"

        @rule(service=services, route=ROUTES)
        def publish(self, service: ServiceModel, route: str) -> None:
            status = ctx.call(lambda: api.release(route, service.id, "POST"))
            if self._expect(f"publish ({route})", status, service.publish_allowed(), OK[route]):
                service.published = True

        @rule(service=services, route=ROUTES)
        def unpublish(self, service: ServiceModel, route: str) -> None:
            status = ctx.call(lambda: api.release(route, service.id, "DELETE"))
            if route == "cms" and service.approved_name is None:
                self._expect("unpublish (cms)", status, False, 204, no=404)  # IO: no copy
                return
            if self._expect(f"unpublish ({route})", status, service.can_send, OK[route]):
                service.published = False

        @rule(service=services, route=ROUTES)
        def delete(self, service: ServiceModel, route: str) -> None:
            status = ctx.call(lambda: api.delete(route, service.id))
            if self._expect(f"delete ({route})", status, service.delete_allowed(), OK[route]):
                service.state, service.published = "deleted", False  # offline for good

        @rule(service=services, route=ROUTES, which=KEYS)
        def rotate_key(self, service: ServiceModel, route: str, which: str) -> None:
            status, key = ctx.call(lambda: api.rotate(route, service.id, which))
            if self._expect(f"rotate {which} key ({route})", status, service.can_send, 200):
                assert key, "no new key in the answer"
                service.rotated(which, key)

        # Steering: a uniform choice of rules seldom walks draft -> submitted ->
        # approved -> published; these take a service one step along that walk.

        @precondition(lambda self: any(s.submit_allowed() for s in self.models))
        @rule(data=st.data(), route=ROUTES)
        def submit_a_draft(self, data: st.DataObject, route: str) -> None:
            drafts = [s for s in self.models if s.submit_allowed()]
            self.submit(data.draw(st.sampled_from(drafts)), route, data.draw(st.booleans()))

        @precondition(lambda self: any(s.review_allowed() for s in self.models))
        @rule(data=st.data())
        def approve_a_submitted(self, data: st.DataObject) -> None:
            submitted = [s for s in self.models if s.review_allowed()]
            self.review(data.draw(st.sampled_from(submitted)), "approve")

        @precondition(lambda self: any(_unpublished_copy(s) for s in self.models))
        @rule(data=st.data(), route=ROUTES)
        def publish_an_approved(self, data: st.DataObject, route: str) -> None:
            approved = [s for s in self.models if _unpublished_copy(s)]
            self.publish(data.draw(st.sampled_from(approved)), route)

        @precondition(lambda self: any(s.pending for s in self.models))
        @rule()
        def deliver_and_look(self) -> None:
            pending = [m for s in self.models for m, _ in s.pending]
            ctx.call(lambda: ctx.deliver_all(pending))
            ctx.tally.add("deliver, then look as citizens", "checked")
            for service in self.models:
                ctx.call(lambda s=service: _citizens_see(ctx, s))  # type: ignore[misc]
            if ctx.catalogue:
                ctx.call(lambda: _catalogue_shows(ctx, self.models))

        @invariant()
        def senders_see_io_rules_5(self) -> None:
            for service in self.models:
                ctx.call(lambda s=service: _senders_see(ctx, s))  # type: ignore[misc]

    return ServiceLifecycle


def _unpublished_copy(service: ServiceModel) -> bool:
    return service.publish_allowed() and not service.published


async def _senders_see(ctx: Context, service: ServiceModel) -> None:
    api = ctx.api
    view = await api.view(service.id)
    assert (view["state"], view["published"], view["name"]) == (
        service.state,
        service.published,
        service.name,
    ), (view, service)
    if service.approved_name is not None:
        assert view["publication"]["name"] == service.approved_name, (view, service)
        status, copy = await api.published_copy(service.id)
        if service.can_send:
            assert status == 200 and copy["name"] == service.approved_name, (status, copy)
    for which, key in service.keys.items():
        recipients = CITIZENS if which == "primary" else (OUTSIDER,)
        for fiscal_code in recipients:
            status, message_id = await api.send(key, fiscal_code)
            assert status in service.submit_status(fiscal_code), (which, fiscal_code, status)
            if message_id is not None:
                service.pending.append((message_id, fiscal_code))
                service.last_accepted = (message_id, fiscal_code)
    for old in service.old_keys[-3:]:
        assert (await api.send(old, SANDBOX))[0] == 401, "a rotated-away key still submits"
    if service.last_accepted is not None:
        message_id, fiscal_code = service.last_accepted
        status = await api.message_status(service.keys["primary"], fiscal_code, message_id)
        assert status == (200 if service.can_send else 401), status
        for old in service.old_keys[-1:]:
            assert await api.message_status(old, fiscal_code, message_id) == 401


async def _citizens_see(ctx: Context, service: ServiceModel) -> None:
    """Each message accepted since deliver last ran is judged once, as deliver found
    the service; the last few stored ones are then looked at as their citizens."""
    ids = [message_id for message_id, _ in service.pending]
    rows = await ctx.runtime.pool.fetch(
        "SELECT id, status FROM messages WHERE id = ANY($1::text[])", ids
    )
    statuses = {r["id"]: r["status"] for r in rows}
    for message_id, fiscal_code in service.pending:
        status = statuses.get(message_id)
        if not service.can_send:  # accepted (201), then the service was deleted
            assert status == "FAILED", (message_id, fiscal_code, status, service)
        elif service.may_reach(fiscal_code):
            assert status == "PROCESSED", (message_id, fiscal_code, status, service)
        else:  # accepted while published, unpublished before deliver ran
            assert status in ("PROCESSED", "REJECTED"), (message_id, status, service)
        if status == "PROCESSED":
            service.delivered = [*service.delivered[-3:], (message_id, fiscal_code)]
    service.pending = []
    for message_id, fiscal_code in service.delivered:
        code, seen = await ctx.api.citizen_message(ctx.sessions[fiscal_code], message_id)
        assert code == 200, (message_id, code)
        if service.can_send:
            assert seen["service_name"] == service.served_name, (seen, service)


async def _catalogue_shows(ctx: Context, models: list[ServiceModel]) -> None:
    listed = {s["id"]: s for s in await ctx.api.catalogue(ctx.sessions[AUTHORIZED])}
    for service in models:
        if service.published and service.can_send:
            assert service.id in listed, ("a published service is not listed", service)
            assert listed[service.id]["name"] == service.approved_name, (
                listed[service.id],
                service,
            )
        else:
            assert service.id not in listed, ("an unpublished service is listed", service)


async def test_what_senders_and_citizens_see_follows_the_service_lifecycle(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    ctx = Context(client, runtime)
    await ctx.setup()
    machine_settings = settings(
        max_examples=SCALE,
        stateful_step_count=STEPS,
        deadline=None,
        database=None,
        derandomize=not RANDOM,
        suppress_health_check=list(HealthCheck),
    )
    try:
        await asyncio.to_thread(run_state_machine_as_test, machine(ctx), settings=machine_settings)
    finally:
        await ctx.deliver.stop()
    print("\n" + ctx.tally.table())
    print({k: round(v, 1) for k, v in ctx.seconds.items()})
