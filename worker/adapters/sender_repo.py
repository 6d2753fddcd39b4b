"""PostgreSQL side of what a sending service reads back: the status of its message."""

from __future__ import annotations

from typing import Any

from worker.adapters.postgres import Pool, repository
from worker.services.read_status import READ_FACTS_SQL

_MESSAGE = f"""
SELECT m.id, m.fiscal_code, m.sender_service_id, m.created_at, m.time_to_live,
       m.feature_level_type, m.content, m.status, m.rejection_reason, m.paid_at,
       {READ_FACTS_SQL},
       (SELECT jsonb_object_agg(n.channel, n.status) FROM notifications n
         WHERE n.message_id = m.id AND n.kind = 'MESSAGE') AS notification
FROM messages m WHERE m.id = $1
"""


@repository
class PostgresSenderMessages:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def status_row(self, message_id: str) -> dict[str, Any] | None:
        """The message with the facts of its read status and its channels' statuses."""
        row = await self._pool.fetchrow(_MESSAGE, message_id)
        return None if row is None else dict(row)
