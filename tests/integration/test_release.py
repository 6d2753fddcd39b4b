"""The roles leave the schema to the release job: a role whose image ships a migration
the database has not applied waits for it (not ready) instead of running on an older
schema; a database ahead of the image (a rollback) is fine."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from worker.adapters import postgres
from worker.bootstrap import Runtime
from worker.core.errors import RetryableError


async def test_a_role_waits_for_a_migration_its_image_ships_and_the_database_lacks(
    runtime: Runtime, tmp_path: Path
) -> None:
    await postgres.require_schema(runtime.pool)  # the test database is migrated
    shutil.copytree(postgres.migrations_dir(), tmp_path, dirs_exist_ok=True)
    (tmp_path / "9999_from_a_newer_image.sql").write_text("SELECT 1;")

    with pytest.raises(RetryableError, match=r"9999_from_a_newer_image.*release job"):
        await postgres.require_schema(runtime.pool, tmp_path)


async def test_a_database_ahead_of_the_image_is_fine(runtime: Runtime, tmp_path: Path) -> None:
    oldest = sorted(postgres.migrations_dir().glob("*.sql"))[0]
    shutil.copy(oldest, tmp_path)
    await postgres.require_schema(runtime.pool, tmp_path)
