"""The citizen's own data (docs/privacy.md): export it, or erase it.

- `GET /api/v1/citizen/export`: everything Postino holds about the calling citizen,
  as stored (whole rows: a column added later is exported with no change here),
  read in one snapshot; never a session's token hash.
- `DELETE /api/v1/citizen/profile`: the profile, the service preferences, every
  session (this one included) and the content of every message, at once (one
  transaction). Messages keep their rows without content, payment data or fiscal
  code, for the senders' counts; status events already sent carry ids only. A later
  message for the fiscal code is `REJECTED / USER_NOT_FOUND`, as for anyone not on IO.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from aiohttp import web

from worker import logs
from worker.ingress import openapi
from worker.ingress.citizen import citizen_only
from worker.ingress.keys import STORES
from worker.ingress.problems import json_response

log = logs.get("postino.citizen")
routes = web.RouteTableDef()


class CitizenExport(msgspec.Struct, kw_only=True):
    """Every row about the citizen, as stored (timestamps in UTC)."""

    fiscal_code: str
    exported_at: datetime
    profile: dict[str, Any] | None
    service_preferences: list[dict[str, Any]]
    #: When each open session expires (tokens are kept hashed, never exported).
    sessions: list[dict[str, Any]]
    #: Every message, with content, newest first (rejected and failed ones included).
    messages: list[dict[str, Any]]
    notifications: list[dict[str, Any]]
    reminders: list[dict[str, Any]]
    #: Notification attempts of the messages (kept for `console.retention_days`).
    delivery_attempts: list[dict[str, Any]]


@routes.get("/api/v1/citizen/export")
@citizen_only
async def export(request: web.Request, fiscal_code: str) -> web.Response:
    found = await request.app[STORES].lifecycle.export(fiscal_code)
    log.info("citizen_exported", citizen=logs.mask(fiscal_code), messages=len(found["messages"]))
    body = CitizenExport(fiscal_code=fiscal_code, exported_at=datetime.now(UTC), **found)
    return json_response(body, headers={"Cache-Control": "no-store"})


@routes.delete("/api/v1/citizen/profile")
@citizen_only
async def erase(request: web.Request, fiscal_code: str) -> web.Response:
    counts = await request.app[STORES].lifecycle.erase_citizen(fiscal_code)
    log.info("citizen_erased", citizen=logs.mask(fiscal_code), **counts)
    return web.Response(status=204)


openapi.declare(
    "GET",
    "/api/v1/citizen/export",
    "Everything Postino holds about the calling citizen, as JSON",
    tag="citizen",
    security="citizen",
    responses={200: CitizenExport},
)
openapi.declare(
    "DELETE",
    "/api/v1/citizen/profile",
    "Erase the citizen: profile, preferences, sessions and inbox contents, at once",
    tag="citizen",
    security="citizen",
    responses={204: None},
)
