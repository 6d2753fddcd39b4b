"""OpenAPI declarations of routes whose modules do not declare their own (health).

Owners may move a block next to their handlers (`openapi.declare` is idempotent).
"""

from __future__ import annotations

import msgspec

from worker.ingress.openapi import declare


class HealthView(msgspec.Struct):
    status: str


class ReadinessView(msgspec.Struct):
    ready: bool
    checks: dict[str, str]


def _health() -> None:
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


_health()
