"""Upstream records count against the service's rate and daily quota (docs/integrators/limits.md),
shared with the ingress through PostgreSQL; over them they are dead-lettered and a
replay delivers them once the limits allow."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from schemas.topics import Topic
from tests.factories import create_profile, create_service, message_body
from tests.integration.deliver_helpers import citizen, rows
from tests.integration.helpers import drain, read_topic
from tests.integration.sender_helpers import key
from tests.integration.test_deliver_upstream import body, encoded, header, produce
from worker.adapters import upstream_admissions
from worker.adapters.upstream_admissions import PostgresAdmissions
from worker.bootstrap import Runtime
from worker.bootstrap.deps import deliver_deps
from worker.cli import dlq
from worker.ids import upstream_id
from worker.ingress.app import reload_services
from worker.ingress.limits import flush_now
from worker.services import upstream_limits
from worker.services.deliver import deliver_batch


async def _dead_codes(runtime: Runtime) -> list[str]:
    dead = await read_topic(runtime, Topic.SUBMITTED.dlq())
    return [header(r, "postino-error-code") for r in dead]


async def test_upstream_records_over_the_daily_quota_are_dead_lettered_then_replayed(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    service_id, api_key = await create_service(runtime, daily_quota=3)
    await reload_services(client.app)
    await create_profile(runtime, citizen(1))
    # one HTTP submit counts against the same quota as the upstream records
    http = await client.post(
        "/api/v1/messages", json=message_body(citizen(1)), headers=key(api_key)
    )
    assert http.status == 201
    await flush_now(client.app)
    await produce(runtime, *(encoded(body(service_id, citizen(1), id=f"up-{n}")) for n in range(4)))

    await drain(runtime)

    up = {upstream_id(service_id, f"up-{n}"): n for n in range(4)}
    delivered = {up[i] for i in await rows(runtime) if i in up}
    assert delivered == {0, 1}
    assert await _dead_codes(runtime) == ["quota_exceeded", "quota_exceeded"]
    # redoing the batch changes nothing: admissions are kept per message id
    redo = await deliver_batch(await read_topic(runtime, Topic.SUBMITTED), deliver_deps(runtime))
    assert sorted(d.code for d in redo.dead) == ["quota_exceeded", "quota_exceeded"]
    used = await runtime.pool.fetchval(
        "SELECT count FROM service_usage WHERE service_id = $1", service_id
    )
    assert used == 3

    # the operator raises the quota (an operational setting: at once), then replays
    await runtime.pool.execute("UPDATE services SET daily_quota = 10 WHERE id = $1", service_id)
    replay = await dlq.replay_dlq(runtime.settings, "messages.submitted.dlq")
    assert replay.replayed == 2
    await drain(runtime)
    assert {up[i] for i in await rows(runtime) if i in up} == {0, 1, 2, 3}


async def test_upstream_records_over_the_rate_are_dead_lettered(runtime: Runtime) -> None:
    service_id, _ = await create_service(runtime, rate_per_second=2)
    await create_profile(runtime, citizen(1))
    values = [encoded(body(service_id, citizen(1), id=f"r-{n}")) for n in range(5)]
    await produce(runtime, *values)

    await drain(runtime)

    # counted by the second deliver read them in (one batch: one second, most often)
    seconds = await runtime.pool.fetch(
        "SELECT second, count(*) AS n FROM upstream_admissions GROUP BY second"
    )
    assert all(r["n"] <= 2 for r in seconds)
    admitted = sum(r["n"] for r in seconds)
    assert len(await rows(runtime)) == admitted >= 2
    assert await _dead_codes(runtime) == ["rate_exceeded"] * (5 - admitted)


async def test_concurrent_batches_share_the_quota_exactly_and_prune_the_old_ledger(
    runtime: Runtime,
) -> None:
    service_id, _ = await create_service(runtime)
    now_ms = 1_764_500_000_000  # 2025-11-30, mid-day in Rome
    day = upstream_limits.candidate("x", service_id, now_ms, rate=1, quota=1).day
    await runtime.pool.execute(
        "INSERT INTO upstream_admissions (message_id, service_id, day, second)"
        " VALUES ('ancient', $1, $2, 0)",
        service_id,
        day - timedelta(days=upstream_admissions.KEEP_DAYS + 1),
    )

    def batch(name: str) -> list[upstream_limits.Candidate]:
        return [
            upstream_limits.candidate(
                f"{name}-{n}", service_id, now_ms + n * 1000, rate=100, quota=5
            )
            for n in range(4)
        ]

    async def admit(candidates: list[upstream_limits.Candidate]) -> upstream_limits.Verdicts:
        return await PostgresAdmissions(runtime.pool).admit(
            candidates, lambda usage: upstream_limits.judge(candidates, usage)
        )

    first, second = await asyncio.gather(admit(batch("a")), admit(batch("b")))

    assert len(first.admitted) + len(second.admitted) == 5
    assert len(first.refused) + len(second.refused) == 3
    assert set(first.refused.values()) | set(second.refused.values()) == {"quota_exceeded"}
    used = await runtime.pool.fetchval(
        "SELECT count FROM service_usage WHERE service_id = $1 AND day = $2", service_id, day
    )
    assert used == 5
    ledger = await runtime.pool.fetch(
        "SELECT message_id FROM upstream_admissions WHERE service_id = $1", service_id
    )
    assert len(ledger) == 5  # the admissions, and not the pruned old one
    # what was admitted is admitted again without being judged nor counted again
    again = await admit(first.admitted + second.admitted)
    assert (again.admitted, again.refused) == ([], {})
    assert (
        await runtime.pool.fetchval(
            "SELECT count FROM service_usage WHERE service_id = $1 AND day = $2", service_id, day
        )
        == 5
    )
