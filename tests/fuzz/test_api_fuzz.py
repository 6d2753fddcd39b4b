"""Fuzzing the HTTP API: schemathesis draws cases for every operation of the generated
OpenAPI document (valid by schema and not), sent with real credentials (a sender's
API key, the admin token, a citizen session) to a real ingress on the real broker and
database.

Oracle: never a 5xx; every refusal (4xx) is `application/problem+json`; every 201 of a
submit ends PROCESSED, REJECTED or FAILED once deliver has run.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import schemathesis
from aiohttp.test_utils import TestClient

from tests.conftest import ADMIN_TOKEN
from tests.factories import create_profile, create_service
from tests.fuzz.generate import SCALE, Tally, examples
from tests.integration.helpers import drain, session
from worker.bootstrap import Runtime
from worker.ingress.app import reload_services
from worker.ingress.openapi import document

CITIZEN = "RSSMRA80A01H501U"
FINAL = {"PROCESSED", "REJECTED", "FAILED"}
PROBLEM = "application/problem+json"
_SUBMIT = {"/api/v1/messages", "/api/v1/messages/{fiscal_code}"}


def _cases(per_operation: int) -> list[tuple[str, Any, list[str]]]:
    """(route, case, security schemes) for every operation of the OpenAPI document."""
    schema = schemathesis.openapi.from_dict(document())
    found = []
    for result in schema.get_all_operations():
        operation = result.ok()
        schemes = [name for item in operation.definition.raw.get("security", []) for name in item]
        route = f"{operation.method.upper()} {operation.path}"
        found += [
            (route, case, schemes) for case in examples(operation.as_strategy(), per_operation)
        ]
    return found


def _request(
    case: Any, credentials: dict[str, dict[str, str]], schemes: list[str]
) -> dict[str, Any]:
    kwargs = case.as_transport_kwargs(base_url="http://fuzz")
    url = urlsplit(kwargs["url"])
    headers = {k: str(v) for k, v in (kwargs.get("headers") or {}).items()}
    for name in ("Ocp-Apim-Subscription-Key", "Authorization"):
        headers.pop(name, None)
    # `security` lists alternatives: the first the fuzzer holds credentials for.
    for scheme in [s for s in schemes if s in credentials][:1]:
        headers |= credentials[scheme]
    request: dict[str, Any] = {
        "method": kwargs["method"],
        "path": url.path + (f"?{url.query}" if url.query else ""),
        "headers": headers,
        "params": kwargs.get("params") or None,
    }
    if "json" in kwargs:
        request["data"] = json.dumps(kwargs["json"]).encode()
        headers.setdefault("Content-Type", "application/json")
    elif kwargs.get("data") is not None:
        request["data"] = kwargs["data"]
    return request


async def test_the_api_under_fuzzing_never_fails_and_every_201_ends_final(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    _, api_key = await create_service(
        runtime, premium=True, payments=True, rate_per_second=100_000, daily_quota=10**9
    )
    await create_profile(runtime, CITIZEN)
    await reload_services(client.app)
    credentials = {
        "sender": {"Ocp-Apim-Subscription-Key": api_key},
        "admin": {"Authorization": f"Bearer {ADMIN_TOKEN}"},
        "citizen": await session(client, CITIZEN),
    }
    tally = Tally("API cases (route, status)")
    failures: list[str] = []
    accepted: list[str] = []
    for route, case, schemes in _cases(SCALE):
        request = _request(case, credentials, schemes)
        try:
            resp = await client.request(
                request["method"],
                request["path"],
                headers=request["headers"],
                params=request["params"],
                data=request.get("data"),
            )
        except (ValueError, UnicodeError) as exc:  # not expressible as an HTTP request
            tally.add(route, f"unsendable ({type(exc).__name__})")
            continue
        body = await resp.read()
        tally.add(route, str(resp.status))
        if resp.status >= 500:
            failures.append(f"{route} -> {resp.status}: {body[:200]!r}")
        elif resp.status >= 400 and resp.content_type != PROBLEM:
            failures.append(f"{route} -> {resp.status} as {resp.content_type}")
        elif resp.status == 201 and case.operation.path in _SUBMIT:
            accepted.append(json.loads(body)["id"])

    await drain(runtime)
    rows = await runtime.pool.fetch(
        "SELECT id, status FROM messages WHERE id = ANY($1::text[])", accepted
    )
    final = {r["id"] for r in rows if r["status"] in FINAL}
    not_final = sorted(set(accepted) - final)
    print("\n" + tally.table())
    fivexx = sum(n for (_, outcome), n in tally.counts.items() if outcome.startswith("5"))
    print(
        f"API fuzz: {tally.total} cases, {fivexx} answers 5xx, {len(failures)} oracle failures,"
        f" {len(accepted)} accepted (201), {len(not_final)} accepted but not final"
    )
    assert failures == []
    assert not_final == []
