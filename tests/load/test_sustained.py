"""The highest submit rate this machine holds, then that rate sustained.

A short step search (open loop, a few seconds per step) finds the highest offered
rate that is fully accepted with p99 < 1 s; that rate is then held for SUSTAIN
seconds. Afterwards the last accepted message is polled until processed: the time
it takes is the backlog the pipeline built up (0 when deliver kept up).
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import msgspec
import pytest

from devkit.bench import loadgen
from tests.load.conftest import Target
from worker.ingress.auth import SENDER_HEADER

STEPS = (200, 500, 1000, 1500, 2000, 3000, 4000, 5000, 6500)
STEP_SECONDS = 3.0
SUSTAIN = 20.0


def requests(target: Target) -> list[bytes]:
    host, port = loadgen.host_port(target.url)
    headers = {SENDER_HEADER: target.api_key, "Content-Type": "application/json"}
    return [
        loadgen.encode_request(
            "POST", f"{host}:{port}", "/api/v1/messages", headers, msgspec.json.encode(body)
        )
        for body in (target.body(n) for n in range(len(target.fiscal_codes)))
    ]


def holds(result: loadgen.LoadResult, rate: float, seconds: float) -> bool:
    return result.ok >= 0.97 * rate * seconds and result.latencies.percentile(99) < 1.0


async def run(target: Target, rate: float, seconds: float) -> loadgen.LoadResult:
    host, port = loadgen.host_port(target.url)
    gen = loadgen.LoadGenerator(host, port, requests(target), keep_bodies=True)
    return await gen.run_open(rate, seconds)


async def backlog_seconds(target: Target, result: loadgen.LoadResult) -> float:
    """Seconds until the last accepted message is processed (polled every 50 ms)."""
    last = msgspec.json.decode(result.bodies[-1])["id"]
    fc = target.body(result.ok - 1)["fiscal_code"]
    url = f"{target.url}/api/v1/messages/{fc}/{last}"
    started = time.perf_counter()
    async with aiohttp.ClientSession(headers={SENDER_HEADER: target.api_key}) as http:
        while time.perf_counter() - started < 60:
            async with http.get(url) as resp:
                body = await resp.json(content_type=None)
            if body.get("status") != "ACCEPTED":
                break
            await asyncio.sleep(0.05)
    return time.perf_counter() - started


@pytest.mark.load
@pytest.mark.timeout(240)
async def test_sustained_at_the_highest_rate_the_machine_holds(target: Target) -> None:
    best = 0
    print("\n== step search (open loop)")
    for rate in STEPS:
        result = await run(target, rate, STEP_SECONDS)
        ok = holds(result, rate, STEP_SECONDS)
        print(
            f"  {rate:>5} req/s offered: {result.rate:7.1f} accepted/s, "
            f"p99 {result.latencies.percentile(99) * 1000:7.1f} ms, statuses "
            f"{dict(result.statuses)} -> {'holds' if ok else 'does not hold'}"
        )
        if not ok:
            break
        best = rate
    rate = best or STEPS[0]
    result = await run(target, rate, SUSTAIN)
    lat = result.latencies.summary_ms()
    backlog = await backlog_seconds(target, result) if result.bodies else float("nan")
    held = holds(result, rate, SUSTAIN)
    print(
        f"== sustained {rate} req/s for {SUSTAIN:.0f} s: {result.rate:.1f} accepted/s, "
        f"p50 {lat['p50_ms']} ms, p95 {lat['p95_ms']} ms, p99 {lat['p99_ms']} ms, "
        f"statuses {dict(result.statuses)}\n"
        f"  last message processed {backlog:.2f} s after the load ended\n"
        f"  {'PASS' if held else 'FAIL'}  rate held (>= 97% accepted, p99 < 1 s)\n"
        f"  generator CPU {result.cpu_seconds:.1f} s over {result.seconds:.1f} s"
    )
    assert result.ok > 0, "no submission was accepted: is the stack healthy?"
