"""Measure deliver alone: pre-fill `messages.submitted`, drain it, report messages/s.

Not a test (nothing is asserted on time): a measurement to run by hand, on its own
embedded PostgreSQL and broker in a temporary directory:

    .venv/bin/python -m tests.load.deliver_drain --count 20000

The records mix what deliver sees in production: half accepted by the ingress (signed
id, `postino-origin` header), half from an upstream producer (the full rules run,
no id: derived from the position), a payment notice on every fifth, over citizens in
every preferences mode (some rejected), so every branch of the hot path is exercised.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from schemas import codecs
from schemas.messages import MessageContent, PaymentData, SubmittedMessage
from worker import logs
from worker.bench import workload
from worker.bootstrap import Runtime, open_runtime
from worker.core.records import OutRecord
from worker.embedded import embedded_stack
from worker.lifecycle import prepare
from worker.roles import deliver
from worker.services.ports import INGRESS_ORIGIN
from worker.settings import load_settings


def _records(runtime: Runtime, count: int, citizens: list[str]) -> list[OutRecord]:
    topic = runtime.settings.kafka.topic("messages.submitted")
    plain = MessageContent(subject=workload.SUBJECT, markdown=workload.MARKDOWN)
    out = []
    for n in range(count):
        fc = citizens[n % len(citizens)]
        payment = PaymentData(amount=1250, notice_number=f"30{n:016d}") if n % 5 == 0 else None
        content = (
            plain
            if payment is None
            else MessageContent(
                subject=workload.SUBJECT, markdown=workload.MARKDOWN, payment_data=payment
            )
        )
        ingress = n % 2 == 0
        message = SubmittedMessage(
            id=runtime.signer.new(workload.SERVICE_ID, fc) if ingress else None,
            sender_service_id=workload.SERVICE_ID,
            fiscal_code=fc,
            created_at=datetime.now(UTC),
            content=content,
        )
        headers = (INGRESS_ORIGIN,) if ingress else ()
        out.append(OutRecord(topic, codecs.SUBMITTED.encode(message), fc.encode(), headers))
    return out


async def _drain(runtime: Runtime, count: int) -> float:
    runner = deliver.build(runtime)
    started = time.perf_counter()
    task = asyncio.create_task(runner.run_until_idle())
    finished = started
    while not task.done():
        if runner.processed < count:
            finished = time.perf_counter()
        await asyncio.sleep(0.002)
    await task
    await runner.stop()
    return finished - started


async def measure(url: str, bootstrap: str, count: int, citizens: int) -> dict[str, Any]:
    settings = load_settings(
        {
            "POSTINO_DATABASE_URL": url,
            "POSTINO_KAFKA_BOOTSTRAP": bootstrap,
            "POSTINO_KAFKA_ASSIGNMENT": "direct",
            "POSTINO_KAFKA_PARTITIONS": "4",
            "POSTINO_ID_SECRET": "measure",
            "POSTINO_TOPIC_PREFIX": f"m{int(time.time())}.",
        }
    )
    await prepare(settings)
    async with open_runtime(settings) as runtime:
        async with runtime.pool.acquire() as conn:
            await workload.seed(conn, citizens)
        records = _records(runtime, count, workload.citizens(citizens))
        for start in range(0, count, 2000):
            await runtime.publisher.publish_many(records[start : start + 2000])
        seconds = await _drain(runtime, count)
        rows = await runtime.pool.fetch("SELECT status, count(*) AS n FROM messages GROUP BY 1")
    return {
        "messages": count,
        "seconds": round(seconds, 2),
        "messages_per_second": round(count / seconds, 1),
        "statuses": {r["status"]: r["n"] for r in rows},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--citizens", type=int, default=3000)
    args = parser.parse_args()
    logs.configure("warning", "console")
    with tempfile.TemporaryDirectory() as tmp, embedded_stack(Path(tmp)) as (url, bootstrap):
        report = asyncio.run(measure(url, bootstrap, args.count, args.citizens))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
