"""accept: a valid `NewMessage` from an authenticated service -> `messages.submitted`.

A message id is returned only after the broker acknowledged the record (acks=all),
so a 201 means the message is durable. Nothing is written to the database here.
"""

from __future__ import annotations

from datetime import UTC, datetime

from schemas import codecs
from schemas.enums import FeatureLevel
from schemas.messages import NewMessage, SubmittedMessage
from schemas.topics import Topic, Topics
from worker.core.records import OutRecord
from worker.ids import IdSigner
from worker.services.directory import Service
from worker.services.ports import INGRESS_ORIGIN, Publisher


def message_id(
    signer: IdSigner,
    service: Service,
    fiscal_code: str,
    idempotency_key: str | None,
    level: FeatureLevel = FeatureLevel.STANDARD,
) -> str:
    """The id of a new message; it is signed with its feature level (`worker.ids`)."""
    if idempotency_key:
        return signer.idempotent(service.id, fiscal_code, idempotency_key, level.value)
    return signer.new(service.id, fiscal_code, level=level.value)


async def publish_message(
    message: NewMessage,
    fiscal_code: str,
    service: Service,
    *,
    publisher: Publisher,
    signer: IdSigner,
    topics: Topics,
    idempotency_key: str | None = None,
    template: tuple[str, int] | None = None,
) -> str:
    """Publish the accepted message; its id once the broker acknowledged it.
    `template`: (id, version) of the template its text was written from."""
    new_id = message_id(signer, service, fiscal_code, idempotency_key, message.feature_level_type)
    record = SubmittedMessage(
        id=new_id,
        sender_service_id=service.id,
        fiscal_code=fiscal_code,
        created_at=datetime.now(UTC),
        time_to_live=message.time_to_live,
        feature_level_type=message.feature_level_type,
        content=message.content,
        template_id=template[0] if template else None,
        template_version=template[1] if template else None,
    )
    await publisher.publish(
        OutRecord(
            topics.name(Topic.SUBMITTED),
            codecs.SUBMITTED.encode(record),
            fiscal_code.encode(),
            (INGRESS_ORIGIN,),
        )
    )
    return new_id
