"""The full-pipeline ceiling: the external I/O of our pipeline per message, no logic.

Three stages, each its own process (`python -m devkit.bench.bare_pipeline <stage>`),
like our roles, after `devkit.bench.bare_ingress` (which publishes the request body
as it came). Per poll batch each stage does the least our pipeline must do, then
commits its offsets:

- `deliver`: decode the bodies (msgspec, typed), one multi-row INSERT into the inbox,
  produce a PROCESSED status event per message and a notification request per channel
  (push for every message that is not rejected, e-mail where ours sends one: the
  workload's preference rules, read from a table, not decided);
- `notify`: one aiohttp POST to the push sink per push, one SMTP send per e-mail over
  kept connections (as many as ours keeps), one multi-row INSERT of the outcomes, a
  SENT status event per notification;
- `callbacks`: one aiohttp POST per status event to the sender's receiver, one
  multi-row INSERT of the settlements.

No retry tiers, no copies, no claims, no rules, no logs: what is left is Kafka,
PostgreSQL, HTTP and SMTP. Settings come from the same `POSTINO_*` variables as our
roles (producer linger included); `POSTINO_BENCH_CALLBACK_URL` is the receiver,
`POSTINO_BENCH_CITIZENS` the workload's citizens.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import aiosmtplib
import asyncpg
import msgspec
from aiokafka import AIOKafkaProducer

from devkit.bench import workload
from schemas import codecs
from schemas.enums import Channel, MessageStatus, NotificationStatus
from schemas.events import MessageStatusChanged, NotificationRequest, NotificationStatusChanged
from schemas.topics import Topic
from worker import eventloop
from worker.adapters import kafka
from worker.lifecycle import install_signal_handlers
from worker.settings import Settings, load_settings

CALLBACK_URL_VARIABLE = "POSTINO_BENCH_CALLBACK_URL"
CITIZENS_VARIABLE = "POSTINO_BENCH_CITIZENS"
_TTL = timedelta(days=7)

_INBOX = """
INSERT INTO messages (id, fiscal_code, sender_service_id, created_at, time_to_live,
                      feature_level_type, content, status)
SELECT id, fc, $3, created, 604800, 'STANDARD', content::jsonb, status
FROM unnest($1::text[], $2::text[], $4::timestamptz[], $5::text[], $6::text[])
     AS t(id, fc, created, content, status)
ON CONFLICT (id) DO NOTHING
"""
_OUTCOMES = """
INSERT INTO notifications (id, message_id, fiscal_code, channel, kind, status, attempts,
                           deadline)
SELECT id, mid, fc, ch, 'MESSAGE', 'SENT', 1, dl
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])
     AS t(id, mid, fc, ch, dl)
ON CONFLICT (id) DO NOTHING
"""
_SETTLES = """
INSERT INTO callback_deliveries (event_key, outcome)
SELECT k, 'delivered' FROM unnest($1::text[]) AS t(k)
ON CONFLICT (event_key) DO NOTHING
"""


class _Body(msgspec.Struct):
    fiscal_code: str
    content: msgspec.Raw


_BODY = msgspec.json.Decoder(_Body)
_PUSH_BODY = msgspec.json.Encoder()
Batch = list[Any]  # aiokafka ConsumerRecords
Stage = Callable[[Batch], Awaitable[None]]


class _Io:
    """The stage's clients: producer, database, HTTP, SMTP (each opened once)."""

    def __init__(self, settings: Settings, producer: AIOKafkaProducer, pool: asyncpg.Pool) -> None:
        self.settings = settings
        self.topics = settings.kafka.topics
        self.producer = producer
        self.pool = pool
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))
        #: Kept connections, as many as ours keeps (`POSTINO_SMTP_CONNECTIONS`).
        self.smtp: list[aiosmtplib.SMTP] = []

    @classmethod
    async def open(cls, settings: Settings) -> _Io:
        bootstrap = settings.kafka.bootstrap or "127.0.0.1:9092"
        producer = kafka.producer(settings.kafka, bootstrap, "bare")
        await producer.start()
        pool = await asyncpg.create_pool(settings.database.url, min_size=1, max_size=4)
        io = cls(settings, producer, pool)
        if settings.notify.smtp_url:
            target = urlsplit(settings.notify.smtp_url)
            for _ in range(settings.notify.smtp_connections):
                client = aiosmtplib.SMTP(hostname=target.hostname, port=target.port)
                await client.connect()
                io.smtp.append(client)
        return io

    async def stop(self) -> None:
        await self.producer.stop()
        await self.http.close()
        await self.pool.close()
        for client in self.smtp:
            client.close()

    async def write(self, query: str, *args: object) -> None:
        await self.pool.execute(query, *args)

    async def produce(self, out: list[tuple[Topic, bytes, bytes]]) -> None:
        futures = [
            await self.producer.send(self.topics.name(topic), value, key=key)
            for topic, key, value in out
        ]
        await asyncio.gather(*futures)


