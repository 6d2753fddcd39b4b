"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio

import msgspec
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from worker.adapters.kafka import wait_for_broker
from worker.ingress.keys import RUNTIME
from worker.ingress.openapi import declare
from worker.ingress.problems import json_response


class HealthView(msgspec.Struct):
    status: str


class ReadinessView(msgspec.Struct):
    ready: bool
    checks: dict[str, str]


declare("GET", "/healthz", "Liveness", tag="operations", responses={200: HealthView})
declare(
    "GET",
    "/readyz",
    "Readiness: database and broker reachable",
    tag="operations",
    responses={200: ReadinessView, 503: ReadinessView},
)
declare(
    "GET",
    "/metrics",
    "Prometheus metrics (text exposition format)",
    tag="operations",
    responses={200: None},
    content_type="text/plain",
)


routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(_: web.Request) -> web.Response:
    return json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(runtime.pool.fetchval("SELECT 1"), timeout=2)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        await wait_for_broker(runtime.settings.kafka, runtime.bootstrap, timeout=2)
        checks["broker"] = "ok"
    except Exception as exc:
        checks["broker"] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)


@routes.get("/metrics")
async def metrics(_: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})
