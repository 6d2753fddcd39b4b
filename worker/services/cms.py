"""IO's CMS shapes over Postino's services: payload to columns, rows to IO's answers.

IO's lifecycle is Postino's (docs/integrators/services.md): `status.value` is the working version's
state, and IO's publication is Postino's published copy. `require_secure_channel`
(IO, singular) is Postino's `require_secure_channels`; the metadata are the card's
columns plus IO's others (`topic_id`, links, address, call to action).
"""

from __future__ import annotations

from typing import Any

import msgspec

from schemas.cms import (
    CmsHistoryActor,
    CmsOrganization,
    CmsServiceHistoryItem,
    CmsServiceHistoryItemStatus,
    CmsServiceLifecycle,
    CmsServiceLifecycleStatus,
    CmsServiceMetadata,
    CmsServicePayload,
    CmsServicePublication,
)
from schemas.enums import ServiceScope
from schemas.service_topics import topic
from worker.services.backoffice_model import (
    PublicationRecord,
    ServiceRecord,
    StoredHistoryEntry,
    missing_card_fields,
)

#: Postino's cap when a payload gives none (docs/integrators/sending.md).
DEFAULT_PAYMENT_CAP = 1_000_000
#: Metadata fields stored as columns of the same name.
METADATA = (
    "web_url",
    "app_ios",
    "app_android",
    "tos_url",
    "privacy_url",
    "address",
    "phone",
    "email",
    "pec",
    "cta",
    "support_url",
)


class UnknownTopic(ValueError):
    def __init__(self, topic_id: int) -> None:
        super().__init__(f"metadata.topic_id: {topic_id} is not a topic of getServiceTopics")


def payload_columns(payload: CmsServicePayload, organization_name: str) -> dict[str, Any]:
    """The service columns a payload sets (all of them: an update replaces the content).

    The organisation is the caller's: `organization.fiscal_code` is not read, and the
    name is the registered one; only `department_name` comes from the payload."""
    meta = payload.metadata
    if topic(meta.topic_id) is None:
        raise UnknownTopic(meta.topic_id)
    cap = payload.max_allowed_payment_amount
    return {
        "name": payload.name,
        "description": payload.description,
        "organization_name": organization_name,
        "department_name": payload.organization.department_name,
        "require_secure_channels": payload.require_secure_channel,
        "authorized_recipients": list(payload.authorized_recipients),
        "authorized_cidrs": list(payload.authorized_cidrs),
        "max_allowed_payment_amount": DEFAULT_PAYMENT_CAP if cap is None else cap,
        "scope": meta.scope.value,
        "topic_id": meta.topic_id,
        **{name: getattr(meta, name) for name in METADATA},
    }


def _metadata(row: ServiceRecord | PublicationRecord) -> CmsServiceMetadata:
    scope = ServiceScope(row.scope) if row.scope in ("NATIONAL", "LOCAL") else ServiceScope.LOCAL
    values = {name: getattr(row, name) for name in METADATA}
    return CmsServiceMetadata(scope=scope, topic=topic(row.topic_id), **values)


def _data(row: ServiceRecord | PublicationRecord, service_id: str) -> dict[str, Any]:
    organization = CmsOrganization(
        name=row.organization_name,
        fiscal_code=row.organization_fiscal_code,
        department_name=row.department_name,
    )
    return {
        "id": service_id,
        "metadata": _metadata(row),
        "name": row.name,
        "description": row.description or "",
        "organization": organization,
        "require_secure_channel": row.require_secure_channels,
        "authorized_recipients": list(row.authorized_recipients or ()),
        "max_allowed_payment_amount": row.max_allowed_payment_amount,
        "version": row.version,
    }


def lifecycle_view(row: ServiceRecord, **keys: str) -> CmsServiceLifecycle:
    """IO's `CmsServiceLifecycle` of the working version; `keys` (primary_key,
    secondary_key) only in the answer that made them."""
    status = CmsServiceLifecycleStatus(
        value=row.state,  # type: ignore[arg-type]  # a CHECK keeps it IO's
        reason=row.reject_reason if row.state == "rejected" else None,
    )
    view = CmsServiceLifecycle(
        **_data(row, row.id),
        last_update=row.updated_at,
        authorized_cidrs=list(row.authorized_cidrs or ()),
        status=status,
        card_missing=missing_card_fields(row),
    )
    for name, value in keys.items():
        setattr(view, name, value)
    return view


def publication_view(row: ServiceRecord) -> CmsServicePublication | None:
    """IO's `CmsServicePublication`: the published copy, or None if never approved."""
    copy = row.publication
    if copy is None:
        return None
    return CmsServicePublication(
        **_data(copy, row.id),
        last_update=copy.approved_at,
        authorized_cidrs=list(row.authorized_cidrs or ()),
        status="published" if row.published else "unpublished",
    )


def service_snapshot(row: ServiceRecord) -> dict[str, Any]:
    """The service's data as a history entry keeps it (JSON-ready)."""
    data = _data(row, row.id) | {"authorized_cidrs": list(row.authorized_cidrs or ())}
    snapshot: dict[str, Any] = msgspec.to_builtins(data)
    return snapshot


def history_item(stored: StoredHistoryEntry) -> CmsServiceHistoryItem:
    """IO's `CmsServiceHistoryItem` of a stored entry, with Postino's `action` and `actor`."""
    status = CmsServiceHistoryItemStatus(
        kind=stored.kind,  # type: ignore[arg-type]  # a CHECK keeps it IO's
        value=stored.status,  # type: ignore[arg-type]
        reason=stored.reason,
    )
    actor = CmsHistoryActor(kind=stored.actor_kind, id=stored.actor_id)  # type: ignore[arg-type]
    values = stored.service | {"last_update": stored.at.isoformat(), "action": stored.action}
    extra = msgspec.to_builtins({"status": status, "actor": actor})
    return msgspec.convert(values | extra, CmsServiceHistoryItem)
