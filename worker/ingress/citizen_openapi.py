"""OpenAPI declarations of the citizen app API.

The response structs are the ones `citizen_views` builds the answers with.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from worker.ingress import openapi
from worker.ingress.citizen_views import (
    CitizenMessageView,
    CitizenProfileView,
    InboxPageView,
    MessageStateView,
    MessageStatusBody,
    PreferencesBody,
    PreferenceView,
    ProfilePatch,
    SessionView,
)
from worker.services.citizen import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE


class InboxQuery(msgspec.Struct):
    """The query of the inbox (for the OpenAPI document; the handler parses it)."""

    page_size: Annotated[int, msgspec.Meta(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE
    cursor: Annotated[str, msgspec.Meta(description="`next` of the previous page")] | None = None
    archived: bool = False


_MESSAGES = "/api/v1/citizen/messages"
_PREFS = "/api/v1/citizen/services/{service_id}/preferences"

openapi.declare(
    "POST",
    "/api/v1/admin/profiles/{fiscal_code}/sessions",
    "Issue a citizen session token for the app API",
    tag="citizen",
    security="admin",
    responses={201: SessionView},
)
openapi.declare(
    "GET",
    _MESSAGES,
    "The citizen's inbox, newest first, by cursor pages",
    tag="citizen",
    security="citizen",
    responses={200: InboxPageView},
    query=InboxQuery,
)
openapi.declare(
    "GET",
    _MESSAGES + "/{id}",
    "One of the citizen's messages, with content",
    tag="citizen",
    security="citizen",
    responses={200: CitizenMessageView},
)
openapi.declare(
    "PUT",
    _MESSAGES + "/{id}/message-status",
    "Mark read (one-way) and/or archive or unarchive",
    tag="citizen",
    security="citizen",
    request=MessageStatusBody,
    responses={200: MessageStateView},
    errors=(503,),
)
for _method, _summary, _request in (
    ("GET", "The citizen's own profile", None),
    ("PATCH", "Change the citizen's flags, mode and reminder consent", ProfilePatch),
):
    openapi.declare(
        _method,
        "/api/v1/citizen/profile",
        _summary,
        tag="citizen",
        security="citizen",
        request=_request,
        responses={200: CitizenProfileView},
    )
for _method, _summary, _body in (
    ("GET", "The preference in force for one service", None),
    ("PUT", "Set the preference for one service", PreferencesBody),
):
    openapi.declare(
        _method,
        _PREFS,
        _summary,
        tag="citizen",
        security="citizen",
        request=_body,
        responses={200: PreferenceView},
        errors=(409,) if _body is not None else (),
    )
