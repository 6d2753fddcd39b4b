"""Helpers of the deliver tests: citizens, directory entries, records as the ingress
publishes them, and the stored message rows."""

from __future__ import annotations

from typing import Any

from schemas.enums import FeatureLevel
from schemas.messages import MessageContent, NewMessage
from tests.factories import MARKDOWN, create_service
from worker.adapters.services_repo import ServicesRepo
from worker.bootstrap import Runtime
from worker.services import accept
from worker.services.directory import Service


def citizen(n: int) -> str:
    return f"BNCMRA{n:02d}A01H501U"


async def accepted(
    runtime: Runtime,
    service: Service,
    fiscal_code: str,
    feature_level_type: FeatureLevel = FeatureLevel.STANDARD,
    **content: Any,
) -> str:
    """Publish a message exactly as the ingress does after its checks (201 given)."""
    message = NewMessage(
        content=MessageContent(subject="Avviso di pagamento TARI", markdown=MARKDOWN, **content),
        feature_level_type=feature_level_type,
    )
    return await accept.publish_message(
        message,
        fiscal_code,
        service,
        publisher=runtime.publisher,
        signer=runtime.signer,
        topics=runtime.settings.kafka.topics,
    )


async def service_entry(runtime: Runtime, **fields: Any) -> Service:
    service_id, _ = await create_service(runtime, **fields)
    entry = await ServicesRepo(runtime.pool).directory_entry(service_id)
    assert entry is not None
    return entry


async def rows(runtime: Runtime) -> dict[str, dict[str, Any]]:
    found = await runtime.pool.fetch(
        "SELECT id, status, rejection_reason, failure_reason, status_seq FROM messages"
    )
    return {r["id"]: dict(r) for r in found}
