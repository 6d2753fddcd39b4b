"""PostgreSQL side of the service logos (validated PNGs, `worker.services.logos`)."""

from __future__ import annotations

from datetime import datetime

from worker.adapters.postgres import Pool, repository
from worker.services.logos import Png

_PUT = """
INSERT INTO service_logos (service_id, png, sha256, updated_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (service_id) DO UPDATE
SET png = EXCLUDED.png, sha256 = EXCLUDED.sha256, updated_at = EXCLUDED.updated_at
"""


@repository
class PostgresLogos:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def put(self, service_id: str, png: Png, at: datetime) -> None:
        await self._pool.execute(_PUT, service_id, png.data, png.sha256, at)

    async def get(self, service_id: str) -> bytes | None:
        data = await self._pool.fetchval(
            "SELECT png FROM service_logos WHERE service_id = $1", service_id
        )
        return None if data is None else bytes(data)
