"""The ingress ceiling: the least an HTTP-to-Kafka ingress can do on this machine.

One aiohttp route that reads the body, decodes it with msgspec (no validation), and
publishes it with the same producer settings as ours (acks=all, same linger), then
answers 201, on the same event loop (`POSTINO_EVENT_LOOP`). Run as its own process:
`python -m devkit.bench.bare_ingress`, with `POSTINO_KAFKA_BOOTSTRAP`,
`POSTINO_HTTP_PORT` and `POSTINO_TOPIC_PREFIX`.
"""

from __future__ import annotations

import asyncio
import itertools

import msgspec
from aiohttp import web

from schemas.topics import Topic
from worker import eventloop
from worker.adapters import kafka
from worker.lifecycle import install_signal_handlers
from worker.settings import load_settings

_ids = itertools.count()


async def serve() -> None:
    settings = load_settings()
    bootstrap = settings.kafka.bootstrap or "127.0.0.1:9092"
    producer = kafka.producer(settings.kafka, bootstrap, "ingress")  # its settings, linger too
    await producer.start()
    topic = settings.kafka.topics.name(Topic.SUBMITTED)

    async def submit(request: web.Request) -> web.Response:
        body = await request.read()
        message = msgspec.json.decode(body)
        await producer.send_and_wait(topic, body, key=message["fiscal_code"].encode())
        return web.json_response({"id": str(next(_ids))}, status=201)

    app = web.Application()
    app.router.add_post("/api/v1/messages", submit)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    stop = asyncio.Event()
    install_signal_handlers(stop)
    try:
        await web.TCPSite(runner, settings.http.host, settings.http.port, backlog=1024).start()
        await stop.wait()
    finally:
        await runner.cleanup()
        await producer.stop()


if __name__ == "__main__":
    eventloop.run(serve(), load_settings())  # the same event loop as our ingress
