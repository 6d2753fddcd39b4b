"""The operators' status page: `GET /status` (HTML) and `GET /api/v1/status` (JSON).

Counts only, nothing personal: messages by status, notifications by channel and
status, records waiting in each DLQ and consumer lag (both from the broker's high
watermarks), and the process uptime. Each section is gathered independently, with
a time limit: a broker or database outage shows as that section's error, and the
page still answers.
"""

from __future__ import annotations

import asyncio
import html
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from schemas.topics import ConsumerGroup
from worker.adapters.kafka import all_partitions
from worker.adapters.kafka_offsets import committed, high_watermarks, inspector
from worker.bootstrap import Runtime
from worker.ingress import citizen_openapi  # noqa: F401 - declares these routes
from worker.ingress.keys import RUNTIME
from worker.ingress.problems import json_response

STARTED = web.AppKey("status_started", float)
SECTION_TIMEOUT = 5.0
routes = web.RouteTableDef()

_MESSAGES = "SELECT status, count(*) AS n FROM messages GROUP BY status ORDER BY status"
_NOTIFICATIONS = """
SELECT channel, status, count(*) AS n FROM notifications
GROUP BY channel, status ORDER BY channel, status
"""


def setup(app: web.Application) -> None:
    """Register the routes and remember when this process started serving."""
    app[STARTED] = time.time()
    app.add_routes(routes)


async def _messages(runtime: Runtime) -> dict[str, int]:
    return {r["status"]: r["n"] for r in await runtime.pool.fetch(_MESSAGES)}


async def _notifications(runtime: Runtime) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = {}
    for r in await runtime.pool.fetch(_NOTIFICATIONS):
        found.setdefault(r["channel"], {})[r["status"]] = r["n"]
    return found


async def _broker(runtime: Runtime) -> dict[str, Any]:
    """DLQ record counts and, per consumer group, lag per topic."""
    ks = runtime.settings.kafka
    names = ks.topics.all_names()
    looker = inspector(runtime.settings.kafka, runtime.bootstrap)
    await looker.start()
    try:
        tps = await all_partitions(looker, names)
        marks = await high_watermarks(looker, tps)
        starts = await looker.beginning_offsets(tps)
    finally:
        await looker.stop()
    dlq: dict[str, int] = {}
    for tp in tps:
        if tp.topic.endswith(".dlq"):
            base = ks.topics.base(tp.topic)
            dlq[base] = dlq.get(base, 0) + marks[tp] - starts[tp]
    lag = {role: await _lag(runtime, ks.group(role), marks) for role in ConsumerGroup}
    return {"dlq_records": dlq, "consumer_lag": {r: v for r, v in lag.items() if v}}


async def _lag(runtime: Runtime, group: str, marks: dict[Any, int]) -> dict[str, int]:
    ks = runtime.settings.kafka
    consumer = inspector(runtime.settings.kafka, runtime.bootstrap, group)
    await consumer.start()
    try:
        done = await committed(consumer, [tp for tp in marks if not tp.topic.endswith(".dlq")])
    finally:
        await consumer.stop()
    lag: dict[str, int] = {}
    for tp, offset in done.items():
        base = ks.topics.base(tp.topic)
        lag[base] = lag.get(base, 0) + max(0, marks[tp] - offset)
    return lag


async def _guarded(section: Awaitable[Any]) -> Any:
    try:
        return await asyncio.wait_for(section, timeout=SECTION_TIMEOUT)
    except Exception as exc:
        return {"error": type(exc).__name__}


async def collect(app: web.Application) -> dict[str, Any]:
    runtime = app[RUNTIME]
    messages, notifications, broker = await asyncio.gather(
        _guarded(_messages(runtime)),
        _guarded(_notifications(runtime)),
        _guarded(_broker(runtime)),
    )
    failed = "error" in broker
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "uptime_seconds": round(time.time() - app[STARTED], 1),
        "topic_prefix": runtime.settings.kafka.topic_prefix,
        "messages_by_status": messages,
        "notifications_by_channel": notifications,
        "dlq_records": broker if failed else broker["dlq_records"],
        "consumer_lag": broker if failed else broker["consumer_lag"],
    }


@routes.get("/api/v1/status")
async def status_json(request: web.Request) -> web.Response:
    return json_response(await collect(request.app))


def _table(title: str, rows: list[tuple[str, ...]], head: tuple[str, ...]) -> str:
    cells = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    header = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    empty = f'<tr><td colspan="{len(head)}">none</td></tr>' if not rows else ""
    return f"<h2>{html.escape(title)}</h2><table><tr>{header}</tr>{cells}{empty}</table>"


def _rows(section: Any, depth: int) -> list[tuple[str, ...]]:
    """Flatten {a: n} or {a: {b: n}} into table rows; an error becomes one row."""
    if "error" in section:
        return [("unavailable", section["error"], *([""] * (depth - 1)))]
    if depth == 1:
        return [(str(k), str(v)) for k, v in section.items()]
    return [(str(k), str(k2), str(v)) for k, inner in section.items() for k2, v in inner.items()]


def render(status: dict[str, Any]) -> str:
    body = "".join(
        [
            f"<h1>Postino status</h1><p>generated {html.escape(status['generated_at'])},"
            f" uptime {status['uptime_seconds']} s, topic prefix"
            f" '{html.escape(status['topic_prefix'])}'</p>",
            _table("Messages", _rows(status["messages_by_status"], 1), ("status", "count")),
            _table(
                "Notifications",
                _rows(status["notifications_by_channel"], 2),
                ("channel", "status", "count"),
            ),
            _table("DLQ records", _rows(status["dlq_records"], 1), ("topic", "records")),
            _table("Consumer lag", _rows(status["consumer_lag"], 2), ("role", "topic", "lag")),
        ]
    )
    style = (
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1em}"
        "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}"
    )
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<meta http-equiv="refresh" content="10"><title>Postino status</title>'
        f"<style>{style}</style></head><body>{body}</body></html>"
    )


@routes.get("/status")
async def status_html(request: web.Request) -> web.Response:
    return web.Response(text=render(await collect(request.app)), content_type="text/html")
