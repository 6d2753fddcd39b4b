"""IO's own load profile against a running stack, with IO's thresholds as verdicts.

Submissions arrive at a rate ramping 50 -> 100 -> 200 -> 100 req/s (open loop, like
k6's ramping-arrival-rate); one sender in five then polls the status of its message
until it is processed. Thresholds (p99 < 1.5 s overall, p95 < 1 s for submit and for
status) are printed as PASS/FAIL: a slow machine is reported, never a red build.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from tests.load.conftest import Target
from tests.load.report import Recorder, summary, verdict
from worker.ingress.auth import SENDER_HEADER

#: (seconds, rate reached at the end of the stage); the rate ramps linearly within a stage.
STAGES = ((8.0, 50.0), (10.0, 100.0), (14.0, 200.0), (10.0, 100.0))
POLL_EVERY = 0.25
POLL_FOR = 15.0
TERMINAL = {"PROCESSED", "REJECTED", "FAILED"}


def arrivals(stages: tuple[tuple[float, float], ...], start_rate: float = 10.0) -> list[float]:
    """Arrival times (s from start) of a piecewise-linear rate profile."""
    times, t, rate, owed = [], 0.0, start_rate, 0.0
    step = 0.001
    for seconds, end_rate in stages:
        slope = (end_rate - rate) / seconds
        stage_end = t + seconds
        while t < stage_end:
            owed += rate * step
            while owed >= 1.0:
                times.append(t)
                owed -= 1.0
            t += step
            rate += slope * step
        rate = end_rate
    return times


class Sender:
    def __init__(self, http: aiohttp.ClientSession, target: Target, rec: Recorder) -> None:
        self.http, self.target, self.rec = http, target, rec
        self.headers = {SENDER_HEADER: target.api_key}
        self.processed = 0

    async def timed(self, kind: str, method: str, url: str, **kw: object) -> tuple[int, dict]:
        started = time.perf_counter()
        try:
            async with self.http.request(method, url, headers=self.headers, **kw) as resp:
                body = await resp.json(content_type=None) if resp.status < 300 else {}
                status = resp.status
        except (aiohttp.ClientError, TimeoutError):
            status, body = 0, {}
        self.rec.add(kind, status, time.perf_counter() - started)
        return status, body

    async def send(self, n: int) -> None:
        url = f"{self.target.url}/api/v1/messages"
        status, body = await self.timed("submit", "POST", url, json=self.target.body(n))
        if status == 201 and n % 5 == 0:
            await self.poll(f"{self.target.url}{self.location(n, body['id'])}")

    def location(self, n: int, message_id: str) -> str:
        fc = self.target.body(n)["fiscal_code"]
        return f"/api/v1/messages/{fc}/{message_id}"

    async def poll(self, url: str) -> None:
        deadline = time.perf_counter() + POLL_FOR
        while time.perf_counter() < deadline:
            status, body = await self.timed("status", "GET", url)
            if status == 200 and body.get("status") in TERMINAL:
                self.processed += body["status"] == "PROCESSED"
                return
            await asyncio.sleep(POLL_EVERY)


@pytest.mark.load
@pytest.mark.timeout(240)
async def test_io_load_profile_meets_io_thresholds(target: Target) -> None:
    rec = Recorder()
    schedule = arrivals(STAGES)
    connector = aiohttp.TCPConnector(limit=400)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        sender = Sender(http, target, rec)
        tasks = []
        start = time.perf_counter()
        for n, at in enumerate(schedule):
            delay = start + at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(sender.send(n)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start

    lines = summary(f"IO load profile: {len(schedule)} submits in {elapsed:.0f} s", rec)
    lines += [
        f"  processed  {sender.processed} of the polled messages reached PROCESSED",
        f"  throttled  {rec.count('submit', 429)} submits answered 429",
        verdict("p99 overall", rec.ms("overall", 99), 1500),
        verdict("p95 submit", rec.ms("submit", 95), 1000),
        verdict("p95 status", rec.ms("status", 95), 1000),
    ]
    print("\n".join(lines))
    assert rec.count("submit", 201) > 0, "no submission was accepted: is the stack healthy?"
    assert sender.processed > 0, "no polled message reached PROCESSED: is deliver running?"
