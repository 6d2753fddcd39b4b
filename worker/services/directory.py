"""The sender services as the ingress sees them: an in-memory copy refreshed often.

The submit path never queries the database: it looks the API key's hash up in this
copy. Every ingress process reloads the copy every `service_refresh_seconds`, so a
rotated or deleted key stops working everywhere within that time.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

SANDBOX = "AAAAAA00A00A000A"


def hash_key(api_key: str) -> bytes:
    return hashlib.sha256(api_key.encode()).digest()


@dataclass(frozen=True, slots=True)
class Service:
    id: str
    name: str
    organization_name: str
    organization_fiscal_code: str
    state: str
    published: bool
    api_key_hash: bytes
    premium: bool = False
    payments: bool = False
    max_allowed_payment_amount: int = 1_000_000
    authorized_recipients: tuple[str, ...] = ()
    authorized_cidrs: tuple[str, ...] = ()
    require_secure_channels: bool = False
    callback_url: str | None = None
    rate_per_second: int | None = None
    daily_quota: int | None = None

    @property
    def can_send(self) -> bool:
        return self.state != "deleted"

    def may_reach(self, fiscal_code: str) -> bool:
        """IO-RULES 1.2.1: unpublished services reach only their authorized recipients."""
        if self.published and self.state == "approved":
            return True
        return fiscal_code == SANDBOX or fiscal_code in self.authorized_recipients


class ServiceDirectory:
    """Lookup by API key; replaced wholesale on every refresh (no partial states)."""

    def __init__(self) -> None:
        self._by_hash: dict[bytes, Service] = {}
        self._by_id: dict[str, Service] = {}

    def replace(self, services: list[Service]) -> None:
        self._by_hash = {s.api_key_hash: s for s in services if s.can_send}
        self._by_id = {s.id: s for s in services}

    def put(self, service: Service) -> None:
        """Make one change visible at once on this process (the others follow on refresh)."""
        by_hash = {h: s for h, s in self._by_hash.items() if s.id != service.id}
        if service.can_send:
            by_hash[service.api_key_hash] = service
        self._by_hash = by_hash
        self._by_id = {**self._by_id, service.id: service}

    def authenticate(self, api_key: str | None) -> Service | None:
        if not api_key:
            return None
        digest = hash_key(api_key)
        service = self._by_hash.get(digest)
        if service is None or not hmac.compare_digest(service.api_key_hash, digest):
            return None
        return service

    def by_id(self, service_id: str) -> Service | None:
        return self._by_id.get(service_id)

    def __len__(self) -> int:
        return len(self._by_id)
