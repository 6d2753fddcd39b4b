"""OpenAPI declarations of the back office's routes (`manage_routes`).

IO's CMS operations keep IO's operation ids, so a client generated from either
document calls the same names. Section 6's old paths are declared `deprecated`
where only the admin token answers them; where a CMS operation shares the path, the
CMS operation is the one documented and its summary names the successor.
"""

from __future__ import annotations

from typing import Any

from schemas.cms import (
    CmsReviewRequest,
    CmsServiceHistory,
    CmsServiceLifecycle,
    CmsServicePagination,
    CmsServicePayload,
    CmsServicePublication,
    CmsServiceTopicList,
    CmsSubscriptionKeys,
    Logo,
)
from worker.ingress import openapi
from worker.ingress.admin_views import (
    ProfileBody,
    ProfileView,
    RejectBody,
    ServiceCreate,
    ServicePage,
    ServicePatch,
    ServiceView,
)
from worker.ingress.citizen_views import SessionView
from worker.ingress.manage_queries import CmsHistoryQuery, CmsPageQuery, ServiceListQuery
from worker.ingress.manage_routes import ADMIN_BASE, OLD_BASE
from worker.ingress.organizations import (
    IssuedKeyView,
    ManageKeyView,
    OrganizationBody,
    OrganizationList,
    OrganizationView,
)

_VIEW = {200: ServiceView}
# (method, suffix, summary, request, responses, query, errors) of section 6's operations.
_LEGACY: tuple[tuple[str, str, str, Any, dict[int, Any], Any, tuple[int, ...]], ...] = (
    ("POST", "", "Create a service (state draft; keys shown once)", ServiceCreate,
     {201: ServiceView}, (), ()),
    ("GET", "", "List services by id (filters: state, organization_fiscal_code; cursor"
     " paging)", None, {200: ServicePage}, ServiceListQuery, ()),
    ("GET", "/{id}", "Read a service: the working version and the published copy", None,
     _VIEW, (), ()),
    ("PATCH", "/{id}", "Edit a service: content edits make a draft version (the published"
     " copy stays live); operational settings apply at once", ServicePatch, _VIEW, (), (409,)),
    ("DELETE", "/{id}", "Delete a service", None, _VIEW, (), (409,)),
    ("PUT", "/{id}/review", "Submit for review (422 when the card is incomplete)", None, _VIEW,
     (), (409, 422)),
    ("POST", "/{id}/approve", "Approve: the version becomes the published copy", None, _VIEW,
     (), (409, 422)),
    ("POST", "/{id}/abort", "Withdraw from review", None, _VIEW, (), (409,)),
    ("POST", "/{id}/reject", "Reject, with a reason", RejectBody, _VIEW, (), (409,)),
    ("POST", "/{id}/release", "Publish the approved copy", None, _VIEW, (), (409,)),
    ("DELETE", "/{id}/release", "Unpublish", None, _VIEW, (), (409,)),
    ("POST", "/{id}/keys", "Regenerate the primary key", None, _VIEW, (), (409,)),
    ("POST", "/{id}/keys/primary", "Regenerate the primary key", None, _VIEW, (), (409,)),
    ("POST", "/{id}/keys/secondary", "Regenerate the secondary key", None, _VIEW, (), (409,)),
)  # fmt: skip
# (method, suffix, operation id, summary, request, responses, query, errors) of IO's CMS.
_CMS: tuple[tuple[str, str, str, str, Any, dict[int, Any], Any, tuple[int, ...]], ...] = (
    ("POST", "", "cmsCreateService", "Create a service of the key's body (its keys shown"
     " once)", CmsServicePayload, {201: CmsServiceLifecycle}, (), ()),
    ("GET", "", "cmsGetServices", "The key's body's services, by offset pages", None,
     {200: CmsServicePagination}, CmsPageQuery, ()),
    ("GET", "/{id}", "cmsGetService", "Read a service", None, {200: CmsServiceLifecycle}, (),
     ()),
    ("PUT", "/{id}", "cmsUpdateService", "Replace a service's content (a draft version)",
     CmsServicePayload, {200: CmsServiceLifecycle}, (), (409,)),
    ("DELETE", "/{id}", "cmsDeleteService", "Delete a service", None, {204: None}, (), (409,)),
    ("PUT", "/{id}/logo", "cmsUpdateServiceLogo", "Upload the service's logo (PNG, base64)",
     Logo, {204: None}, (), (409,)),
    ("GET", "/{id}/history", "cmsGetServiceHistory", "The service's history, with who did"
     " what", None, {200: CmsServiceHistory}, CmsHistoryQuery, ()),
    ("GET", "/{id}/keys", "cmsGetServiceKeys", "Refused (403): keys are stored hashed and"
     " shown once, when made", None, {200: CmsSubscriptionKeys}, (), (403,)),
    ("PUT", "/{id}/keys/{keyType}", "cmsRegenerateServiceKey", "Regenerate one key (shown"
     " once; the other is \"\")", None, {200: CmsSubscriptionKeys}, (), (409,)),
    ("PUT", "/{id}/review", "cmsReviewService", "Submit for review (422 when the card is"
     " incomplete)", CmsReviewRequest, {204: None}, (), (409, 422)),
    ("POST", "/{id}/release", "cmsReleaseService", "Publish the approved version", None,
     {204: None}, (), (409,)),
    ("GET", "/{id}/release", "cmsGetPublishedService", "The published copy", None,
     {200: CmsServicePublication}, (), ()),
    ("DELETE", "/{id}/release", "cmsUnpublishService", "Unpublish", None, {204: None}, (),
     (409,)),
)  # fmt: skip
_PLATFORM: tuple[tuple[str, str, str, Any, dict[int, Any], tuple[int, ...]], ...] = (
    ("POST", "/organizations", "Register a public body", OrganizationBody,
     {201: OrganizationView}, (409,)),
    ("GET", "/organizations", "Every body, with its manage keys (never the keys themselves)",
     None, {200: OrganizationList}, ()),
    ("POST", "/organizations/{organization_fiscal_code}/manage-keys", "Issue a manage key"
     " (shown once; at most two live per body)", None, {201: IssuedKeyView}, (409,)),
    ("DELETE", "/organizations/{organization_fiscal_code}/manage-keys/{id}", "Revoke a"
     " manage key, at once", None, {200: ManageKeyView}, ()),
)  # fmt: skip
_PROFILE = ("PUT", "/profiles/{fiscal_code}", "Create or replace a profile")


