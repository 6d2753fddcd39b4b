"""PostgreSQL side of the remote-content configurations: one row each, owned by a
body; every read is scoped by the owner (another body's configuration is not found)."""

from __future__ import annotations

from typing import Any

import msgspec

from worker.adapters.postgres import Pool, repository
from worker.services.rc_configurations import NewRCConfiguration, RCConfiguration

_COLUMNS = (
    "name, description, has_precondition, disable_lollipop_for, is_lollipop_enabled,"
    " prod_environment, test_environment"
)
_SELECT = f"SELECT id, organization_fiscal_code, {_COLUMNS} FROM rc_configurations"
_CREATE = f"""
INSERT INTO rc_configurations (id, organization_fiscal_code, {_COLUMNS})
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
"""
_UPDATE = """
UPDATE rc_configurations SET name = $3, description = $4, has_precondition = $5,
    disable_lollipop_for = $6, is_lollipop_enabled = $7, prod_environment = $8,
    test_environment = $9, updated_at = now()
WHERE id = $1 AND organization_fiscal_code = $2
"""
_ONE = f"{_SELECT} WHERE id = $1 AND organization_fiscal_code = $2"
_ALL = f"{_SELECT} WHERE organization_fiscal_code = $1 ORDER BY id"
# The body of a service as it was working: the owner of its configurations.
_FOR_SERVICE = f"""
{_SELECT} c WHERE c.id = $1 AND c.organization_fiscal_code =
    (SELECT organization_fiscal_code FROM services WHERE id = $2 AND state <> 'deleted')
"""


def _values(configuration: NewRCConfiguration) -> list[Any]:
    builtins = msgspec.to_builtins(configuration)
    return [
        configuration.name,
        configuration.description,
        configuration.has_precondition.value,
        list(configuration.disable_lollipop_for),
        configuration.is_lollipop_enabled,
        builtins.get("prod_environment"),
        builtins.get("test_environment"),
    ]


def _configuration(row: Any) -> RCConfiguration | None:
    if row is None:
        return None
    values = dict(row)
    values["configuration_id"] = values.pop("id")
    values["user_id"] = values.pop("organization_fiscal_code")
    values = {k: v for k, v in values.items() if v is not None}
    return msgspec.convert(values, RCConfiguration)


@repository
class PostgresRCConfigurations:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def create(self, owner: str, new_id: str, configuration: NewRCConfiguration) -> None:
        await self._pool.execute(_CREATE, new_id, owner, *_values(configuration))

    async def update(self, owner: str, config_id: str, configuration: NewRCConfiguration) -> bool:
        """Replace it; False when the owner has no such configuration."""
        status: str = await self._pool.execute(_UPDATE, config_id, owner, *_values(configuration))
        return status.endswith(" 1")

    async def get(self, owner: str, config_id: str) -> RCConfiguration | None:
        return _configuration(await self._pool.fetchrow(_ONE, config_id, owner))

    async def list(self, owner: str) -> list[RCConfiguration]:
        rows = await self._pool.fetch(_ALL, owner)
        return [c for c in (_configuration(r) for r in rows) if c is not None]

    async def for_service(self, configuration_id: str, service_id: str) -> RCConfiguration | None:
        return _configuration(await self._pool.fetchrow(_FOR_SERVICE, configuration_id, service_id))
