"""Factories that write the rows tests need (tables are emptied before every test)."""

from __future__ import annotations

import itertools
from typing import Any

from worker.bootstrap import Runtime
from worker.services.directory import hash_key

_ids = itertools.count(1)

#: A complete service card (docs/integrators/services.md), for services that go through review.
CARD = {
    "description": "Tributi comunali: avvisi di pagamento TARI e IMU.",
    "privacy_url": "https://comune.example.org/privacy",
    "scope": "LOCAL",
    "email": "tributi@comune.example.org",
}

MARKDOWN = (
    "Gentile cittadino, con il presente messaggio la informiamo che e' disponibile "
    "un nuovo documento nella sua area personale del portale del Comune."
)


async def insert_row(runtime: Runtime, table: str, values: dict[str, Any]) -> None:
    """INSERT one row of `values` (column -> value) into `table`."""
    cols = ", ".join(values)
    params = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    await runtime.pool.execute(f"INSERT INTO {table} ({cols}) VALUES ({params})", *values.values())


async def create_service(runtime: Runtime, **fields: Any) -> tuple[str, str]:
    """Insert an approved, published service; returns (service id, api key)."""
    n = next(_ids)
    service_id = fields.pop("id", f"svc-{n}")
    api_key = fields.pop("api_key", f"key-{n}-{service_id}")
    values: dict[str, Any] = {
        "id": service_id,
        "name": f"Servizio {n}",
        "organization_name": "Comune di Prova",
        "organization_fiscal_code": "12345678901",
        "state": "approved",
        "published": True,
        "api_key_hash": hash_key(api_key),
    }
    values.update(fields)
    await insert_row(runtime, "services", values)
    return service_id, api_key


async def create_profile(runtime: Runtime, fiscal_code: str, **fields: Any) -> None:
    await insert_row(runtime, "profiles", {"fiscal_code": fiscal_code, **fields})


def message_body(fiscal_code: str | None = None, **content: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "content": {"subject": "Avviso di pagamento TARI", "markdown": MARKDOWN, **content}
    }
    if fiscal_code is not None:
        body["fiscal_code"] = fiscal_code
    return body