def deliver_stage(io: _Io) -> Stage:
    """Inbox rows, then the PROCESSED events and the notification requests."""
    rules = workload.channels(int(os.environ[CITIZENS_VARIABLE]))

    async def stage(batch: Batch) -> None:
        cols: tuple[list[Any], ...] = ([], [], [], [], [])
        out: list[tuple[Topic, bytes, bytes]] = []
        for record in batch:
            body = _BODY.decode(record.value)
            message_id = uuid.uuid4().hex
            created = datetime.fromtimestamp(record.timestamp / 1000, UTC)
            channels = rules.get(body.fiscal_code)
            status = MessageStatus.PROCESSED if channels is not None else MessageStatus.REJECTED
            row = (message_id, body.fiscal_code, created, bytes(body.content).decode(), status)
            for col, value in zip(cols, row, strict=True):
                col.append(value)
            event = MessageStatusChanged(
                message_id=message_id,
                sender_service_id=workload.SERVICE_ID,
                seq=1,
                at=created,
                status=status,
            )
            out.append((Topic.STATUS, message_id.encode(), codecs.STATUS.encode(event)))
            for channel in channels or ():
                request = NotificationRequest(
                    notification_id=f"{message_id}:{channel.value}",
                    message_id=message_id,
                    fiscal_code=body.fiscal_code,
                    sender_service_id=workload.SERVICE_ID,
                    channel=channel,
                    deadline=created + _TTL,
                )
                out.append((Topic.NOTIFICATIONS, record.key, codecs.NOTIFICATION.encode(request)))
        await io.write(_INBOX, cols[0], cols[1], workload.SERVICE_ID, *cols[2:])
        await io.produce(out)

    return stage


def notify_stage(io: _Io) -> Stage:
    """Pushes and e-mails sent, their outcomes written, their SENT events produced."""
    push_url = io.settings.notify.push_url or ""
    data = f"Subject: {workload.SUBJECT}\r\n\r\n{workload.MARKDOWN}\r\n".encode()

    async def push(request: NotificationRequest) -> None:
        body = _PUSH_BODY.encode({"message_id": request.message_id})
        async with io.http.post(push_url, data=body) as answer:
            await answer.read()

    async def mail(client: aiosmtplib.SMTP, requests: list[NotificationRequest]) -> None:
        """One connection's share of the batch, one e-mail after the other."""
        for request in requests:
            to = [f"{request.fiscal_code}@example.org"]
            await client.sendmail("noreply@example.org", to, data)

    async def stage(batch: Batch) -> None:
        requests = [codecs.NOTIFICATION.decode(r.value) for r in batch]
        mails = [r for r in requests if r.channel == Channel.EMAIL]
        clients = io.smtp
        await asyncio.gather(
            *(push(r) for r in requests if r.channel == Channel.PUSH),
            *(mail(c, mails[n :: len(clients)]) for n, c in enumerate(clients)),
        )
        await io.write(
            _OUTCOMES,
            [r.notification_id for r in requests],
            [r.message_id for r in requests],
            [r.fiscal_code for r in requests],
            [r.channel.value for r in requests],
            [r.deadline for r in requests],
        )
        now = datetime.now(UTC)
        await io.produce(
            [
                (Topic.STATUS, r.message_id.encode(), codecs.STATUS.encode(_sent(r, now)))
                for r in requests
            ]
        )

    return stage


def _sent(request: NotificationRequest, now: datetime) -> NotificationStatusChanged:
    return NotificationStatusChanged(
        message_id=request.message_id,
        sender_service_id=request.sender_service_id,
        seq=2,
        at=now,
        channel=request.channel,
        notification_kind=request.kind,
        status=NotificationStatus.SENT,
    )


def callbacks_stage(io: _Io) -> Stage:
    """One POST per status event, then the settlements."""
    url = os.environ[CALLBACK_URL_VARIABLE]
    headers = {"Content-Type": "application/json"}

    async def post(body: bytes) -> None:
        async with io.http.post(url, data=body, headers=headers) as answer:
            await answer.read()

    async def stage(batch: Batch) -> None:
        await asyncio.gather(*(post(r.value) for r in batch))
        keys = [hashlib.sha256(r.value).hexdigest()[:32] for r in batch]
        await io.write(_SETTLES, keys)

    return stage


STAGES: dict[str, tuple[Topic, Callable[[_Io], Stage]]] = {
    "deliver": (Topic.SUBMITTED, deliver_stage),
    "notify": (Topic.NOTIFICATIONS, notify_stage),
    "callbacks": (Topic.STATUS, callbacks_stage),
}


async def serve(name: str) -> None:
    settings = load_settings()
    topic, make_stage = STAGES[name]
    io = await _Io.open(settings)
    bootstrap = settings.kafka.bootstrap or "127.0.0.1:9092"
    group = f"{settings.kafka.group_prefix}.bare-{name}"
    consumer = kafka.consumer(settings.kafka, bootstrap, group)
    stop = asyncio.Event()
    install_signal_handlers(stop)
    await consumer.start()
    try:
        consumer.assign(await kafka.all_partitions(consumer, [settings.kafka.topics.name(topic)]))
        stage = make_stage(io)
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=settings.kafka.fetch_wait_ms)
            records = [r for recs in batches.values() for r in recs]
            if not records:
                continue
            await stage(records)
            await consumer.commit({tp: recs[-1].offset + 1 for tp, recs in batches.items()})
    finally:
        await consumer.stop()
        await io.stop()


if __name__ == "__main__":
    eventloop.run(serve(sys.argv[1]), load_settings())
