"""The ingress role: the aiohttp app on `POSTINO_HTTP_HOST:PORT` until stopped."""

from __future__ import annotations

import asyncio

from aiohttp import web

from worker import logs
from worker.bootstrap import Runtime
from worker.ingress.app import create_app

log = logs.get("postino.ingress")


async def run(runtime: Runtime, stop: asyncio.Event) -> None:
    http = runtime.settings.http
    runner = web.AppRunner(create_app(runtime), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, http.host, http.port, backlog=1024)
        await site.start()
        log.info("ingress_listening", host=http.host, port=http.port)
        await stop.wait()
    finally:
        await runner.cleanup()
        log.info("ingress_stopped")
