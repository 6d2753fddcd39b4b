"""The sender services as the ingress sees them: an in-memory copy refreshed often.

The submit path never queries the database: it looks the API key's hash up in this
copy. Every ingress process reloads the copy every `service_refresh_seconds`, so a
rotated or deleted key stops working everywhere within that time.

A service is what it serves: while published, the reviewed content (name,
organisation, card, entitlements) is its publication's copy of the last approved
version, not the working version under edit; operational settings (keys, limits,
CIDRs, callback, remote content) are always the current ones. Both keys, primary
and secondary, authenticate it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from schemas.patterns import SANDBOX_FISCAL_CODE


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
    secondary_key_hash: bytes | None = None
    eu_covid_cert: bool = False
    #: Bodies besides its own whose payment notices it may send (it collects for them).
    payee_fiscal_codes: tuple[str, ...] = ()
    remote_content_base_url: str | None = None
    #: Ids of the remote-content configurations of the service's body.
    remote_configurations: tuple[str, ...] = ()

    @property
    def can_send(self) -> bool:
        return self.state != "deleted"

    @property
    def key_hashes(self) -> tuple[bytes, ...]:
        if self.secondary_key_hash is None:
            return (self.api_key_hash,)
        return (self.api_key_hash, self.secondary_key_hash)

    def may_reach(self, fiscal_code: str) -> bool:
        """docs/integrators/sending.md: unpublished services reach only their authorized recipients.

        Publishing needs an approved version, and approval a complete card
        (docs/integrators/services.md), so an incomplete service never reaches anyone else."""
        if self.published and self.can_send:
            return True
        return fiscal_code == SANDBOX_FISCAL_CODE or fiscal_code in self.authorized_recipients


class ServiceDirectory:
    """Lookup by API key; replaced wholesale on every refresh (no partial states).

    A refresh that read the database before a local `put` must not undo it: each
    `put` is stamped with a generation, and `replace` keeps the entries put after the
    generation its caller read (`mark()`, taken before the query).
    """

    def __init__(self) -> None:
        self._by_hash: dict[bytes, Service] = {}
        self._by_id: dict[str, Service] = {}
        self._generation = 0
        self._recent: dict[str, tuple[int, Service]] = {}

    def mark(self) -> int:
        """The generation a refresh starts from; pass it back to `replace`."""
        return self._generation

    def replace(self, services: list[Service], since: int | None = None) -> None:
        by_id = {s.id: s for s in services}
        if since is not None:
            self._recent = {i: put for i, put in self._recent.items() if put[0] > since}
            by_id.update({i: service for i, (_, service) in self._recent.items()})
        else:
            self._recent = {}
        self._by_hash = {h: s for s in by_id.values() if s.can_send for h in s.key_hashes}
        self._by_id = by_id

    def put(self, service: Service) -> None:
        """Make one change visible at once on this process (the others follow on refresh)."""
        self._generation += 1
        self._recent[service.id] = (self._generation, service)
        by_hash = {h: s for h, s in self._by_hash.items() if s.id != service.id}
        if service.can_send:
            by_hash.update(dict.fromkeys(service.key_hashes, service))
        self._by_hash = by_hash
        self._by_id = {**self._by_id, service.id: service}

    def authenticate(self, api_key: str | None) -> Service | None:
        if not api_key:
            return None
        digest = hash_key(api_key)
        service = self._by_hash.get(digest)
        if service is None or not any(hmac.compare_digest(h, digest) for h in service.key_hashes):
            return None
        return service

    def by_id(self, service_id: str) -> Service | None:
        return self._by_id.get(service_id)

    def __len__(self) -> int:
        return len(self._by_id)
