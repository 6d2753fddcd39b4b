"""Service topics (IO's `getServiceTopics`, at IO's path `/manage/services/topics`):
the fixed list of `schemas.service_topics`, for a sender key or the admin token."""

from __future__ import annotations

import msgspec
from aiohttp import web

from schemas.service_topics import SERVICE_TOPICS, ServiceTopic
from worker.ingress import openapi
from worker.ingress.auth import SENDER_HEADER, is_admin
from worker.ingress.network import networked_sender

routes = web.RouteTableDef()


class ServiceTopicList(msgspec.Struct, frozen=True):
    """IO's `CmsServiceTopicList`."""

    topics: list[ServiceTopic]


PATH = "/api/v1/manage/services/topics"
_BODY = msgspec.json.encode(ServiceTopicList(list(SERVICE_TOPICS)))


@routes.get(PATH)
async def service_topics(request: web.Request) -> web.Response:
    if not (is_admin(request) and SENDER_HEADER not in request.headers):
        caller = networked_sender(request)
        if isinstance(caller, web.Response):
            return caller
    return web.Response(body=_BODY, content_type="application/json")


openapi.declare(
    "GET",
    PATH,
    "IO's service topics (getServiceTopics): numeric ids and Italian names",
    tag="sender",
    security="sender",
    responses={200: ServiceTopicList},
)
