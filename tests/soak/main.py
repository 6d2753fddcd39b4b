"""`make soak`: the full pipeline on Apache Kafka at a steady rate, sampled every 10 s.

`python -m tests.soak.main [--rate 300] [--minutes 60] [--warmup-minutes 5] [--out
var/soak]` (or `SOAK_RATE`, `SOAK_MINUTES`, `SOAK_WARMUP_MINUTES`). The warm-up is
scaled down for short runs (at most a quarter of the run). Writes `soak.json` (every
sample, the checks) and one PNG per trend into the output folder; prints the checks
and ends with one line, `N passed, M failed` (exit status 0 only when nothing failed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import asyncpg

from tests.soak import charts, verdict
from tests.soak.load import Ledger, Load
from tests.soak.sample import Sample, Sampler
from tests.soak.stack import soak_stack
from worker.settings import load_settings

INTERVAL = 10.0
#: After the load, how long the backlog may take to clear (while it still shrinks).
DRAIN_SECONDS = 300.0

STUCK_SQL = """
SELECT count(*) FROM messages m
WHERE m.status <> 'PROCESSED'
   OR (SELECT count(*) FROM notifications n
       WHERE n.message_id = m.id AND n.kind = 'MESSAGE' AND n.status = 'SENT') < 2
"""


async def _sampling(
    sampler: Sampler, conn: asyncpg.Connection, samples: list[Sample], done: asyncio.Event
) -> None:
    while not done.is_set():
        began = time.monotonic()
        samples.append(await sampler.sample(conn))
        last = samples[-1]
        print(
            f"  {last.t / 60:5.1f} min: accepted {last.accepted}, processed {last.processed},"
            f" pushed {last.pushed}, lag {sum(last.lag.values())},"
            f" p99 processed {last.processed_p99} s, push {last.push_p99} s",
            flush=True,
        )
        await asyncio.sleep(max(INTERVAL - (time.monotonic() - began), 0.5))


async def _drain(ledger: Ledger, deadline: float) -> None:
    best, moved = None, time.time()
    while time.time() < deadline and time.time() - moved < 60.0:
        owed = len(ledger.unprocessed) + len(ledger.unpushed) + len(ledger.unmailed)
        if not owed:
            return
        if best is None or owed < best:
            best, moved = owed, time.time()
        await asyncio.sleep(INTERVAL)


async def soak(rate: float, minutes: float, warmup: float, out: Path) -> list[verdict.Check]:
    ledger = Ledger()
    samples: list[Sample] = []
    async with soak_stack() as stack:
        settings = load_settings(stack.env)
        conn = await asyncpg.connect(stack.url)
        try:
            sampler = Sampler(stack, settings, ledger)
            done = asyncio.Event()
            sampling = asyncio.create_task(_sampling(sampler, conn, samples, done))
            await Load(stack, rate, ledger).run(minutes * 60)
            await _drain(ledger, time.time() + DRAIN_SECONDS)
            await asyncio.sleep(INTERVAL)
            done.set()
            await sampling
            stuck = int(await conn.fetchval(STUCK_SQL))
        finally:
            await conn.close()
    await asyncio.to_thread(_tidy, stack.folder)
    found = verdict.checks(
        [s for s in samples if s.t <= minutes * 60],
        warmup,
        rate,
        offered=ledger.offered,
        accepted=ledger.accepted,
        lost=len(ledger.unprocessed),
        stuck=stuck,
        missing=(len(ledger.unpushed), len(ledger.unmailed)),
    )
    paths = charts.draw(samples, out, warmup)
    _write(
        out / "soak.json",
        rate=rate,
        minutes=minutes,
        warmup=warmup,
        ledger=ledger,
        samples=samples,
        found=found,
        paths=paths,
    )
    return found


def _tidy(folder: Path) -> None:
    """Drop the run's data (the database, the broker's logs, the arrivals' journal:
    gigabytes after an hour), keep the roles' logs for a look."""
    for entry in folder.iterdir():
        if entry.name != "logs":
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
    print(f"  role logs: {folder / 'logs'}", flush=True)


def _write(
    path: Path,
    *,
    rate: float,
    minutes: float,
    warmup: float,
    ledger: Ledger,
    samples: list[Sample],
    found: list[verdict.Check],
    paths: list[Path],
) -> None:
    document: dict[str, Any] = {
        "rate": rate,
        "minutes": minutes,
        "warmup_seconds": warmup,
        "interval_seconds": INTERVAL,
        "offered": ledger.offered,
        "accepted": ledger.accepted,
        "payments_published": ledger.payments,
        "lost": len(ledger.unprocessed),
        "missing_pushes": len(ledger.unpushed),
        "missing_mails": len(ledger.unmailed),
        "checks": [asdict(c) for c in found],
        "charts": [str(p) for p in paths],
        "samples": [asdict(s) for s in samples],
    }
    path.write_text(json.dumps(document, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="soak", description=__doc__)
    parser.add_argument("--rate", type=float, default=float(env("SOAK_RATE", "300")))
    parser.add_argument("--minutes", type=float, default=float(env("SOAK_MINUTES", "60")))
    parser.add_argument(
        "--warmup-minutes", type=float, default=float(env("SOAK_WARMUP_MINUTES", "5"))
    )
    parser.add_argument("--out", type=Path, default=Path("var/soak"))
    args = parser.parse_args(argv)
    warmup = min(args.warmup_minutes, args.minutes / 4) * 60
    print(f"soak: {args.rate:g} msg/s for {args.minutes:g} min, warm-up {warmup:.0f} s")
    # SIGTERM as Ctrl-C: the run is cancelled and stops everything it started
    # (PostgreSQL's postmaster would otherwise outlive it).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    found = asyncio.run(soak(args.rate, args.minutes, warmup, args.out))
    for check in found:
        print(f"  {'PASS' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    print(f"soak.json and charts in {args.out}")
    good = sum(1 for c in found if c.ok)
    print(f"{good} passed, {len(found) - good} failed")
    return 0 if good == len(found) else 1


if __name__ == "__main__":
    sys.exit(main())
