"""Citizen profiles written by the platform (docs/integrators/services.md), admin token only."""

from __future__ import annotations

import msgspec
from aiohttp import web

from schemas.patterns import is_fiscal_code
from worker.ingress.admin_views import ProfileBody, ProfileView
from worker.ingress.backoffice import body_of
from worker.ingress.keys import STORES
from worker.ingress.problems import json_response, problem


async def put_profile(request: web.Request) -> web.Response:
    fiscal_code = request.match_info["fiscal_code"]
    if not is_fiscal_code(fiscal_code):
        return problem(400, "Bad request", "fiscal_code: not a valid fiscal code")
    body = await body_of(request, ProfileBody)
    if isinstance(body, web.Response):
        return body
    created = await request.app[STORES].profiles.upsert(body.profile(fiscal_code))
    view = ProfileView(fiscal_code=fiscal_code, **msgspec.structs.asdict(body))
    return json_response(view, status=201 if created else 200)
