"""PostgreSQL side of message templates: versions are only ever added (0075_templates.sql)."""

from __future__ import annotations

from typing import Any

import asyncpg

from worker.adapters.postgres import Pool, repository
from worker.services.templates import MAX_TEMPLATES_PER_SERVICE, Template

_COLUMNS = "id, version, service_id, name, subject, markdown, placeholders, created_at, seq"
# A new template, unless the service already holds the most it may (no row: refused).
_CREATE = f"""
INSERT INTO message_templates (id, version, service_id, name, subject, markdown,
                               placeholders, created_by)
SELECT $1, 1, $2, $3, $4, $5, $6, $7
WHERE (SELECT count(DISTINCT id) FROM message_templates WHERE service_id = $2) < $8
RETURNING {_COLUMNS}
"""
# The next version of a template of this service (no row: no such template). Two
# writers at once: one gets the unique violation, answered as a conflict.
_NEXT = f"""
INSERT INTO message_templates (id, version, service_id, name, subject, markdown,
                               placeholders, created_by)
SELECT $1, max(version) + 1, $2, $3, $4, $5, $6, $7
FROM message_templates WHERE id = $1 AND service_id = $2
HAVING count(*) > 0
RETURNING {_COLUMNS}
"""
_LATEST = f"""
SELECT DISTINCT ON (id) {_COLUMNS} FROM message_templates
WHERE service_id = $1 ORDER BY id, version DESC
"""
_VERSIONS = f"""
SELECT {_COLUMNS} FROM message_templates WHERE service_id = $1 AND id = $2 ORDER BY version
"""
# A `seq` is taken at insert and seen at commit: a version committed just after a
# higher one may appear late. So each refresh reads again the last `_OVERLAP` seqs
# (adding a version twice changes nothing).
_OVERLAP = 100
_SINCE = f"SELECT {_COLUMNS} FROM message_templates WHERE seq > $1 ORDER BY seq LIMIT $2"


class VersionConflict(Exception):
    """Another version of the template was written at the same moment: retry."""


def _template(row: Any) -> Template:
    values = dict(row)
    values["placeholders"] = tuple(values["placeholders"])
    return Template(**values)


@repository
class PostgresTemplates:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def create(
        self,
        template_id: str,
        service_id: str,
        text: tuple[str, str, str, tuple[str, ...]],
        by: str,
    ) -> Template | None:
        """Version 1 of a new template; None when the service holds the most it may."""
        name, subject, markdown, found = text
        row = await self._pool.fetchrow(
            _CREATE,
            template_id,
            service_id,
            name,
            subject,
            markdown,
            list(found),
            by,
            MAX_TEMPLATES_PER_SERVICE,
        )
        return None if row is None else _template(row)

    async def next_version(
        self,
        template_id: str,
        service_id: str,
        text: tuple[str, str, str, tuple[str, ...]],
        by: str,
    ) -> Template | None:
        """The next version; None when the service has no such template."""
        name, subject, markdown, found = text
        try:
            row = await self._pool.fetchrow(
                _NEXT, template_id, service_id, name, subject, markdown, list(found), by
            )
        except asyncpg.UniqueViolationError as exc:
            raise VersionConflict(template_id) from exc
        return None if row is None else _template(row)

    async def latest(self, service_id: str) -> list[Template]:
        """The latest version of each of the service's templates, by id."""
        return [_template(r) for r in await self._pool.fetch(_LATEST, service_id)]

    async def versions(self, service_id: str, template_id: str) -> list[Template]:
        """Every version of one template, oldest first ([]: no such template)."""
        rows = await self._pool.fetch(_VERSIONS, service_id, template_id)
        return [_template(r) for r in rows]

    async def since(self, seq: int, limit: int = 10_000) -> list[Template]:
        """Versions written after `seq` (the ingress cache's refresh), in `seq` order,
        with an overlap (see `_OVERLAP`)."""
        rows = await self._pool.fetch(_SINCE, max(0, seq - _OVERLAP), limit)
        return [_template(r) for r in rows]
