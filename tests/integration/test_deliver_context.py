"""The deliver context comes in one statement: the same profiles, services (as the
directory serves them) and preferences as the citizen and directory repositories read."""

from __future__ import annotations

from tests.factories import create_profile, insert_row
from tests.integration.deliver_helpers import citizen, service_entry
from worker.adapters.citizen_repo import PostgresCitizens
from worker.adapters.inbox import PostgresInbox
from worker.bootstrap import Runtime
from worker.services.model import ServicePreference


async def test_one_load_reads_profiles_services_and_preferences(runtime: Runtime) -> None:
    first = await service_entry(runtime, authorized_recipients=[citizen(1)], rate_per_second=7)
    second = await service_entry(runtime, state="deleted")
    await create_profile(
        runtime,
        citizen(1),
        preferences_mode="LEGACY",
        blocked_channels={first.id: ["EMAIL"]},
        preferred_languages=["de_DE", "it_IT"],
        email="mario@example.com",
        email_validated=True,
    )
    await create_profile(runtime, citizen(2), inbox_enabled=False)
    await insert_row(
        runtime,
        "service_preferences",
        {"fiscal_code": citizen(2), "service_id": first.id, "is_push_enabled": False},
    )

    context = await PostgresInbox(runtime.pool).load_context(
        [citizen(1), citizen(2), citizen(3)], [first.id, second.id, "svc-unknown"]
    )

    citizens = PostgresCitizens(runtime.pool)
    assert context.profiles == {
        citizen(1): await citizens.profile(citizen(1)),
        citizen(2): await citizens.profile(citizen(2)),
    }
    assert context.profiles[citizen(1)].preferred_languages == ("de_DE", "it_IT")
    assert context.profiles[citizen(1)].blocked_channels == {first.id: ["EMAIL"]}
    assert context.services == {first.id: first, second.id: second}
    assert context.preferences == {
        (citizen(2), first.id): ServicePreference(is_push_enabled=False),
    }


async def test_a_load_without_any_known_service_still_reads_the_profiles(
    runtime: Runtime,
) -> None:
    await create_profile(runtime, citizen(4))
    inbox = PostgresInbox(runtime.pool)

    context = await inbox.load_context([citizen(4)], ["svc-unknown"])
    assert (list(context.profiles), context.services, context.preferences) == ([citizen(4)], {}, {})

    nothing = await inbox.load_context([citizen(5)], ["svc-unknown"])
    assert (nothing.profiles, nothing.services, nothing.preferences) == ({}, {}, {})