def _declare_legacy() -> None:
    cms_paths = {(m, s) for m, s, *_ in _CMS}
    for method, suffix, summary, request, responses, query, errors in _LEGACY:
        common = {"tag": "back-office", "security": "admin", "request": request}
        common |= {"responses": responses, "query": query, "errors": errors}
        openapi.declare(method, f"{ADMIN_BASE}/services{suffix}", summary, **common)
        if (method, suffix) not in cms_paths:
            successor = f"Deprecated: use {method} {ADMIN_BASE}/services{suffix}. {summary}"
            openapi.declare(
                method, f"{OLD_BASE}/services{suffix}", successor, deprecated=True, **common
            )


def _declare_cms() -> None:
    legacy = {(m, s) for m, s, *_ in _LEGACY}
    for method, suffix, op_id, summary, request, responses, query, errors in _CMS:
        if (method, suffix) in legacy:
            summary += (
                f". With the admin token instead: section 6's operation, deprecated (use"
                f" {method} {ADMIN_BASE}/services{suffix})"
            )
        openapi.declare(
            method,
            f"{OLD_BASE}/services{suffix}",
            summary,
            tag="manage",
            security="manage",
            request=request,
            responses=responses,
            query=query,
            errors=errors,
            operation_id=op_id,
        )
    openapi.declare(
        "GET",
        f"{OLD_BASE}/services/topics",
        "The service topics (any service key, manage key or the admin token)",
        tag="manage",
        security="sender",
        responses={200: CmsServiceTopicList},
        operation_id="getServiceTopics",
    )


def _declare_platform() -> None:
    for method, path, summary, request, responses, errors in _PLATFORM:
        openapi.declare(
            method,
            ADMIN_BASE + path,
            summary,
            tag="back-office",
            security="admin",
            request=request,
            responses=responses,
            errors=errors,
        )
    openapi.declare(
        "GET",
        f"{ADMIN_BASE}/services/{{id}}/history",
        "A service's history, oldest first (IO's CmsServiceHistory)",
        tag="back-office",
        security="admin",
        responses={200: CmsServiceHistory},
        query=CmsHistoryQuery,
    )
    method, path, summary = _PROFILE
    profile: dict[str, Any] = {"tag": "back-office", "security": "admin", "request": ProfileBody}
    profile["responses"] = {200: ProfileView, 201: ProfileView}
    openapi.declare(method, ADMIN_BASE + path, summary, **profile)
    old = f"Deprecated: use {method} {ADMIN_BASE}{path}. {summary}"
    openapi.declare(method, OLD_BASE + path, old, deprecated=True, **profile)
    sessions = "/profiles/{fiscal_code}/sessions"
    openapi.declare(
        "POST",
        OLD_BASE + sessions,
        f"Deprecated: use POST {ADMIN_BASE}{sessions}. Issue a citizen session token",
        tag="citizen",
        security="admin",
        responses={201: SessionView},
        deprecated=True,
    )


_declare_legacy()
_declare_cms()
_declare_platform()
