"""Ingress: the bare ceiling vs our ingress, same load, same broker, same acks.

Both servers run at once, each its own process; the load generator (this process)
drives them in alternating rounds (ceiling, ours, ceiling, ours, ...) of closed-loop
load at `concurrency` keep-alive connections, so a background load that comes and
goes hits both alike. Reported per side: requests/s, p50/p99, and the server's CPU
per request (the steadiest figure on a shared machine), plus the generator's CPU.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devkit.bench import kafkacount, loadgen, procs, workload
from devkit.bench.harness import Bench
from worker.ingress.auth import SENDER_HEADER

HOST = "127.0.0.1"
INGRESS = ("worker", "ingress")
PATH = "/api/v1/messages"
ROUNDS = 3


def submit_requests(port: int, count: int) -> list[bytes]:
    headers = {SENDER_HEADER: workload.API_KEY, "Content-Type": "application/json"}
    host = f"{HOST}:{port}"
    return [
        loadgen.encode_request("POST", host, PATH, headers, body)
        for body in workload.submit_bodies(count)
    ]


@dataclass
class Side:
    """One server under test and what the rounds measured of it."""

    service: procs.Service
    port: int
    requests: list[bytes]
    counts: Path
    result: loadgen.LoadResult = field(default_factory=loadgen.LoadResult)
    server_cpu: float = 0.0
    busy: float = 0.0
    total: float = 0.0
    kafka: collections.Counter[str] = field(default_factory=collections.Counter)

    async def round(self, concurrency: int, seconds: float) -> None:
        cpu0, busy0 = procs.cpu_seconds(self.service.pid), procs.machine_busy()
        counts0 = kafkacount.read(self.counts)
        gen = loadgen.LoadGenerator(HOST, self.port, self.requests)
        self.result.merge(await gen.run_closed(concurrency, seconds))
        self.server_cpu += procs.cpu_seconds(self.service.pid) - cpu0
        self.kafka.update(kafkacount.delta(kafkacount.read(self.counts), counts0))
        busy1 = procs.machine_busy()
        self.busy += busy1[0] - busy0[0]
        self.total += busy1[1] - busy0[1]

    def figures(self) -> dict[str, Any]:
        result = self.result
        return {
            "requests_per_second": round(result.rate, 1),
            "ok": result.ok,
            "statuses": {str(k): v for k, v in sorted(result.statuses.items())},
            **result.latencies.summary_ms(),
            "server_cpu_seconds": round(self.server_cpu, 2),
            "server_cpu_us_per_request": round(self.server_cpu / max(result.ok, 1) * 1e6, 1),
            "kafka_requests_per_request": kafkacount.per_message(self.kafka, result.ok),
            "generator_cpu_seconds": round(result.cpu_seconds, 2),
            "machine_busy": round(self.busy / max(self.total, 1.0), 3),
            "seconds": round(result.seconds, 2),
            "rss_peak_mb": round(procs.memory_kb(self.service.pid) / 1024, 1),
        }


async def start_side(
    bench: Bench, name: str, *module: str, env: dict[str, str] | None = None
) -> Side:
    """One ingress (ours unless `module` says otherwise) started, reachable and warmed up."""
    port, prefix = bench.port(), bench.prefix(name)
    await bench.settings(prefix)
    service = bench.process(name, bench.env(prefix, port, **(env or {})), *(module or INGRESS))
    service.start()
    await service.wait_http(HOST, port)
    side = Side(service, port, submit_requests(port, bench.options.citizens), bench.counts(name))
    await loadgen.LoadGenerator(HOST, port, side.requests).run_closed(8, 1.0)  # warm-up
    return side


async def drive(sides: list[Side], concurrency: int, seconds: float) -> None:
    """Alternate `ROUNDS` rounds over the sides, `seconds` in total per side."""
    for _ in range(ROUNDS):
        for side in sides:
            await side.round(concurrency, seconds / ROUNDS)


async def measure(bench: Bench) -> dict[str, Any]:
    sides: list[Side] = []
    try:
        sides.append(await start_side(bench, "ingress-ceiling", "devkit.bench.bare_ingress"))
        sides.append(await start_side(bench, "ingress"))
        await drive(sides, bench.options.concurrency, bench.options.ingress_seconds)
        ceiling, ours = (side.figures() for side in sides)
    finally:
        for side in sides:
            side.service.stop()
    return {"concurrency": bench.options.concurrency, "ceiling": ceiling, "ours": ours}
