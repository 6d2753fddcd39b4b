"""Ports: what the services need from the outside world, as Protocols."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from worker.adapters.kafka import OutRecord, Record
from worker.services.model import DeliveryContext, InboxRow, StoredMessage

__all__ = ["DeliverStore", "OutRecord", "Publisher", "Record"]


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
        """Insert (ON CONFLICT DO NOTHING) and return the stored state of every id."""
        ...
