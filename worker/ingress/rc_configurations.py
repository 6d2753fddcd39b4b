"""IO's remote-content configurations (`createRCConfiguration`,
`listRCConfiguration`, `getRCConfiguration`, `updateRCConfiguration`) at IO's paths.

The caller is a body: its manage key (as IO asks), or a service key of one of its
services. A body sees and changes only its own configurations; another body's
id answers 404. Base URLs pass the SSRF rules of the callbacks (docs/integrators/callbacks.md) when
saved, and again at every call (`worker.adapters.remote_content`).
"""

from __future__ import annotations

import secrets
import time

from aiohttp import web

from worker import logs
from worker.ids import decode_ulid, encode_ulid
from worker.ingress import openapi
from worker.ingress.auth import SENDER_HEADER
from worker.ingress.bodies import read_body
from worker.ingress.keys import RUNTIME, STORES
from worker.ingress.network import networked_sender
from worker.ingress.problems import json_response, problem
from worker.services import organizations
from worker.services.callback_url import DnsUnavailable, UnsafeCallbackUrl, check_callback_url
from worker.services.rc_configurations import (
    NewRCConfiguration,
    RCConfiguration,
    RCConfigurationList,
)

log = logs.get("postino.rc_configurations")
routes = web.RouteTableDef()
BASE = "/api/v1/messages-sending/remote-contents/configurations"
ONE = BASE + "/{configuration_id}"


async def _owner(request: web.Request) -> str | web.Response:
    """The calling body's fiscal code: its manage key's body (as IO asks), or the body
    of the service whose key it is; else the refusal."""
    given = request.headers.get(SENDER_HEADER)
    actor = await organizations.authenticate(request.app[STORES].organizations, given)
    if actor is not None and actor.organization_fiscal_code is not None:
        return actor.organization_fiscal_code
    caller = networked_sender(request)
    if isinstance(caller, web.Response):
        return caller
    return caller.organization_fiscal_code


async def _checked(request: web.Request) -> NewRCConfiguration | web.Response:
    body = await read_body(request, NewRCConfiguration, multiline=("description",))
    if isinstance(body, web.Response):
        return body
    missing = body.missing()
    if missing is not None:
        return problem(400, "Bad request", missing)
    callbacks = request.app[RUNTIME].settings.callbacks
    for field, url in body.base_urls():
        try:
            await check_callback_url(
                url, allow_loopback=callbacks.allow_loopback, allowed_ports=callbacks.allowed_ports
            )
        except (UnsafeCallbackUrl, DnsUnavailable) as exc:
            return problem(400, "Bad request", str(exc).replace("callback_url", field, 1))
    return body


def _not_found() -> web.Response:
    return problem(404, "Not found", "no such configuration")


@routes.post(BASE)
async def create_configuration(request: web.Request) -> web.Response:
    owner = await _owner(request)
    if isinstance(owner, web.Response):
        return owner
    body = await _checked(request)
    if isinstance(body, web.Response):
        return body
    new_id = encode_ulid((int(time.time() * 1000) << 80) | secrets.randbits(80))
    store = request.app[STORES].rc_configurations
    await store.create(owner, new_id, body)
    log.info("rc_configuration_created", configuration_id=new_id)
    return json_response(await store.get(owner, new_id), status=201)


@routes.get(BASE)
async def list_configurations(request: web.Request) -> web.Response:
    owner = await _owner(request)
    if isinstance(owner, web.Response):
        return owner
    found = await request.app[STORES].rc_configurations.list(owner)
    return json_response(RCConfigurationList(found))


@routes.get(ONE)
async def get_configuration(request: web.Request) -> web.Response:
    owner = await _owner(request)
    if isinstance(owner, web.Response):
        return owner
    config_id = request.match_info["configuration_id"]
    found = await request.app[STORES].rc_configurations.get(owner, config_id)
    return _not_found() if found is None else json_response(found)


@routes.put(ONE)
async def update_configuration(request: web.Request) -> web.Response:
    owner = await _owner(request)
    if isinstance(owner, web.Response):
        return owner
    config_id = request.match_info["configuration_id"]
    if decode_ulid(config_id) is None:
        return problem(400, "Bad request", "configuration_id: not a ULID")
    body = await _checked(request)
    if isinstance(body, web.Response):
        return body
    if not await request.app[STORES].rc_configurations.update(owner, config_id, body):
        return _not_found()
    log.info("rc_configuration_updated", configuration_id=config_id)
    return web.Response(status=204)


_ID = "configuration_id"
openapi.PATH_PARAMETERS.setdefault(
    _ID, {"type": "string", "pattern": "^[0-7][0-9A-HJKMNP-TV-Z]{25}$", "description": "a ULID"}
)
for _method, _path, _summary, _request, _responses in (
    (
        "POST",
        BASE,
        "Create a remote-content configuration",
        NewRCConfiguration,
        {201: RCConfiguration},
    ),
    ("GET", BASE, "The body's remote-content configurations", None, {200: RCConfigurationList}),
    ("GET", ONE, "One of the body's remote-content configurations", None, {200: RCConfiguration}),
    ("PUT", ONE, "Replace a remote-content configuration", NewRCConfiguration, {204: None}),
):
    openapi.declare(
        _method,
        _path,
        f"{_summary} (IO's remote-content configurations; the body's manage key or a service key)",
        tag="sender",
        security="sender",
        request=_request,
        responses=_responses,
    )
