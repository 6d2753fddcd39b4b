"""Running roles until SIGINT/SIGTERM, then draining them, with one summary line."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

from worker import logs
from worker.adapters import kafka, postgres
from worker.adapters.kafka_topics import sync_topics
from worker.bootstrap import Runtime, open_runtime, require_endpoints, until_reachable
from worker.console.sampler import FlowSampler
from worker.core.topic_plan import Plan
from worker.health import Health
from worker.ops import OpsListener
from worker.roles.registry import ROLES
from worker.settings import ConfigError, Settings

log = logs.get("postino.lifecycle")
Show = Callable[[str], None] | None


def install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


async def migrate_database(settings: Settings) -> list[str]:
    """Apply pending migrations (idempotent, safe to run concurrently); the names applied."""
    url = settings.database.url
    if not url:
        raise ConfigError("POSTINO_DATABASE_URL is required (or run `postino dev`)")
    pool = await until_reachable(
        "database", lambda: postgres.create_pool(url, min_size=1, max_size=2)
    )
    try:
        return await postgres.migrate(pool)
    finally:
        await pool.close()


async def apply_topics(settings: Settings, *, dry_run: bool = False, show: Show = None) -> Plan:
    """Bring the cluster's topics to `deploy/topics.yaml` (see `postino topics`)."""
    bootstrap, _ = require_endpoints(settings)
    await until_reachable(
        "broker", lambda: kafka.wait_for_broker(settings.kafka, bootstrap, timeout=2)
    )
    return await sync_topics(settings.kafka, bootstrap, dry_run=dry_run, show=show)


async def prepare(settings: Settings) -> None:
    """Database migrations and topics, for `postino dev` and the tests."""
    await migrate_database(settings)
    await apply_topics(settings)


@asynccontextmanager
async def operated(
    settings: Settings,
    role: str,
    stop: asyncio.Event | None = None,
    health: Health | None = None,
) -> AsyncIterator[Runtime]:
    """The ops listener first (alive, not ready), then the runtime it reports on, which
    waits for the database and the broker (`Stopped` if `stop` comes first); closed in
    reverse order."""
    health = health or Health()
    listener = OpsListener(settings, health)
    await listener.start()
    try:
        async with open_runtime(settings, role, health, stop) as runtime:
            listener.attach(runtime)
            runtime.ops_port = listener.port
            yield runtime
    finally:
        await listener.stop()


async def run_roles(runtime: Runtime, names: Sequence[str], stop: asyncio.Event) -> int:
    """Run the roles until `stop`; a role that fails stops the others. Returns an exit code."""
    started = time.monotonic()
    tasks: dict[asyncio.Task[None], str] = {
        asyncio.create_task(ROLES[n](runtime, stop), name=n): n for n in names
    }
    sampling = runtime.settings.console.sample_seconds > 0
    sampler = asyncio.create_task(
        FlowSampler(runtime.pool, runtime.settings).run(stop) if sampling else stop.wait(),
        name="flow-sampler",
    )
    failed: list[str] = []
    pending = set(tasks)
    while pending:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task.cancelled() or task.exception() is not None:
                failed.append(tasks[task])
                exc = None if task.cancelled() else task.exception()
                error = (
                    "cancelled"
                    if exc is None
                    else f"{type(exc).__name__}: {logs.safe_error_text(exc)}"
                )
                log.error("role_failed", role=tasks[task], error=error)
        stop.set()
    await asyncio.gather(sampler, return_exceptions=True)
    log.info(
        "shutdown_complete",
        roles=list(names),
        failed=failed,
        uptime_seconds=round(time.monotonic() - started, 1),
    )
    return 1 if failed else 0
