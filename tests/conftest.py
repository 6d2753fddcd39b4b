"""Shared fixtures: one embedded PostgreSQL and one embedded broker per test session.

Tests isolate themselves: every test gets its own topic prefix (fresh topics, fresh
consumer offsets) and starts from empty tables.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp.test_utils import TestClient, TestServer

from worker import logs
from worker.bootstrap import Runtime, open_runtime
from worker.embedded import embedded_stack
from worker.ingress.app import create_app
from worker.lifecycle import prepare
from worker.settings import Settings, load_settings

T = TypeVar("T")
ADMIN_TOKEN = "test-admin-token"
_prefixes = itertools.count()

logs.configure("warning", "console")


def _dump_tasks(signum: int, frame: object) -> None:
    """`kill -USR1 <pytest pid>`: every asyncio task's stack, written to
    `<tmp>/postino-tasks-<pid>.txt`, to see what a stalled test waits for (py-spy
    shows only the loop's own frames; pytest captures stderr)."""
    loop = asyncio._get_running_loop()
    path = Path(tempfile.gettempdir()) / f"postino-tasks-{os.getpid()}.txt"
    with path.open("a") as out:
        if loop is None:
            print("no running event loop", file=out)
            return
        for task in asyncio.all_tasks(loop):
            print(f"--- {task.get_name()}: {task.get_coro()!r}", file=out)
            task.print_stack(limit=12, file=out)


signal.signal(signal.SIGUSR1, _dump_tasks)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(database url, bootstrap) of the session's embedded PostgreSQL and broker."""
    with embedded_stack(tmp_path_factory.mktemp("stack")) as endpoints:
        yield endpoints


@pytest.fixture(scope="session")
async def migrated(stack: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    url, bootstrap = stack
    base = load_settings(
        {
            "POSTINO_DATABASE_URL": url,
            "POSTINO_KAFKA_BOOTSTRAP": bootstrap,
            "POSTINO_KAFKA_ASSIGNMENT": "direct",
            "POSTINO_KAFKA_PARTITIONS": "2",
            "POSTINO_KAFKA_FETCH_MAX_WAIT_MS": "10",
            "POSTINO_ADMIN_TOKEN": ADMIN_TOKEN,
            "POSTINO_ID_SECRET": "test-id-secret",
            "POSTINO_SERVICE_REFRESH_SECONDS": "0.2",
            "POSTINO_DATA_DIR": str(tmp_path_factory.mktemp("data")),
            "POSTINO_CALLBACK_ALLOW_LOOPBACK": "true",
        }
    )
    await prepare(base)
    return base


_TABLES = (
    "services, profiles, service_preferences, messages, notifications, payments, reminders,"
    " citizen_sessions, service_usage, callback_deliveries, service_publications,"
    " upstream_admissions, console_flow, delivery_attempts"
)


@pytest.fixture
async def settings(migrated: Settings) -> Settings:
    """Per-test settings: a fresh topic prefix with its topics created, empty tables."""
    prefix = f"t{next(_prefixes)}."
    settings = replace(migrated, kafka=replace(migrated.kafka, topic_prefix=prefix))
    await prepare(settings)
    return settings


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    async with open_runtime(settings) as rt:
        await rt.pool.execute(f"TRUNCATE {_TABLES}")
        yield rt


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[TestClient[Any, Any]]:
    """HTTP client of a real ingress app (real broker, real database)."""
    async with TestClient(TestServer(create_app(runtime))) as http:
        yield http


async def eventually(
    probe: Callable[[], Awaitable[T]], check: Callable[[T], bool], timeout: float = 10.0
) -> T:
    """Poll `probe` until `check` holds or the deadline passes (no blind sleeps)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await probe()
        if check(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {value!r}")
        await asyncio.sleep(0.02)


def data_dir(settings: Settings) -> Path:
    return Path(settings.data_dir)
