"""The ops listener: `/metrics`, `/healthz` and `/readyz` on `POSTINO_OPS_HOST:PORT`
(default port 8081), served by every role (and once by `postino dev`).

It starts before the process connects to anything, so a role still waiting for its
broker or database answers `/healthz` 200 (alive, waiting on purpose) and `/readyz`
503, and it stops last.

- `/healthz` (liveness): 503 when a registered loop made no progress within its
  limit (`Health.stalled()`), else 200.
- `/readyz` (readiness): the process's own pool runs `SELECT 1` and its own producer
  refreshes metadata (no new connection, no new Kafka client per request), and no
  component has marked itself not ready. Concurrent probes share one check, and a
  result is reused for `_READY_CACHE_SECONDS`, so a flood of probes costs nothing.
- `/metrics`: the process's Prometheus registry.

Not on the public port: these are for the orchestrator and the scraper.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from worker import logs, metrics
from worker.bootstrap import Runtime
from worker.health import Health
from worker.settings import Settings

log = logs.get("postino.ops")

_READY_CACHE_SECONDS = 1.0
_CHECK_TIMEOUT_SECONDS = 2.0


def _json(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(body, status=status, headers={"Cache-Control": "no-store"})


class OpsListener:
    def __init__(self, settings: Settings, health: Health) -> None:
        self.settings = settings
        self.health = health
        self.runtime: Runtime | None = None
        self.port: int | None = None
        self._runner: web.AppRunner | None = None
        self._lock = asyncio.Lock()
        self._cached: tuple[float, bool, dict[str, str]] | None = None

    def attach(self, runtime: Runtime) -> None:
        """The process's clients are open: readiness checks them from now on."""
        self.runtime = runtime
        self._cached = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        return app

    async def start(self) -> None:
        ops = self.settings.ops
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, ops.host, ops.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        log.info("ops_listening", host=ops.host, port=self.port)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _healthz(self, _: web.Request) -> web.Response:
        stalled = self.health.stalled()
        if stalled:
            return _json({"status": "stalled", "stalled_seconds": stalled}, status=503)
        return _json({"status": "ok", "loops": self.health.loops()})

    async def _readyz(self, _: web.Request) -> web.Response:
        ready, checks = await self.readiness()
        return _json({"ready": ready, "checks": checks}, status=200 if ready else 503)

    async def _metrics(self, _: web.Request) -> web.Response:
        metrics.LOOPS_STALLED.set(len(self.health.stalled()))
        for loop, seconds in self.health.silences().items():
            metrics.LOOP_SILENCE.labels(loop=loop).set(round(seconds, 3))
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def readiness(self) -> tuple[bool, dict[str, str]]:
        async with self._lock:  # one check at a time; the others reuse its answer
            now = time.monotonic()
            if self._cached is not None and now - self._cached[0] < _READY_CACHE_SECONDS:
                return self._cached[1], self._cached[2]
            checks = await self._check()
            checks.update(self.health.blockers())
            ready = all(value == "ok" for value in checks.values())
            self._cached = (time.monotonic(), ready, checks)
            return ready, checks

    async def _check(self) -> dict[str, str]:
        runtime = self.runtime
        if runtime is None:
            return {"runtime": "starting"}
        database, broker = await asyncio.gather(
            _outcome(runtime.pool.fetchval("SELECT 1")),
            _outcome(runtime.publisher.ping(_CHECK_TIMEOUT_SECONDS)),
        )
        return {"database": database, "broker": broker}


async def _outcome(check: Any) -> str:
    try:
        await asyncio.wait_for(check, timeout=_CHECK_TIMEOUT_SECONDS)
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"
