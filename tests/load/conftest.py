"""Load tests drive a RUNNING stack (`make run` in another shell), over loopback.

Environment (defaults match `postino dev`):
- `POSTINO_LOAD_URL` (http://127.0.0.1:8080), `POSTINO_LOAD_API_KEY` (postino-demo-key);
- `POSTINO_LOAD_ADMIN_TOKEN` (or `POSTINO_ADMIN_TOKEN`): when given, the tests create
  their own published service with limits out of the way and their own citizens
  through the back-office API; otherwise they use the demo service and its citizens,
  whose per-second rate limit may answer 429 (counted and printed, not hidden).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest

from devkit.bench.workload import MARKDOWN, fiscal_code
from devkit.dev import DEMO_API_KEY, DEMO_CITIZENS

URL = os.environ.get("POSTINO_LOAD_URL", "http://127.0.0.1:8080").rstrip("/")
API_KEY = os.environ.get("POSTINO_LOAD_API_KEY", DEMO_API_KEY)
ADMIN_TOKEN = os.environ.get("POSTINO_LOAD_ADMIN_TOKEN") or os.environ.get("POSTINO_ADMIN_TOKEN")
LOAD_CITIZENS = 50


@dataclass(frozen=True, slots=True)
class Target:
    url: str
    api_key: str
    fiscal_codes: tuple[str, ...]
    note: str

    def body(self, n: int) -> dict[str, object]:
        return {
            "fiscal_code": self.fiscal_codes[n % len(self.fiscal_codes)],
            "content": {"subject": "Avviso di pagamento TARI 2026", "markdown": MARKDOWN},
        }


async def _reachable(http: aiohttp.ClientSession) -> None:
    try:
        async with http.get(
            f"{URL}/api/v1/openapi.json", timeout=aiohttp.ClientTimeout(total=3)
        ) as resp:
            if resp.status == 200:
                return
            problem = f"GET {URL}/api/v1/openapi.json answered {resp.status}"
    except (aiohttp.ClientError, TimeoutError) as exc:
        problem = f"{URL} is not reachable ({type(exc).__name__}: {exc})"
    pytest.fail(
        f"{problem}. The load tests drive a running stack: run `make run` in another shell "
        "first (or set POSTINO_LOAD_URL to your stack).",
        pytrace=False,
    )


async def _own_service(http: aiohttp.ClientSession, token: str) -> Target | None:
    """A published service with high limits and LOAD_CITIZENS profiles; None if refused."""
    admin = {"Authorization": f"Bearer {token}"}
    base = f"{URL}/api/v1/admin"
    create = {
        "name": "Servizio load test",
        "organization_name": "Comune di Esempio",
        "organization_fiscal_code": "01234567891",
        "rate_per_second": 100_000,
        "daily_quota": 1_000_000_000,
    }
    async with http.post(f"{base}/services", json=create, headers=admin) as resp:
        if resp.status != 201:
            return None
        created = await resp.json()
    sid = created["id"]
    for method, path in (("PUT", "review"), ("POST", "approve"), ("POST", "release")):
        async with http.request(method, f"{base}/services/{sid}/{path}", headers=admin) as resp:
            if resp.status >= 300:
                return None
    codes = tuple(fiscal_code(90_000 + n) for n in range(LOAD_CITIZENS))
    for fc in codes:
        profile = {"inbox_enabled": True, "email": f"{fc}@example.org", "email_validated": True}
        async with http.put(f"{base}/profiles/{fc}", json=profile, headers=admin) as resp:
            if resp.status >= 300:
                return None
    return Target(URL, created["api_key"], codes, f"own service {sid} (admin API)")


@pytest.fixture(scope="session")
async def target() -> AsyncIterator[Target]:
    async with aiohttp.ClientSession() as http:
        await _reachable(http)
        found = await _own_service(http, ADMIN_TOKEN) if ADMIN_TOKEN else None
    if found is None:
        why = "admin API refused" if ADMIN_TOKEN else "no POSTINO_LOAD_ADMIN_TOKEN"
        found = Target(URL, API_KEY, tuple(DEMO_CITIZENS), f"demo key, demo citizens ({why})")
    print(f"\nload target: {found.url} with {found.note}")
    yield found
