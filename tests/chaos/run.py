"""One chaos run: the stack up, messages offered at a fixed rate with client retries,
faults injected on a schedule, then the books checked message by message (`books`).

Each message carries a token (`chaos-<n>`) in its subject and text, and is sent with
`Idempotency-Key: <token>` until the ingress answers 201, retried on any failure
(connection refused, timeout, 5xx, 429). A message belongs to the fault whose window
(from its start to the next fault's) saw it first offered.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from devkit.brokers import Broker
from devkit.embedded import EmbeddedBroker
from devkit.kafka import KafkaBroker
from tests.chaos.books import Offer, Outcome, books
from tests.chaos.stack import Postgres, Sinks, Stack
from tests.conftest import session_broker
from tests.factories import create_profile, create_service
from tests.faultproxy import FaultProxy, free_port
from worker.bootstrap import open_runtime
from worker.lifecycle import prepare
from worker.settings import load_settings

API_KEY = "chaos-key"
CITIZENS = [f"CHSMRA{n:02d}A01H501U" for n in range(40)]
TEXT = (
    "Gentile cittadino, le ricordiamo che la rata in scadenza e' visibile nell'app IO."
    " Riferimento della prova di resistenza: {token}."
)


@dataclass
class Fault:
    name: str
    at: float  # seconds after the load starts
    inject: Callable[[Stack], Awaitable[None]]


@dataclass
class Plan:
    messages: int
    rate: float
    faults: Sequence[Fault]
    roles: Sequence[tuple[str, str]] = (
        ("ingress", "ingress"),
        ("deliver", "deliver"),
        ("notify", "notify"),
        ("callbacks", "callbacks"),
        ("payments", "payments"),
        ("reminders", "reminders"),
    )
    drain_seconds: float = 120.0
    fresh_seconds: float = 3.0
    lease_seconds: float = 15.0


def _env(
    folder: Path, url: str, bootstrap: str, sinks: Sinks, *, http_port: int, plan: Plan
) -> dict[str, str]:
    return {
        "POSTINO_PROFILE": "dev",
        "POSTINO_DATABASE_URL": url,
        "POSTINO_KAFKA_BOOTSTRAP": bootstrap,
        "POSTINO_KAFKA_ASSIGNMENT": "direct",
        "POSTINO_KAFKA_PARTITIONS": "4",
        "POSTINO_TOPIC_PREFIX": "chaos.",
        "POSTINO_ID_SECRET": "chaos-id-secret",
        "POSTINO_ADMIN_TOKEN": "chaos-admin",
        "POSTINO_DATA_DIR": str(folder / "data"),
        "POSTINO_LOG_LEVEL": "info",
        "POSTINO_HTTP_PORT": str(http_port),
        "POSTINO_PUSH_URL": f"http://127.0.0.1:{sinks.push_port}/push",
        "POSTINO_SMTP_URL": f"smtp://127.0.0.1:{sinks.smtp_port}",
        "POSTINO_CALLBACK_ALLOW_LOOPBACK": "true",
        "POSTINO_CALLBACK_TIMEOUT_SECONDS": "2",
        "POSTINO_NOTIFY_LEASE_SECONDS": str(plan.lease_seconds),
        "POSTINO_SWEEPER_INTERVAL_SECONDS": "1",
        "POSTINO_SERVICE_REFRESH_SECONDS": "1",
        "POSTINO_DEFAULT_RATE_PER_SECOND": "100000",
        "POSTINO_DEFAULT_DAILY_QUOTA": "100000000",
    }


async def seed(
    env: dict[str, str],
    sinks: Sinks,
    *,
    service_id: str = "chaos-service",
    api_key: str = API_KEY,
    citizens: Sequence[str] = CITIZENS,
    **service: Any,
) -> None:
    """Migrations, one sender service calling the sinks' receiver, and every test
    citizen with a validated e-mail address (the chaos runs, the cluster run, the soak)."""
    settings = load_settings(env)
    await prepare(settings)
    async with open_runtime(settings) as runtime:
        await create_service(
            runtime,
            id=service_id,
            api_key=api_key,
            callback_url=f"http://127.0.0.1:{sinks.callback_port}/hook",
            callback_secret=f"{service_id}-callback-secret",
            **service,
        )
        for citizen in citizens:
            await create_profile(
                runtime, citizen, email=f"{citizen.lower()}@example.org", email_validated=True
            )


def _durable_broker(folder: Path, port: int, advertised_port: int) -> Broker:
    """Apache Kafka when it is the session's broker (durable log dirs), else Tansu on a
    local S3 store; either killed with -9 and restarted on the same port and data."""
    if session_broker().kind == "kafka":
        return KafkaBroker(folder, port=port, advertised_port=advertised_port, heap_mb=384)
    return EmbeddedBroker(folder, port=port, advertised_port=advertised_port, storage="durable")


def broker_label() -> str:
    return "Apache Kafka" if session_broker().kind == "kafka" else "Tansu (durable, on S3)"


@contextlib.asynccontextmanager
async def chaos_stack(plan: Plan):  # type: ignore[no-untyped-def]
    folder = Path(tempfile.mkdtemp(prefix="postino-chaos-"))
    pg = Postgres(folder / "pg")
    url = await asyncio.to_thread(pg.start)
    broker_port = free_port()
    proxy = FaultProxy(("127.0.0.1", broker_port))
    await proxy.open()
    broker = _durable_broker(folder / "broker", broker_port, proxy.port)
    sinks = Sinks(folder / "arrivals.jsonl")
    http_port = free_port()
    env = _env(folder, url, proxy.address, sinks, http_port=http_port, plan=plan)
    stack = Stack(folder, pg, broker, proxy, sinks, env, http_port)
    try:
        await asyncio.to_thread(broker.start)
        await sinks.start()
        await seed(env, sinks)
        for name, role in plan.roles:
            stack.role(name, role)
        await stack.wait_ingress()
        yield stack
    finally:
        await asyncio.to_thread(stack.stop_all)
        await sinks.stop()
        await proxy.close()


async def _offer(
    session: aiohttp.ClientSession, stack: Stack, offer: Offer, give_up: float
) -> None:
    url = f"http://127.0.0.1:{stack.http_port}/api/v1/messages"
    await offer_until_accepted(session, [url], offer, 0, give_up)


async def offer_until_accepted(
    session: aiohttp.ClientSession, urls: list[str], offer: Offer, first: int, give_up: float
) -> None:
    """POST `offer` until a 201, as a sender should: the same Idempotency-Key every
    time, the next of `urls` on each try (a load balancer's choice), backing off to
    2 s; any other 4xx is a test failure; past `give_up` the offer stays unaccepted."""
    body = {
        "fiscal_code": offer.citizen,
        "content": {
            "subject": f"Avviso di prova {offer.token}",
            "markdown": TEXT.format(token=offer.token),
        },
    }
    headers = {"Ocp-Apim-Subscription-Key": API_KEY, "Idempotency-Key": offer.token}
    pause = 0.2
    for attempt in itertools.count(first):
        if time.time() >= give_up:
            return
        offer.attempts += 1
        try:
            async with session.post(urls[attempt % len(urls)], json=body, headers=headers) as r:
                if r.status == 201:
                    offer.message_id = (await r.json())["id"]
                    offer.accepted = time.time()
                    return
                if r.status < 500 and r.status not in (408, 429):
                    raise AssertionError(f"{offer.token}: {r.status} {await r.text()}")
        except (aiohttp.ClientError, TimeoutError):
            pass
        await asyncio.sleep(pause)
        pause = min(pause * 2, 2.0)


async def _warm_up(stack: Stack, timeout: float = 90.0) -> None:
    """One message end to end before the clock starts: every role is up and consuming."""
    offer = Offer("warm-up", CITIZENS[0], time.time())
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        await _offer(session, stack, offer, time.time() + timeout)
    deadline = time.time() + timeout
    while offer.message_id not in stack.sinks.pushes:
        stack.sinks.refresh()
        if time.time() > deadline:
            raise RuntimeError("the warm-up message was not pushed: see the role logs")
        await asyncio.sleep(0.2)


async def _load(stack: Stack, plan: Plan, start: float) -> list[Offer]:
    offers: list[Offer] = []
    tasks: list[asyncio.Task[None]] = []
    timeout = aiohttp.ClientTimeout(total=10)
    give_up = start + plan.messages / plan.rate + plan.drain_seconds
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for n in range(plan.messages):
            due = start + n / plan.rate
            if (wait := due - time.time()) > 0:
                await asyncio.sleep(wait)
            offer = Offer(f"chaos-{n:06d}", CITIZENS[n % len(CITIZENS)], time.time())
            offers.append(offer)
            tasks.append(asyncio.create_task(_offer(session, stack, offer, give_up)))
        await asyncio.gather(*tasks)
    return offers


async def _faults(stack: Stack, plan: Plan, start: float, marks: list[tuple[str, float]]) -> None:
    for fault in plan.faults:
        if (wait := start + fault.at - time.time()) > 0:
            await asyncio.sleep(wait)
        marks.append((fault.name, time.time()))
        await fault.inject(stack)


async def _settle(
    stack: Stack, offers: Sequence[Offer], deadline: float, stall_seconds: float = 60.0
) -> None:
    """Until every accepted message had its push and its e-mail: while the backlog
    shrinks (a slow machine drains slowly), up to `deadline`; what has not moved for
    `stall_seconds` is stuck, and the books will say so."""
    sinks = stack.sinks
    best, moved = len(offers) + 1, time.time()
    while time.time() < deadline and time.time() - moved < stall_seconds:
        sinks.refresh()
        pending = sum(
            1
            for o in offers
            if o.message_id is not None
            and (o.message_id not in sinks.pushes or o.token not in sinks.mails)
        )
        if not pending:
            return
        if pending < best:
            best, moved = pending, time.time()
        await asyncio.sleep(0.5)


async def run(plan: Plan) -> Outcome:
    """The whole run; the stack is gone when it returns."""
    began = time.time()
    async with chaos_stack(plan) as stack:
        await _warm_up(stack)
        start = time.time() + 1.0
        marks: list[tuple[str, float]] = [("no fault (baseline)", start)]
        faults = asyncio.create_task(_faults(stack, plan, start, marks))
        offers = await _load(stack, plan, start)
        await faults
        await _settle(stack, offers, time.time() + plan.drain_seconds)
        rows = await books(stack, offers, marks, plan.fresh_seconds)
    outcome = Outcome(
        rows=rows,
        seconds=time.time() - began,
        offers=len(offers),
        accepted=sum(1 for o in offers if o.message_id is not None),
        client_retries=sum(o.attempts - 1 for o in offers),
        broker=broker_label(),
    )
    if outcome.passed:  # a failed run keeps its logs and data for a look
        await asyncio.to_thread(shutil.rmtree, stack.folder, True)
    else:
        outcome.kept = stack.folder
    return outcome
