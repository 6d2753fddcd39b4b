"""Fuzzing the HTTP API: schemathesis draws cases for every operation of every OpenAPI
document (`api_cases`), valid by schema and not, sent with real credentials (a
sender's API key, a body's manage key, the admin token, a citizen session) to a real
ingress on the real broker and database; a case with path parameters is sent twice,
as drawn and naming things that exist (`api_world`).

Oracle: never a 5xx; every refusal (4xx) is `application/problem+json`; every 201 of a
submit ends PROCESSED, REJECTED or FAILED once deliver has run.
"""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from tests.fuzz.api_cases import ApiCase, cases, documents, routes
from tests.fuzz.api_world import World
from tests.fuzz.generate import API_CASES, TIMEOUT, Tally
from tests.fuzz.known import split
from tests.integration.helpers import drain
from worker.bootstrap import Runtime

pytestmark = pytest.mark.timeout(TIMEOUT)

FINAL = {"PROCESSED", "REJECTED", "FAILED"}
PROBLEM = "application/problem+json"
_SUBMIT = {"/api/v1/messages", "/api/v1/messages/{fiscal_code}"}


class Run:
    """The outcomes so far: the tally, the oracle's failures, the ids accepted."""

    def __init__(self) -> None:
        self.tally = Tally("API cases (operation, status)")
        self.failures: list[str] = []
        self.accepted: list[str] = []

    def judge(self, item: ApiCase, request: dict[str, Any], resp: Any, body: bytes) -> None:
        status, content_type = resp.status, resp.content_type
        self.tally.add(item.route, str(status))
        if status >= 500:
            self.failures.append(
                f"{item.route} ({item.mode}) -> {status}: {body[:200]!r} for {request!r:.600}"
            )
        elif status >= 400 and content_type != PROBLEM:
            self.failures.append(f"{item.route} -> {status} as {content_type}")
        elif status == 201 and item.case.operation.path in _SUBMIT:
            self.accepted.append(json.loads(body)["id"])


async def _send(world: World, run: Run, item: ApiCase) -> None:
    request = world.request(item)
    try:
        resp = await world.client.request(
            request["method"],
            request["path"],
            headers=request["headers"],
            params=request["params"],
            data=request.get("data"),
        )
    except (ValueError, UnicodeError) as exc:  # not expressible as an HTTP request
        run.tally.add(item.route, f"unsendable ({type(exc).__name__})")
        return
    except aiohttp.ClientError as exc:  # the server dropped the connection: a crash
        run.tally.add(item.route, "connection dropped")
        run.failures.append(f"{item.route} ({item.mode}) -> {exc!r}: {request!r:.400}")
        return
    body = await resp.read()
    run.judge(item, request, resp, body)
    if request["method"] == "DELETE" and resp.status < 300:
        await world.repair()


async def test_the_api_under_fuzzing_never_fails_and_every_201_ends_final(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    world = World(client, runtime)
    await world.setup()
    served = await (await client.get("/api/v1/openapi.json")).json()
    docs = documents(served)
    started = time.perf_counter()
    drawn = cases(docs, API_CASES)
    every = routes(docs)
    generated = time.perf_counter()
    run = Run()
    for item in drawn:
        await _send(world, run, item)
    sent = time.perf_counter()
    await drain(runtime)
    rows = await runtime.pool.fetch(
        "SELECT id, status FROM messages WHERE id = ANY($1::text[])", run.accepted
    )
    not_final = sorted(set(run.accepted) - {r["id"] for r in rows if r["status"] in FINAL})
    print("\n" + run.tally.table())
    fivexx = sum(n for (_, outcome), n in run.tally.counts.items() if outcome.startswith("5"))
    print(
        f"API fuzz: {run.tally.total} cases over {len(every)} operations,"
        f" {fivexx} answers 5xx, {len(run.failures)} oracle failures,"
        f" {len(run.accepted)} accepted (201), {len(not_final)} accepted but not final;"
        f" drawn in {generated - started:.1f} s, sent in {sent - generated:.1f} s,"
        f" drained in {time.perf_counter() - sent:.1f} s"
    )
    assert {route for route, _ in run.tally.counts} == every, "operations never tried"
    new, known = split(run.failures)
    for failure in known:
        print("KNOWN DEFECT:", failure)
    for failure in new:
        print("FAILED:", failure)
    assert new == []
    assert not_final == []
    assert run.tally.total >= API_CASES
