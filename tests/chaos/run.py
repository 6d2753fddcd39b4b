"""One chaos run: the stack up, messages offered at a fixed rate with client retries,
faults injected on a schedule, then the books checked message by message.

Each message carries a token (`chaos-<n>`) in its subject and text, and is sent with
`Idempotency-Key: <token>` until the ingress answers 201, retried on any failure
(connection refused, timeout, 5xx, 429). A message belongs to the fault whose window
(from its start to the next fault's) saw it first offered.

Per fault the report counts:
- lost: accepted (201) but never in the inbox;
- stuck: in the inbox but not PROCESSED, or a channel not SENT, at the end;
- duplicate messages: more than one inbox row for one token;
- missing notifications: a push (per message) or e-mail (per token) that never came;
- sent again: a push, e-mail or callback that arrived more than once. Only a send in
  flight when its process was killed may come again (its outcome was in doubt: the
  provider had it, the database not yet); the push and the callback carry an
  `Idempotency-Key` for the receiver to drop it. So these are bounded, not zero: at
  most the sends in flight at once (`IN_DOUBT_BOUND`) per fault;
- recovery: from the fault's start until every message offered since then has had
  its push and a fresh one goes end to end within `fresh_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg

from devkit.brokers import Broker
from devkit.embedded import EmbeddedBroker
from devkit.kafka import KafkaBroker
from tests.chaos.stack import TOKEN, Postgres, Sinks, Stack
from tests.conftest import session_broker
from tests.factories import create_profile, create_service
from tests.faultproxy import FaultProxy, free_port
from worker.bootstrap import open_runtime
from worker.lifecycle import prepare
from worker.settings import load_settings

API_KEY = "chaos-key"
#: Sends in flight at once in one notify process (`worker.services.notify`): the most a
#: kill -9 can leave in doubt.
IN_DOUBT_BOUND = 50
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
class Offer:
    token: str
    citizen: str
    offered: float
    accepted: float | None = None
    message_id: str | None = None
    attempts: int = 0


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


@dataclass
class Row:
    name: str
    offered: int = 0
    lost: int = 0
    stuck: int = 0
    duplicate_messages: int = 0
    repeated_pushes: int = 0
    missing_pushes: int = 0
    repeated_mails: int = 0
    missing_mails: int = 0
    repeated_callbacks: int = 0
    recovery_seconds: float = 0.0
    worst_seconds: float = 0.0

    @property
    def clean(self) -> bool:
        """Nothing lost, stuck, duplicated or missing; repeats within the in-doubt bound."""
        zeros = (self.lost, self.stuck, self.duplicate_messages)
        missing = (self.missing_pushes, self.missing_mails)
        repeats = (self.repeated_pushes, self.repeated_mails, self.repeated_callbacks)
        return not any(zeros) and not any(missing) and max(repeats) <= IN_DOUBT_BOUND


@dataclass
class Outcome:
    rows: list[Row] = field(default_factory=list)
    seconds: float = 0.0
    offers: int = 0
    accepted: int = 0
    client_retries: int = 0
    #: Where a failed run left its role logs and data.
    kept: Path | None = None

    @property
    def passed(self) -> bool:
        return all(row.clean for row in self.rows) and self.accepted == self.offers

    def table(self) -> str:
        head = (
            f"{'fault':<40}{'offered':>8}{'lost':>6}{'stuck':>6}{'dup msg':>8}"
            f"{'miss push':>10}{'miss mail':>10}{'push again':>11}{'mail again':>11}"
            f"{'cb again':>9}{'recover s':>10}{'worst e2e s':>12}"
        )
        lines = [f"broker: {broker_label()}", head, "-" * len(head)]
        for r in self.rows:
            lines.append(
                f"{r.name:<40}{r.offered:>8}{r.lost:>6}{r.stuck:>6}{r.duplicate_messages:>8}"
                f"{r.missing_pushes:>10}{r.missing_mails:>10}{r.repeated_pushes:>11}"
                f"{r.repeated_mails:>11}{r.repeated_callbacks:>9}{r.recovery_seconds:>10.1f}"
                f"{r.worst_seconds:>12.1f}"
            )
        verdict = "PASS" if self.passed else "FAIL"
        lines.append(
            f"{verdict}: {self.accepted}/{self.offers} accepted ({self.client_retries} client"
            f" retries) in {self.seconds:.0f} s"
            + (f"; logs and data kept in {self.kept}" if self.kept else "")
        )
        return "\n".join(lines)


def _env(
    folder: Path, url: str, proxy: FaultProxy, sinks: Sinks, *, http_port: int, plan: Plan
) -> dict[str, str]:
    return {
        "POSTINO_PROFILE": "dev",
        "POSTINO_DATABASE_URL": url,
        "POSTINO_KAFKA_BOOTSTRAP": proxy.address,
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


async def _seed(env: dict[str, str], sinks: Sinks) -> None:
    settings = load_settings(env)
    await prepare(settings)
    async with open_runtime(settings) as runtime:
        await create_service(
            runtime,
            id="chaos-service",
            api_key=API_KEY,
            callback_url=f"http://127.0.0.1:{sinks.callback_port}/hook",
            callback_secret="chaos-callback-secret",
        )
        for citizen in CITIZENS:
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
    env = _env(folder, url, proxy, sinks, http_port=http_port, plan=plan)
    stack = Stack(folder, pg, broker, proxy, sinks, env, http_port)
    try:
        await asyncio.to_thread(broker.start)
        await sinks.start()
        await _seed(env, sinks)
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
    body = {
        "fiscal_code": offer.citizen,
        "content": {
            "subject": f"Avviso di prova {offer.token}",
            "markdown": TEXT.format(token=offer.token),
        },
    }
    headers = {"Ocp-Apim-Subscription-Key": API_KEY, "Idempotency-Key": offer.token}
    url = f"http://127.0.0.1:{stack.http_port}/api/v1/messages"
    pause = 0.2
    while time.time() < give_up:
        offer.attempts += 1
        try:
            async with session.post(url, json=body, headers=headers) as resp:
                if resp.status == 201:
                    offer.message_id = (await resp.json())["id"]
                    offer.accepted = time.time()
                    return
                if resp.status < 500 and resp.status not in (408, 429):
                    raise AssertionError(f"{offer.token}: {resp.status} {await resp.text()}")
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


async def _inbox(url: str) -> tuple[dict[str, list[str]], dict[str, str], dict[str, set[str]]]:
    """Message ids by token, status by id, channels SENT by id."""
    conn = await asyncpg.connect(url)
    try:
        messages = await conn.fetch("SELECT id, status, content->>'subject' AS s FROM messages")
        sent = await conn.fetch(
            "SELECT message_id, channel FROM notifications"
            " WHERE kind = 'MESSAGE' AND status = 'SENT'"
        )
    finally:
        await conn.close()
    by_token: dict[str, list[str]] = {}
    status: dict[str, str] = {}
    for m in messages:
        token = TOKEN.search((m["s"] or "").encode())
        if token is not None:
            by_token.setdefault(token.group().decode(), []).append(m["id"])
        status[m["id"]] = m["status"]
    channels: dict[str, set[str]] = {}
    for n in sent:
        channels.setdefault(n["message_id"], set()).add(n["channel"])
    return by_token, status, channels


def _window(marks: Sequence[tuple[str, float]], at: float) -> int:
    index = 0
    for i, (_, started) in enumerate(marks):
        if started <= at:
            index = i
    return index


def _recovery(
    offers: Sequence[Offer], pushes: dict[str, list[float]], t0: float, fresh: float
) -> tuple[float, float]:
    """(recovery, worst end-to-end) of the messages offered in one window."""
    running, worst = t0, 0.0
    recovered: float | None = None
    for offer in sorted(offers, key=lambda o: o.offered):
        first = min(pushes.get(offer.message_id or "", [float("inf")]))
        worst = max(worst, first - offer.offered)
        running = max(running, first)
        if recovered is None and first - offer.offered <= fresh:
            recovered = running
    return (float("inf") if recovered is None else recovered - t0), worst


async def _books(
    stack: Stack, offers: Sequence[Offer], marks: Sequence[tuple[str, float]], plan: Plan
) -> list[Row]:
    by_token, status, channels = await _inbox(stack.pg.url)
    sinks = stack.sinks
    sinks.refresh()
    rows = [Row(name) for name, _ in marks]
    members: list[list[Offer]] = [[] for _ in marks]
    for offer in offers:
        index = _window(marks, offer.offered)
        members[index].append(offer)
        row = rows[index]
        row.offered += 1
        mid = offer.message_id
        if mid is None:
            continue
        ids = by_token.get(offer.token, [])
        if mid not in status:
            row.lost += 1
        elif status[mid] != "PROCESSED" or channels.get(mid, set()) != {"PUSH", "EMAIL"}:
            row.stuck += 1
        row.duplicate_messages += max(len(ids) - 1, 0)
        pushes, mails = len(sinks.pushes.get(mid, [])), len(sinks.mails.get(offer.token, []))
        row.repeated_pushes += max(pushes - 1, 0)
        row.missing_pushes += pushes == 0
        row.repeated_mails += max(mails - 1, 0)
        row.missing_mails += mails == 0
    owner = {o.message_id: _window(marks, o.offered) for o in offers if o.message_id}
    for key, times in sinks.callbacks.items():
        index = owner.get(sinks.callback_message.get(key, ""))
        if index is not None:
            rows[index].repeated_callbacks += len(times) - 1
    for index, (_, started) in enumerate(marks):
        rows[index].recovery_seconds, rows[index].worst_seconds = _recovery(
            members[index], sinks.pushes, started, plan.fresh_seconds
        )
    return rows


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
        rows = await _books(stack, offers, marks, plan)
    outcome = Outcome(
        rows=rows,
        seconds=time.time() - began,
        offers=len(offers),
        accepted=sum(1 for o in offers if o.message_id is not None),
        client_retries=sum(o.attempts - 1 for o in offers),
    )
    if outcome.passed:  # a failed run keeps its logs and data for a look
        await asyncio.to_thread(shutil.rmtree, stack.folder, True)
    else:
        outcome.kept = stack.folder
    return outcome
