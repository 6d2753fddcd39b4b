"""Shared fixtures: one embedded PostgreSQL and one embedded broker per test session.

The broker is `POSTINO_TEST_BROKER`: `kafka` (Apache Kafka; the session fails if it
cannot start), `tansu` (the embedded Tansu, in memory), or `auto` (default: Kafka when
this machine has Java 17, else Tansu, and the report header says why).

Tests isolate themselves: every test gets its own topic prefix (fresh topics, fresh
consumer offsets, deleted after the test) and starts from empty tables.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import itertools
import os
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO, TypeVar

import pytest
import structlog
from aiohttp.test_utils import TestClient, TestServer

from devkit.brokers import Choice, Services, choose, embedded_services
from devkit.kafka_dist import kafka_version
from worker import logs
from worker.adapters.kafka import admin_client
from worker.adapters.kafka_topics import load_inventory, sync_topics
from worker.bootstrap import Runtime, open_runtime
from worker.ingress.app import create_app
from worker.lifecycle import prepare
from worker.settings import Settings, load_settings

T = TypeVar("T")
ADMIN_TOKEN = "test-admin-token"
_prefixes = itertools.count()


def _never_cached(**settings: Any) -> None:
    """structlog's `configure`, with no logger ever cached on first use in the tests: a
    cached logger keeps the processors of the configuration it first met, so after a
    test that reconfigures (the fuzz tests go quiet, the CLI tests run `main`), loggers
    used meanwhile escape `structlog.testing.capture_logs`, depending on the order the
    tests ran in."""
    _configure(**{**settings, "cache_logger_on_first_use": False})


_configure = structlog.configure
structlog.configure = _never_cached


logs.configure("warning", "console")


def _awaiting(awaitable: object) -> Iterator[str]:
    """`file:line function` of each coroutine down the chain `awaitable` is awaiting."""
    while awaitable is not None:
        frame = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "gi_frame", None)
        if frame is not None:
            yield f"  {frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}"
        awaitable = getattr(awaitable, "cr_await", None) or getattr(awaitable, "gi_yieldfrom", None)


def _write_tasks(out: TextIO) -> None:
    """Every asyncio task of the running loop, with what it awaits, outermost first."""
    loop = asyncio._get_running_loop()
    if loop is None:
        print("no running event loop", file=out)
        return
    for task in asyncio.all_tasks(loop):
        print(f"--- {task.get_name()}", file=out)
        for line in _awaiting(task.get_coro()):
            print(line, file=out)


def _dump_tasks(signum: int, frame: object) -> None:
    """`kill -USR1 <pytest pid>`: every asyncio task's stack, written to
    `<tmp>/postino-tasks-<pid>.txt`, to see what a stalled test waits for (py-spy
    shows only the loop's own frames; pytest captures stderr)."""
    path = Path(tempfile.gettempdir()) / f"postino-tasks-{os.getpid()}.txt"
    with path.open("a") as out:
        _write_tasks(out)


signal.signal(signal.SIGUSR1, _dump_tasks)

#: A test's own deadline, this much before pytest-timeout's.
_DEADLINE_MARGIN = 10.0


def _timeout(item: pytest.Item) -> float:
    """pytest-timeout's limit for `item`: its marker, else --timeout, else the ini."""
    marker = item.get_closest_marker("timeout")
    if marker is not None and marker.args:
        return float(marker.args[0])
    option = item.config.getoption("timeout", None)
    return float(option if option is not None else item.config.getini("timeout") or 0)


def _with_deadline(test: Callable[..., Awaitable[Any]], seconds: float) -> Callable[..., Any]:
    """`test` cancelled after `seconds`, every task's stack printed first.

    pytest-timeout's SIGALRM raises in whatever Python code runs when it fires; in an
    event loop that is often a callback or another task, whose exception the loop only
    logs, so a stalled async test would wait on. A deadline inside the loop fails the
    test itself, and the stacks (in the report's captured stderr) show what it awaited.
    """

    @functools.wraps(test)
    async def bounded(*args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        dump = loop.call_later(seconds - 0.5, _write_tasks, sys.stderr)
        try:
            async with asyncio.timeout(seconds):
                return await test(*args, **kwargs)
        except TimeoutError:
            pytest.fail(f"still waiting after {seconds:.0f} s (task stacks in stderr)")
        finally:
            dump.cancel()

    return bounded


def _worker_group(item: pytest.Item) -> str | None:
    """The pytest-xdist group (`make test` runs `--dist loadgroup`) of `item`: the soak
    and chaos short runs share one worker, one after the other (each starts its own
    brokers and role processes, and mostly waits on its fixed rate); the tests of a
    module sharing a module-scoped fixture (a broker, a browser) stay on one worker,
    which sets it up once."""
    if item.get_closest_marker("chaos_short") is not None:
        return "long"
    info = getattr(item, "_fixtureinfo", None)
    for definitions in getattr(info, "name2fixturedefs", {}).values():
        if definitions and definitions[-1].scope == "module":
            return item.nodeid.split("::")[0]
    return None


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        test = getattr(item, "obj", None)
        seconds = _timeout(item) - _DEADLINE_MARGIN
        if inspect.iscoroutinefunction(test) and seconds > 0:
            item.obj = _with_deadline(test, seconds)  # type: ignore[attr-defined]
        group = _worker_group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


_used_fixtures: set[str] = set()
#: POSTINO_TEST_BROKER -> broker kind (`devkit.brokers`).
TEST_BROKERS = {"auto": "auto", "kafka": "kafka", "tansu": "memory"}


def _broker_name() -> str:
    return os.environ.get("POSTINO_TEST_BROKER", "auto")


@functools.cache
def session_broker() -> Choice:
    """The session's broker, from POSTINO_TEST_BROKER (read once)."""
    name = _broker_name()
    if name not in TEST_BROKERS:
        raise pytest.UsageError(f"POSTINO_TEST_BROKER must be one of {sorted(TEST_BROKERS)}")
    return choose(TEST_BROKERS[name])


def _broker_lines() -> list[str]:
    choice = session_broker()
    label = choice.label + (f" {kafka_version()}" if choice.kind == "kafka" else "")
    lines = [f"broker: {label} (POSTINO_TEST_BROKER={_broker_name()})"]
    if choice.kafka_skipped is not None:
        lines.append(f"Apache Kafka run SKIPPED: {choice.kafka_skipped}")
    return lines


def pytest_report_header() -> list[str]:
    return _broker_lines()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The broker again at the end (`-q` hides the header; with pytest-xdist the
    workers, not this process, start the brokers)."""
    if "services" in _used_fixtures or terminalreporter.config.getoption("numprocesses", None):
        for line in _broker_lines():
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """The session's embedded PostgreSQL and broker (`session_broker()`)."""
    _used_fixtures.add("services")
    with embedded_services(tmp_path_factory.mktemp("stack"), session_broker().kind) as started:
        yield started
        # Its files are the session's to throw away: no controlled shutdown to wait for
        # (Apache Kafka takes 8-16 s over one).
        started.broker.kill()


@pytest.fixture(scope="session")
def stack(services: Services) -> tuple[str, str]:
    """(database url, bootstrap) of the session's embedded PostgreSQL and broker."""
    return services.url, services.broker.bootstrap


@pytest.fixture(scope="session")
async def migrated(services: Services, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    url, bootstrap = services.url, services.broker.bootstrap
    # Tansu in memory does not wake a waiting fetch: poll it often. Kafka does.
    fetch_wait = services.broker.fetch_max_wait_ms
    base = load_settings(
        {
            "POSTINO_DATABASE_URL": url,
            "POSTINO_KAFKA_BOOTSTRAP": bootstrap,
            "POSTINO_KAFKA_ASSIGNMENT": "direct",
            "POSTINO_KAFKA_PARTITIONS": "2",
            **({} if fetch_wait is None else {"POSTINO_KAFKA_FETCH_MAX_WAIT_MS": "10"}),
            "POSTINO_ADMIN_TOKEN": ADMIN_TOKEN,
            "POSTINO_ID_SECRET": "test-id-secret",
            "POSTINO_SERVICE_REFRESH_SECONDS": "0.2",
            "POSTINO_DATA_DIR": str(tmp_path_factory.mktemp("data")),
            "POSTINO_CALLBACK_ALLOW_LOOPBACK": "true",
        }
    )
    await prepare(base)
    return base


#: Every table a test may write, children before the parents they reference.
_TABLES = (
    "services, profiles, service_preferences, messages, notifications, payments, reminders,"
    " citizen_sessions, service_usage, callback_deliveries, service_publications,"
    " upstream_admissions, console_flow, delivery_attempts, manage_keys, organizations,"
    " service_history, notice_gates, service_notices, callback_health,"
    " subscription_changes, logos, rc_configurations, message_templates, service_day_counts"
)
#: Emptying the tables row by row: a test leaves a few rows, and DELETE of a few rows
#: takes ~5 ms where TRUNCATE (new files for every table and index) takes 40-180 ms.
_EMPTY_TABLES = "; ".join(f"DELETE FROM {table.strip()}" for table in _TABLES.split(","))


async def create_topics(settings: Settings) -> None:
    """The inventory's topics under the settings' (fresh) prefix, as `postino topics`
    creates them, ready when it returns (the database was migrated once per session)."""
    await sync_topics(settings.kafka, settings.kafka.bootstrap or "", inventory=_inventory())


@functools.cache
def _inventory() -> dict[str, Any]:
    return load_inventory()


async def delete_topics(settings: Settings) -> None:
    """Every topic under the settings' prefix (those a test created itself too), deleted.

    A broker holding every test's topics slows each test's setup down: clients read the
    whole cluster's metadata, so by the end of the suite (some 20,000 topics) a fresh
    prefix took 3-5 s instead of 0.5 s, and the broker's shutdown 16 s."""
    prefix = settings.kafka.topic_prefix
    admin = admin_client(settings.kafka, settings.kafka.bootstrap or "", "tests")
    await admin.start()
    try:
        names = [name for name in await admin.list_topics() if name.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()


@pytest.fixture
async def settings(migrated: Settings) -> AsyncIterator[Settings]:
    """Per-test settings: a fresh topic prefix with its topics created (and deleted after
    the test), empty tables (the session migrated the database once)."""
    prefix = f"t{next(_prefixes)}."
    settings = replace(migrated, kafka=replace(migrated.kafka, topic_prefix=prefix))
    await create_topics(settings)
    yield settings
    await delete_topics(settings)


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    async with open_runtime(settings) as rt:
        await rt.pool.execute(_EMPTY_TABLES)
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
