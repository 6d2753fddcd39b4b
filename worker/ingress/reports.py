"""Reports for senders (docs/integrators/reports.md): a service's messages, newest
first, and daily counts.

A manage key of the service's body or the platform admin (`manages_service`). The list
never shows content; fiscal codes only when the caller filtered by one (it knew it
already). `Accept: text/csv` answers the same rows as CSV (the cursor of the next page
in the `Link` header, `rel="next"`).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Annotated, Any

import msgspec
from aiohttp import web

from schemas.enums import FeatureLevel, MessageStatus
from worker.adapters.reports_repo import PageQuery, PostgresReports
from worker.ingress import openapi
from worker.ingress.keys import STORES
from worker.ingress.manage_access import Manager, manages_service
from worker.ingress.problems import json_response, problem
from worker.services import reports
from worker.services.citizen import Cursor, InvalidRequest
from worker.services.directory import Service

routes = web.RouteTableDef()
_MESSAGES = "/api/v1/manage/services/{id}/messages"
_STATS = "/api/v1/manage/services/{id}/stats"
CSV = "text/csv"


class ChannelOutcome(msgspec.Struct, kw_only=True):
    """The message notification's status on each channel (null: not notified there)."""

    push: str | None = None
    email: str | None = None


class TemplateUsed(msgspec.Struct, kw_only=True):
    id: str
    version: int


class ReportItem(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: str
    created_at: datetime
    status: MessageStatus
    feature_level_type: FeatureLevel
    notification: ChannelOutcome
    rejection_reason: str | None = None
    failure_reason: str | None = None
    template: TemplateUsed | None = None
    #: Only when the list was filtered by this fiscal code.
    fiscal_code: str | None = None


class ReportPage(msgspec.Struct, kw_only=True):
    items: list[ReportItem]
    #: `cursor` of the next page; null on the last.
    next: str | None


class ReportQuery(msgspec.Struct):
    """The list's query (for the OpenAPI document; the handler parses it)."""

    status: Annotated[str, msgspec.Meta(pattern="^(PROCESSED|REJECTED|FAILED)$")] | None = None
    since: Annotated[str, msgspec.Meta(description="RFC 3339; inclusive")] | None = None
    until: Annotated[str, msgspec.Meta(description="RFC 3339; exclusive")] | None = None
    fiscal_code: str | None = None
    cursor: Annotated[str, msgspec.Meta(description="`next` of the previous page")] | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=reports.MAX_LIMIT)] = reports.DEFAULT_LIMIT


class StatsQuery(msgspec.Struct):
    since: Annotated[str, msgspec.Meta(description="RFC 3339; default: until - 30 days")] | None = (
        None
    )
    until: Annotated[str, msgspec.Meta(description="RFC 3339; default: now")] | None = None


class DayView(msgspec.Struct, kw_only=True):
    day: date
    total: int
    status: dict[str, int]
    rejection_reason: dict[str, int]
    failure_reason: dict[str, int]
    #: channel ("push", "email") -> status -> count
    notification: dict[str, dict[str, int]]
    #: ADVANCED messages read with the citizen's consent to share it.
    read: int
    #: ADVANCED messages paid.
    paid: int


class StatsView(msgspec.Struct, kw_only=True):
    since: datetime
    until: datetime
    #: One entry per UTC day that has messages, oldest first.
    days: list[DayView]


def _repo(request: web.Request) -> PostgresReports:
    return request.app[STORES].reports


def _item(row: dict[str, Any], show_fiscal_code: str | None) -> ReportItem:
    channels = {str(k).lower(): v for k, v in (row["notification"] or {}).items()}
    template = row["template_id"]
    return ReportItem(
        id=row["id"],
        created_at=row["created_at"],
        status=MessageStatus(row["status"]),
        feature_level_type=FeatureLevel(row["feature_level_type"]),
        notification=ChannelOutcome(push=channels.get("push"), email=channels.get("email")),
        rejection_reason=row["rejection_reason"],
        failure_reason=row["failure_reason"],
        template=TemplateUsed(id=template, version=row["template_version"]) if template else None,
        fiscal_code=show_fiscal_code,
    )


_CSV_COLUMNS = (
    "id",
    "created_at",
    "status",
    "rejection_reason",
    "failure_reason",
    "feature_level_type",
    "push",
    "email",
    "template_id",
    "template_version",
)


def _csv(page: ReportPage, with_fiscal_code: bool) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow((*_CSV_COLUMNS, "fiscal_code") if with_fiscal_code else _CSV_COLUMNS)
    for i in page.items:
        row = [
            i.id,
            i.created_at.astimezone(UTC).isoformat(),
            i.status.value,
            i.rejection_reason or "",
            i.failure_reason or "",
            i.feature_level_type.value,
            i.notification.push or "",
            i.notification.email or "",
            i.template.id if i.template else "",
            i.template.version if i.template else "",
        ]
        writer.writerow([*row, i.fiscal_code] if with_fiscal_code else row)
    return out.getvalue()


def _wants_csv(request: web.Request) -> bool:
    return CSV in request.headers.get("Accept", "")


@routes.get(_MESSAGES)
@manages_service
async def list_messages(request: web.Request, _: Manager, service: Service) -> web.Response:
    try:
        asked = reports.page_request(request.query)
    except InvalidRequest as exc:
        return problem(400, "Bad request", str(exc))
    after = (asked.after.created_at, asked.after.id) if asked.after else None
    query = PageQuery(
        service.id,
        asked.limit + 1,
        asked.status,
        asked.since,
        asked.until,
        asked.fiscal_code,
        after,
    )
    rows = await _repo(request).page(query)
    shown = rows[: asked.limit]
    more = len(rows) > asked.limit
    cursor = Cursor(shown[-1]["created_at"], shown[-1]["id"]).encode() if more else None
    page = ReportPage(items=[_item(r, asked.fiscal_code) for r in shown], next=cursor)
    if not _wants_csv(request):
        return json_response(page)
    headers = {"Link": f'<?cursor={cursor}>; rel="next"'} if cursor else None
    text = _csv(page, asked.fiscal_code is not None)
    return web.Response(text=text, content_type=CSV, charset="utf-8", headers=headers)


@routes.get(_STATS)
@manages_service
async def stats(request: web.Request, _: Manager, service: Service) -> web.Response:
    try:
        since, until = reports.stats_range(request.query, datetime.now(UTC))
    except InvalidRequest as exc:
        return problem(400, "Bad request", str(exc))
    found = await reports.service_stats(_repo(request), service.id, since, until, datetime.now(UTC))
    days = [msgspec.convert(d, DayView, from_attributes=True) for d in found]
    return json_response(StatsView(since=since, until=until, days=days))


openapi.declare(
    "GET",
    _MESSAGES,
    "The service's messages, newest first, by cursor pages (no content); Accept: text/csv for CSV",
    tag="reports",
    security=("manage", "admin"),
    responses={200: ReportPage},
    query=ReportQuery,
)
openapi.declare(
    "GET",
    _STATS,
    "The service's messages counted per UTC day: status, reasons, channel outcomes, read"
    " and paid (ADVANCED)",
    tag="reports",
    security=("manage", "admin"),
    responses={200: StatsView},
    query=StatsQuery,
)
