"""Pipeline: raw consume -> multi-row INSERT -> commit, vs our deliver role.

Both drain, in this process, the same kind of pre-filled `messages.submitted` (a
fresh topic prefix each, empty inbox each); the clock runs from the consumer start
to the last record handled. The records are as the ingress writes them, signed id
and origin header included, so deliver takes the path of an HTTP submit (an upstream
record would also go through the IO rules and the limits transaction).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from devkit.bench import kafkacount, pipeline, workload
from devkit.bench.harness import Bench
from schemas.topics import Topic
from worker.adapters import kafka
from worker.consumers.runner import ConsumerRunner
from worker.ids import IdSigner
from worker.roles import deliver
from worker.services.ports import INGRESS_ORIGIN

Drain = Callable[[Bench, int], Awaitable[tuple[float, float]]]


async def prefill(bench: Bench, prefix: str, count: int) -> None:
    settings = await bench.settings(prefix)
    signer = IdSigner(settings.id_secret or "bench")
    records = workload.submitted_records(count, bench.options.citizens, signer)
    producer = kafka.producer(settings.kafka, bench.bootstrap, "bench")
    await producer.start()
    try:
        topic = settings.kafka.topics.name(Topic.SUBMITTED)
        for start in range(0, len(records), 2000):
            futures = [
                await producer.send(topic, value, key=key, headers=[INGRESS_ORIGIN])
                for key, value in records[start : start + 2000]
            ]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def ceiling(bench: Bench, count: int) -> tuple[float, float]:
    """(seconds, CPU seconds of this process) to drain `count` records."""
    prefix = bench.prefix("pipeline-ceiling")
    await prefill(bench, prefix, count)
    await bench.reset_inbox()
    settings = await bench.settings(prefix)
    cpu0 = time.process_time()
    seconds = await pipeline.drain(settings.kafka, bench.bootstrap, bench.url, count)
    return seconds, time.process_time() - cpu0


async def counted(bench: Bench, drain: Drain, count: int) -> tuple[float, float, dict[str, float]]:
    """`drain` with the Kafka requests this process sent meanwhile, per message."""
    counts = bench.counts("bench")
    before = kafkacount.read(counts)
    seconds, cpu = await drain(bench, count)
    requests = kafkacount.delta(kafkacount.read(counts), before)
    return seconds, cpu, kafkacount.per_message(requests, count)


async def ours(bench: Bench, count: int) -> tuple[float, float]:
    """(seconds, CPU seconds of this process) to drain `count` records."""
    prefix = bench.prefix("deliver")
    await prefill(bench, prefix, count)
    await bench.reset_inbox()
    async with bench.runtime(prefix) as runtime:
        runner = deliver.build(runtime)
        cpu0, started = time.process_time(), time.perf_counter()
        drain = asyncio.create_task(_until(runner, count))
        finished = started
        while not drain.done():
            if runner.processed < count:
                finished = time.perf_counter()
            await asyncio.sleep(0.002)
        await drain
        cpu = time.process_time() - cpu0
        await runner.stop()
        if runner.processed < count:
            raise RuntimeError(f"deliver drained {runner.processed} of {count} records")
        return finished - started, cpu


async def _until(runner: ConsumerRunner, count: int, timeout: float = 120.0) -> None:
    """Drain until `count` records are handled: a loaded machine can make the first
    polls come back empty, which alone would end `run_until_idle`."""
    deadline = time.monotonic() + timeout
    while runner.processed < count and time.monotonic() < deadline:
        await runner.run_until_idle()


async def measure(bench: Bench) -> dict[str, Any]:
    count = bench.options.deliver_messages
    raw, raw_cpu, raw_requests = await counted(bench, ceiling, count)
    ours_seconds, ours_cpu, ours_requests = await counted(bench, ours, count)
    rows = await bench.sql(
        "SELECT status, count(*) AS n FROM messages WHERE sender_service_id <> $1 GROUP BY status",
        workload.HISTORY_SERVICE_ID,
    )
    return {
        "messages": count,
        "ceiling": {
            "messages_per_second": round(count / raw, 1),
            "seconds": round(raw, 2),
            "cpu_us_per_message": round(raw_cpu / count * 1e6, 1),
            "kafka_requests_per_message": raw_requests,
        },
        "ours": {
            "messages_per_second": round(count / ours_seconds, 1),
            "seconds": round(ours_seconds, 2),
            "cpu_us_per_message": round(ours_cpu / count * 1e6, 1),
            "kafka_requests_per_message": ours_requests,
            "statuses": {r["status"]: r["n"] for r in rows},
        },
    }
