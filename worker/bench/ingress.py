"""Ingress: the bare ceiling vs our ingress, same load, same broker, same acks.

Each server is its own process; the load generator (this process) keeps `concurrency`
keep-alive connections busy for a fixed time after a short warm-up. Reported:
requests/s, p50/p99, the server's and the generator's CPU seconds.
"""

from __future__ import annotations

from typing import Any

from worker.bench import loadgen, procs, workload
from worker.bench.harness import Bench
from worker.ingress.auth import SENDER_HEADER

HOST = "127.0.0.1"
PATH = "/api/v1/messages"


def submit_requests(port: int, count: int) -> list[bytes]:
    headers = {SENDER_HEADER: workload.API_KEY, "Content-Type": "application/json"}
    host = f"{HOST}:{port}"
    return [
        loadgen.encode_request("POST", host, PATH, headers, body)
        for body in workload.submit_bodies(count)
    ]


async def drive(
    service: procs.Service, port: int, concurrency: int, seconds: float, citizens: int
) -> dict[str, Any]:
    """Warm up, then a closed-loop run; returns the figures of the run."""
    requests = submit_requests(port, citizens)
    await loadgen.LoadGenerator(HOST, port, requests).run_closed(concurrency, 1.5)
    cpu0, busy0 = procs.cpu_seconds(service.pid), procs.machine_busy()
    result = await loadgen.LoadGenerator(HOST, port, requests).run_closed(concurrency, seconds)
    server_cpu = procs.cpu_seconds(service.pid) - cpu0
    busy1 = procs.machine_busy()
    return {
        "requests_per_second": round(result.rate, 1),
        "ok": result.ok,
        "statuses": {str(k): v for k, v in sorted(result.statuses.items())},
        **result.latencies.summary_ms(),
        "server_cpu_seconds": round(server_cpu, 2),
        "generator_cpu_seconds": round(result.cpu_seconds, 2),
        "machine_busy": round((busy1[0] - busy0[0]) / max(1.0, busy1[1] - busy0[1]), 3),
        "seconds": round(result.seconds, 2),
        "rss_peak_mb": round(procs.memory_kb(service.pid) / 1024, 1),
    }


async def _one(bench: Bench, name: str, argv: list[str]) -> dict[str, Any]:
    port = bench.port()
    prefix = bench.prefix(name)
    await bench.settings(prefix)
    opts = bench.options
    with procs.Service(name, argv, bench.env(prefix, port), bench.workdir / "logs") as service:
        await service.wait_http(HOST, port)
        return await drive(service, port, opts.concurrency, opts.ingress_seconds, opts.citizens)


async def measure(bench: Bench) -> dict[str, Any]:
    ceiling = await _one(bench, "ingress-ceiling", procs.bare_ingress())
    ours = await _one(bench, "ingress", procs.postino("ingress"))
    return {"concurrency": bench.options.concurrency, "ceiling": ceiling, "ours": ours}
