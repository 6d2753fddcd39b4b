"""One encoder and one typed decoder per topic value, built once and reused."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec

from schemas.events import NotificationRequest, PaymentEvent, StatusEvent
from schemas.messages import SubmittedMessage
from schemas.topics import Topic

T = TypeVar("T")

_encoder = msgspec.json.Encoder()


def encode(value: Any) -> bytes:
    return _encoder.encode(value)


class Codec(Generic[T]):
    """JSON codec of one topic value type; `DecodeError` names the failing field."""

    def __init__(self, value_type: Any) -> None:
        self.value_type = value_type
        self._decoder: msgspec.json.Decoder[T] = msgspec.json.Decoder(value_type)

    def decode(self, data: bytes | bytearray | memoryview) -> T:
        return self._decoder.decode(data)

    def encode(self, value: T) -> bytes:
        return _encoder.encode(value)


SUBMITTED: Codec[SubmittedMessage] = Codec(SubmittedMessage)
STATUS: Codec[StatusEvent] = Codec(StatusEvent)
NOTIFICATION: Codec[NotificationRequest] = Codec(NotificationRequest)
PAYMENT: Codec[PaymentEvent] = Codec(PaymentEvent)

#: The value type of each topic, for the JSON Schema and AsyncAPI export.
TOPIC_VALUE_TYPES: dict[Topic, Any] = {
    Topic.SUBMITTED: SubmittedMessage,
    Topic.STATUS: StatusEvent,
    Topic.NOTIFICATIONS: NotificationRequest,
    Topic.PAYMENTS: PaymentEvent,
}
