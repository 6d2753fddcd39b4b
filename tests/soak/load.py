"""The soak's traffic: messages offered at a steady rate (every tenth an ADVANCED one
with a pagoPA notice, every twentieth then paid on `payments.updates`), and the
ledger of what is still owed: accepted messages not yet in the inbox, not yet pushed,
not yet mailed. Entries leave the ledger as they are seen, so an hour of traffic
costs the memory of what is in flight, not of everything sent."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp
import msgspec
from aiokafka import AIOKafkaProducer

from tests.soak.stack import API_KEY, CITIZENS, ORGANIZATION, SoakStack

TEXT = (
    "Gentile cittadino, la informiamo che e' disponibile un nuovo avviso nell'app IO."
    " Riferimento della prova di durata: {token}."
)
#: Offers in flight at once: past it the generator waits (and the offered rate drops,
#: which the report shows).
MAX_IN_FLIGHT = 400


@dataclass
class Ledger:
    offered: int = 0
    accepted: int = 0
    refused: int = 0
    payments: int = 0
    #: message id -> accept time (client side), until seen in the inbox
    unprocessed: dict[str, float] = field(default_factory=dict)
    #: message id -> accept time, until its push arrives
    unpushed: dict[str, float] = field(default_factory=dict)
    #: token -> accept time, until its e-mail arrives
    unmailed: dict[str, float] = field(default_factory=dict)
    #: ("push", message id) or ("mail", token) journaled before the generator saw its
    #: `201` (a response still queued in the generator when the sampler read the
    #: journal): not owed when the acceptance is recorded
    early: set[tuple[str, str]] = field(default_factory=set)


def body(n: int) -> dict[str, object]:
    token = f"chaos-{n:08d}"  # the sinks' token pattern
    content: dict[str, object] = {
        "subject": f"Avviso di prova {token}",
        "markdown": TEXT.format(token=token),
    }
    message: dict[str, object] = {"fiscal_code": CITIZENS[n % len(CITIZENS)], "content": content}
    if n % 10 == 0:
        content["payment_data"] = {"amount": 1250, "notice_number": notice(n)}
        message["feature_level_type"] = "ADVANCED"
    return message


def notice(n: int) -> str:
    return f"3{n:017d}"


def payment_event(n: int) -> bytes:
    return msgspec.json.encode(
        {
            "id": f"soak-payment-{n}",
            "debtorPosition": {"noticeNumber": notice(n)},
            "creditor": {"idPA": ORGANIZATION},
            "paymentInfo": {"paymentDateTime": datetime.now(UTC).isoformat(), "amount": "12.50"},
        }
    )


class Load:
    def __init__(self, stack: SoakStack, rate: float, ledger: Ledger) -> None:
        self.stack, self.rate, self.ledger = stack, rate, ledger
        self.url = f"http://127.0.0.1:{stack.http_port}/api/v1/messages"
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._producer = AIOKafkaProducer(bootstrap_servers=stack.broker.bootstrap, acks="all")
        self._topic = stack.env["POSTINO_TOPIC_PREFIX"] + "payments.updates"

    async def run(self, seconds: float) -> None:
        await self._producer.start()
        tasks: set[asyncio.Task[None]] = set()
        start = time.time()
        timeout = aiohttp.ClientTimeout(total=30)
        connector = aiohttp.TCPConnector(limit=MAX_IN_FLIGHT)
        try:
            async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
                for n in itertools.count():
                    due = start + n / self.rate
                    if due - start >= seconds:
                        break
                    if (wait := due - time.time()) > 0:
                        await asyncio.sleep(wait)
                    await self._slots.acquire()
                    task = asyncio.create_task(self._offer(session, n))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                await asyncio.gather(*tasks)
        finally:
            await self._producer.stop()

    async def _offer(self, session: aiohttp.ClientSession, n: int) -> None:
        ledger = self.ledger
        ledger.offered += 1
        headers = {"Ocp-Apim-Subscription-Key": API_KEY, "Idempotency-Key": f"soak-{n}"}
        try:
            for _ in range(5):
                try:
                    async with session.post(self.url, json=body(n), headers=headers) as resp:
                        if resp.status == 201:
                            accepted(ledger, (await resp.json())["id"], n)
                            break
                        if resp.status < 500 and resp.status not in (408, 429):
                            ledger.refused += 1
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(1.0)
            else:
                ledger.refused += 1
                return
            if n % 20 == 0:
                await self._producer.send_and_wait(
                    self._topic, payment_event(n), key=(ORGANIZATION + notice(n)).encode()
                )
                ledger.payments += 1
        finally:
            self._slots.release()


def accepted(ledger: Ledger, message_id: str, n: int) -> None:
    now = time.time()
    ledger.accepted += 1
    ledger.unprocessed[message_id] = now
    owed = (("push", message_id, ledger.unpushed), ("mail", f"chaos-{n:08d}", ledger.unmailed))
    for kind, key, unsent in owed:
        if (kind, key) in ledger.early:
            ledger.early.discard((kind, key))
        else:
            unsent[key] = now
