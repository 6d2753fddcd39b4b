"""Message templates of a service (docs/integrators/templates.md): write versions, read them.

A manage key of the service's body or the platform admin (`manages_service`). A write
is visible to this process's submit path at once, to the other ingress processes
within `limits.service_refresh_seconds` (`templates_ctx`).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

import msgspec
from aiohttp import web

from worker import logs
from worker.adapters.templates_repo import PostgresTemplates, VersionConflict
from worker.bootstrap import timer_pulse
from worker.ids import encode_ulid
from worker.ingress import openapi
from worker.ingress.bodies import read_body
from worker.ingress.keys import RUNTIME, STORES, TEMPLATES
from worker.ingress.manage_access import Manager, manages_service
from worker.ingress.problems import json_response, problem
from worker.periodic import running_every
from worker.services.directory import Service
from worker.services.pii import personal_data_kind
from worker.services.templates import Template, TemplateError, check_text

log = logs.get("postino.templates")
routes = web.RouteTableDef()
_BASE = "/api/v1/manage/services/{id}/templates"
_ONE = _BASE + "/{template_id}"


class TemplateBody(msgspec.Struct, kw_only=True):
    """A template's text: `((name))` marks a placeholder (letters, digits, `_`)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    subject: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
    markdown: Annotated[str, msgspec.Meta(min_length=1, max_length=10000)]


class TemplateWritten(msgspec.Struct, kw_only=True):
    id: str
    version: int
    placeholders: list[str]


class TemplateView(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: str
    version: int
    name: str
    subject: str
    markdown: str
    placeholders: list[str]
    created_at: datetime | None = None
    #: Every version of the template (one template's read only).
    versions: list[int] | None = None


class TemplateList(msgspec.Struct, kw_only=True):
    """The latest version of each template, by id."""

    items: list[TemplateView]


def _view(template: Template, versions: list[int] | None = None) -> TemplateView:
    return TemplateView(
        id=template.id,
        version=template.version,
        name=template.name,
        subject=template.subject,
        markdown=template.markdown,
        placeholders=list(template.placeholders),
        created_at=template.created_at,
        versions=versions,
    )


def _repo(request: web.Request) -> PostgresTemplates:
    return request.app[STORES].templates


def new_template_id() -> str:
    return encode_ulid((int(time.time() * 1000) << 80) | secrets.randbits(80))


async def _text(request: web.Request) -> tuple[str, str, str, tuple[str, ...]] | web.Response:
    body = await read_body(request, TemplateBody, multiline=("markdown",))
    if isinstance(body, web.Response):
        return body
    try:
        found = check_text(body.name, body.subject, body.markdown)
    except TemplateError as exc:
        return problem(400, "Bad request", str(exc))
    kind = personal_data_kind(body.subject)
    if kind is not None:
        return problem(
            400, "Bad request", f"subject: must not contain personal data ({kind} found)"
        )
    return body.name, body.subject, body.markdown, found


def _written(request: web.Request, template: Template, status: int) -> web.Response:
    request.app[TEMPLATES].add([template])
    log.info("template_written", template_id=template.id, version=template.version)
    written = TemplateWritten(
        id=template.id, version=template.version, placeholders=list(template.placeholders)
    )
    return json_response(written, status=status)


@routes.post(_BASE)
@manages_service
async def create_template(request: web.Request, manager: Manager, service: Service) -> web.Response:
    text = await _text(request)
    if isinstance(text, web.Response):
        return text
    created = await _repo(request).create(new_template_id(), service.id, text, manager.label)
    if created is None:
        return problem(409, "Conflict", "the service holds the most templates it may")
    return _written(request, created, 201)


@routes.put(_ONE)
@manages_service
async def new_version(request: web.Request, manager: Manager, service: Service) -> web.Response:
    text = await _text(request)
    if isinstance(text, web.Response):
        return text
    template_id = request.match_info["template_id"]
    try:
        written = await _repo(request).next_version(template_id, service.id, text, manager.label)
    except VersionConflict:
        return problem(409, "Conflict", "another version was written at the same time; retry")
    if written is None:
        return problem(404, "Not found", "no such template")
    return _written(request, written, 200)


@routes.get(_BASE)
@manages_service
async def list_templates(request: web.Request, _: Manager, service: Service) -> web.Response:
    latest = await _repo(request).latest(service.id)
    return json_response(TemplateList(items=[_view(t) for t in latest]))


@routes.get(_ONE)
@manages_service
async def read_template(request: web.Request, _: Manager, service: Service) -> web.Response:
    versions = await _repo(request).versions(service.id, request.match_info["template_id"])
    if not versions:
        return problem(404, "Not found", "no such template")
    return json_response(_view(versions[-1], [t.version for t in versions]))


@routes.get(_ONE + "/versions/{version}")
@manages_service
async def read_version(request: web.Request, _: Manager, service: Service) -> web.Response:
    wanted = request.match_info["version"]
    versions = await _repo(request).versions(service.id, request.match_info["template_id"])
    found = [t for t in versions if str(t.version) == wanted]
    if not found:
        return problem(404, "Not found", "no such template version")
    return json_response(_view(found[0]))


async def refresh_templates(app: web.Application) -> None:
    """Add the versions written since the last look (by any ingress process)."""
    cache, repo = app[TEMPLATES], app[STORES].templates
    while True:
        before = cache.seq
        added = await repo.since(before)
        cache.add(added)
        if cache.seq == before or len(added) < 10_000:
            return


async def templates_ctx(app: web.Application) -> AsyncIterator[None]:
    """Templates loaded before the first request, then refreshed like the services."""
    await refresh_templates(app)
    interval = app[RUNTIME].settings.limits.service_refresh_seconds
    pulse = timer_pulse(app[RUNTIME], "templates", interval)
    async with running_every(
        interval, lambda: refresh_templates(app), name="template-refresh", pulse=pulse
    ):
        yield


def _declare() -> None:
    for method, path, summary, status in (
        ("POST", _BASE, "Create a template: version 1, with its placeholders", 201),
        ("PUT", _ONE, "Write the next version of a template (earlier ones are kept)", 200),
    ):
        openapi.declare(
            method,
            path,
            summary,
            tag="templates",
            security=("manage", "admin"),
            request=TemplateBody,
            responses={status: TemplateWritten},
            errors=(409,),
        )
    for path, summary, view in (
        (_BASE, "The service's templates, latest version of each", TemplateList),
        (_ONE, "A template's latest version, with the list of its versions", TemplateView),
        (_ONE + "/versions/{version}", "One version of a template", TemplateView),
    ):
        openapi.declare(
            "GET",
            path,
            summary,
            tag="templates",
            security=("manage", "admin"),
            responses={200: view},
        )


_declare()
