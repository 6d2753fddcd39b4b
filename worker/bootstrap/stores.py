"""The ingress's stores: every repository its handlers read and write, built once per
app from a `Runtime`."""

from __future__ import annotations

from dataclasses import dataclass

from worker.adapters.backoffice_repo import BackOfficeRepo
from worker.adapters.catalogue_repo import PostgresCatalogue
from worker.adapters.citizen_repo import PostgresCitizens
from worker.adapters.lifecycle_repo import PostgresLifecycle
from worker.adapters.logos_repo import PostgresLogos
from worker.adapters.notices_repo import PostgresNotices
from worker.adapters.organizations_repo import PostgresOrganizations
from worker.adapters.profiles_repo import PostgresProfiles
from worker.adapters.rc_configurations_repo import PostgresRCConfigurations
from worker.adapters.reports_repo import PostgresReports
from worker.adapters.sender_repo import PostgresSenderMessages
from worker.adapters.services_repo import ServicesRepo, UsageRepo
from worker.adapters.subscriptions_repo import PostgresSubscriptions
from worker.adapters.templates_repo import PostgresTemplates
from worker.bootstrap.runtime import Runtime


@dataclass(frozen=True, slots=True)
class IngressStores:
    """What the ingress handlers read and write, built once per app."""

    services: ServicesRepo
    usage: UsageRepo
    citizens: PostgresCitizens
    profiles: PostgresProfiles
    messages: PostgresSenderMessages
    backoffice: BackOfficeRepo
    organizations: PostgresOrganizations
    logos: PostgresLogos
    notices: PostgresNotices
    subscriptions: PostgresSubscriptions
    rc_configurations: PostgresRCConfigurations
    catalogue: PostgresCatalogue
    templates: PostgresTemplates
    reports: PostgresReports
    lifecycle: PostgresLifecycle


def ingress_stores(runtime: Runtime) -> IngressStores:
    pool = runtime.pool
    return IngressStores(
        ServicesRepo(pool),
        UsageRepo(pool),
        PostgresCitizens(pool),
        PostgresProfiles(pool),
        PostgresSenderMessages(pool),
        BackOfficeRepo(pool),
        PostgresOrganizations(pool),
        PostgresLogos(pool),
        PostgresNotices(pool),
        PostgresSubscriptions(pool),
        PostgresRCConfigurations(pool),
        PostgresCatalogue(pool),
        PostgresTemplates(pool),
        PostgresReports(pool),
        PostgresLifecycle(pool),
    )
