"""What each embedded broker costs under `postino dev`: time to the banner, the broker's
resident memory, and the idle CPU of the broker and of Postino beside it.

    python -m devkit.broker_footprint [kafka memory durable] [--idle 30]

Each kind runs `postino dev` in a fresh data dir, waits for its banner, lets it settle,
then samples the processes' CPU time over `--idle` seconds with no traffic, and stops it.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from devkit.process import free_port

_TICKS = os.sysconf("SC_CLK_TCK")
_BANNER = "Postino is running"


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _broker_pids(dev: int) -> list[int]:
    """The broker's processes: java, or tansu and its S3 store (not PostgreSQL)."""
    pids = []
    for child in _children(dev):
        argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        name = Path(argv[0].decode()).name
        if name == "java" or "tansu" in name or "calfkit" in name or name == "weed":
            pids.append(child)
    return pids


def measure(kind: str, idle: float) -> dict[str, float | str]:
    data = Path(tempfile.mkdtemp(prefix=f"footprint-{kind}-"))
    env = {
        **os.environ,
        "POSTINO_EMBEDDED_BROKER": kind,
        "POSTINO_DATA_DIR": str(data),
        "POSTINO_HTTP_PORT": str(free_port()),
        "POSTINO_OPS_PORT": str(free_port()),
        "POSTINO_LOG_LEVEL": "warning",
    }
    postino = str(Path(sys.executable).parent / "postino")
    started = time.monotonic()
    dev = subprocess.Popen(  # noqa: S603 - our own command
        [postino, "dev"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        for line in dev.stdout or ():
            if _BANNER in line:
                break
        ready = time.monotonic() - started
        time.sleep(10)  # JIT, first group joins and metadata refreshes settle
        brokers = _broker_pids(dev.pid)
        before = {pid: _cpu_seconds(pid) for pid in [dev.pid, *brokers]}
        time.sleep(idle)
        after = {pid: _cpu_seconds(pid) for pid in before}
        broker_cpu = sum(after[p] - before[p] for p in brokers) / idle
        return {
            "broker": kind,
            "banner_seconds": round(ready, 1),
            "broker_rss_mib": round(sum(_rss_mib(p) for p in brokers)),
            "broker_idle_cpu_pct": round(100 * broker_cpu, 1),
            "postino_idle_cpu_pct": round(100 * (after[dev.pid] - before[dev.pid]) / idle, 1),
        }
    finally:
        dev.send_signal(signal.SIGINT)
        dev.wait(60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kinds", nargs="*", default=["kafka", "memory", "durable"])
    parser.add_argument("--idle", type=float, default=30.0)
    args = parser.parse_args()
    for kind in args.kinds:
        print(measure(kind, args.idle), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
