"""Who is calling: a sender (API key), the back-office (admin token), or a citizen session.

The three never overlap: a sender key is not an admin token and vice versa.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web

from worker import logs
from worker.ingress.keys import DIRECTORY, RUNTIME
from worker.ingress.problems import problem
from worker.services.directory import Service

SENDER_HEADER = "Ocp-Apim-Subscription-Key"
#: The realm each bearer-token audience names in its `WWW-Authenticate` challenge.
ADMIN_REALM, CITIZEN_REALM = "postino-admin", "postino-citizen"
Handler = Callable[[web.Request], Awaitable[web.Response]]


def bearer(request: web.Request) -> str | None:
    value = request.headers.get("Authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def bearer_refusal(request: web.Request, realm: str, detail: str) -> web.Response:
    """The 401 of a bearer-token route, with its challenge (RFC 6750): `invalid_token`
    when a token was given, none when the request carried no credentials."""
    challenge = f'Bearer realm="{realm}"'
    if bearer(request) is not None:
        challenge += ', error="invalid_token"'
    return problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": challenge})


def is_admin(request: web.Request) -> bool:
    expected = request.app[RUNTIME].settings.admin_token
    given = bearer(request)
    if not expected or not given:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def admin_refusal(request: web.Request) -> web.Response | None:
    """None when the caller holds the admin token; else the 401 to answer."""
    if is_admin(request):
        return None
    return bearer_refusal(request, ADMIN_REALM, "missing or wrong back-office bearer token")


def admin_only(handler: Handler) -> Handler:
    """The handler, answering 401 instead to anyone without the admin token."""

    async def guarded(request: web.Request) -> web.Response:
        return admin_refusal(request) or await handler(request)

    guarded.__name__ = handler.__name__
    return guarded


def sender(request: web.Request) -> Service | web.Response:
    """The authenticated sending service, or the 401 to answer."""
    service = request.app[DIRECTORY].authenticate(request.headers.get(SENDER_HEADER))
    if service is None:
        return problem(401, "Unauthorized", f"missing or unknown {SENDER_HEADER}")
    logs.bind(service_id=service.id)
    return service
