"""Remote-content configurations as IO's resources: a body's named
configurations of how Postino calls its systems for remote content.

IO's shapes (`NewRCConfigurationPublic`, `RCConfigurationPublic`,
`RCConfigurationResponse`) are the structs below. A configuration belongs to a body
(an organisation fiscal code); a message of one of that body's services picks it
with `third_party_data.configuration_id`. Which environment serves a citizen:
the test environment when the citizen is one of its `test_users`, else the prod
environment; a configuration without the environment a citizen needs serves nothing
(`SenderFailed("not_configured")`). A message without `configuration_id` uses its
service's own `remote_content` (docs/integrators/remote-content.md), as before.

Lollipop settings are kept and shown as given; Postino does not sign calls with
Lollipop.
"""

from __future__ import annotations

from typing import Annotated, Protocol

import msgspec
from msgspec import Meta

from schemas.enums import HasPrecondition
from schemas.messages import FiscalCode
from worker.services.remote_content import RemoteConfig

NonEmpty = Annotated[str, Meta(min_length=1, max_length=2048)]
Name = Annotated[str, Meta(min_length=1, max_length=200)]


class AuthenticationConfig(msgspec.Struct, kw_only=True):
    """IO's `RCAuthenticationConfig`: the header Postino sends with its key."""

    header_key_name: Annotated[str, Meta(min_length=1, max_length=100)]
    key: NonEmpty
    type: Annotated[str, Meta(min_length=1, max_length=50)]


class ProdEnvironment(msgspec.Struct, kw_only=True):
    base_url: NonEmpty
    details_authentication: AuthenticationConfig


class TestEnvironment(ProdEnvironment, kw_only=True):
    test_users: Annotated[list[FiscalCode], Meta(max_length=1000)]


class NewRCConfiguration(msgspec.Struct, kw_only=True, omit_defaults=True):
    """IO's `NewRCConfigurationPublic` (the body of create and update)."""

    name: Name
    description: Annotated[str, Meta(min_length=1, max_length=2000)]
    has_precondition: HasPrecondition
    disable_lollipop_for: Annotated[list[FiscalCode], Meta(max_length=1000)]
    is_lollipop_enabled: bool
    test_environment: TestEnvironment | None = None
    prod_environment: ProdEnvironment | None = None

    def missing(self) -> str | None:
        """Why the configuration cannot serve anyone, or None."""
        if self.prod_environment is None and self.test_environment is None:
            return "prod_environment: required unless there is a test_environment"
        return None

    def base_urls(self) -> list[tuple[str, str]]:
        """(field, url) of each environment, for the SSRF check."""
        found = []
        if self.prod_environment is not None:
            found.append(("prod_environment.base_url", self.prod_environment.base_url))
        if self.test_environment is not None:
            found.append(("test_environment.base_url", self.test_environment.base_url))
        return found


class RCConfiguration(NewRCConfiguration, kw_only=True, omit_defaults=True):
    """IO's `RCConfigurationResponse`: `user_id` is the owning body's fiscal code."""

    configuration_id: str
    user_id: str


class RCConfigurationList(msgspec.Struct):
    """IO's `RCConfigurationListResponse`."""

    rc_config_list: list[RCConfiguration] = msgspec.field(name="rcConfigList")


class ConfigurationStore(Protocol):
    async def for_service(self, configuration_id: str, service_id: str) -> RCConfiguration | None:
        """The configuration when it belongs to the service's body, else None."""
        ...


def _remote(environment: ProdEnvironment) -> RemoteConfig:
    auth = environment.details_authentication
    return RemoteConfig(environment.base_url, auth.header_key_name, auth.key)


def environment_for(configuration: RCConfiguration, fiscal_code: str) -> RemoteConfig | None:
    """The environment that serves this citizen: test for its test users, else prod."""
    test = configuration.test_environment
    if test is not None and fiscal_code in test.test_users:
        return _remote(test)
    if configuration.prod_environment is not None:
        return _remote(configuration.prod_environment)
    return None
