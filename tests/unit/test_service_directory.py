"""The ingress's copy of the services: local changes are never undone by a stale refresh."""

from __future__ import annotations

from dataclasses import replace

from worker.services.directory import Service, ServiceDirectory, hash_key

DRAFT = Service(
    id="S1",
    name="Tributi",
    organization_name="Comune di Prova",
    organization_fiscal_code="12345678901",
    state="draft",
    published=False,
    api_key_hash=hash_key("key-1"),
)


def test_a_refresh_read_before_a_local_change_keeps_the_change() -> None:
    directory = ServiceDirectory()
    directory.replace([DRAFT])
    since = directory.mark()  # the refresh starts reading the database here...
    directory.put(replace(DRAFT, state="approved", published=True))  # ...an admin publishes
    directory.replace([DRAFT], since)  # ...and the refresh lands with what it read

    service = directory.authenticate("key-1")
    assert service is not None and service.published


def test_a_refresh_read_after_a_local_change_is_authoritative() -> None:
    directory = ServiceDirectory()
    directory.put(replace(DRAFT, published=True))
    since = directory.mark()
    directory.replace([replace(DRAFT, state="deleted")], since)

    assert directory.authenticate("key-1") is None
    assert directory.by_id("S1") == replace(DRAFT, state="deleted")
