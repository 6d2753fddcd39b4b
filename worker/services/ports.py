"""Ports: what the services need from the outside world, as Protocols."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from worker.core.records import OutRecord
from worker.services.model import DeliveryContext, InboxRow, StoredMessage

#: Header the ingress puts on every `messages.submitted` record it accepted (see
#: `worker.services.delivery_rules`: upstream records lack it and get the full rules).
INGRESS_ORIGIN: tuple[str, bytes] = ("postino-origin", b"ingress")


class Publisher(Protocol):
    async def publish(self, record: OutRecord) -> tuple[int, int]: ...

    async def publish_many(self, records: Sequence[OutRecord]) -> None: ...


class DeliverStore(Protocol):
    async def load_context(
        self, fiscal_codes: Sequence[str], service_ids: Sequence[str]
    ) -> DeliveryContext:
        """Profiles, services and preferences of one batch, in one round trip each."""
        ...

    async def save_messages(self, rows: Sequence[InboxRow]) -> list[StoredMessage]:
        """Insert every row (ON CONFLICT DO NOTHING) in one statement, paying on
        arrival the rows whose `rpt_id` already has a kept payment (`paid_at`, and
        `status_seq` and `paid_seq` = 2), and return the stored state of every id."""
        ...
