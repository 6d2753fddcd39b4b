"""The full pipeline: HTTP submit -> inbox -> push SENT -> callback delivered.

`postino ingress`, `deliver`, `notify` and `callbacks` run as separate processes; the
outside world (push gateway, SMTP server, the sender's callback receiver) is the
`sinks` process. `pipeline_rate` msg/s are offered for `pipeline_seconds`; then the
run waits (up to `SETTLE_SECONDS`) until every processed message of the phase has had
its push and the callback of its push `SENT` event. Latencies count from
`messages.created_at` (set at acceptance) to the arrival at the sink: accept -> push
sent, accept -> callback (`PROCESSED` event and push `SENT` event); what has not
arrived when the wait ends counts as arriving then (`missing`: a lower bound).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from devkit.bench import ingress, loadgen, procs, sinks, workload
from devkit.bench.e2e import profiler, settled
from devkit.bench.harness import Bench
from devkit.bench.meter import Meter
from devkit.bench.stats import Latencies

ROLES = ("ingress", "deliver", "notify", "callbacks")
PUSH_SENT = "notification:PUSH:SENT"
PROCESSED = "message:PROCESSED"
SETTLE_SECONDS = 45.0
CALLBACK_SECRET = "postino-bench-callback-secret"  # noqa: S105 - a local bench receiver


async def _get(url: str) -> Any:
    async with aiohttp.ClientSession() as session, session.get(url) as answer:
        return await answer.json()


async def _wait_counts(url: str, pushes: int, sent_callbacks: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = await _get(url)
        if counts["pushes"] >= pushes and counts["callbacks"].get(PUSH_SENT, 0) >= sent_callbacks:
            return
        await asyncio.sleep(0.25)


async def _phase_messages(bench: Bench, since: datetime, until: datetime) -> dict[str, float]:
    """id -> created_at (epoch seconds) of the phase's PROCESSED messages."""
    rows = await bench.sql(
        "SELECT id, extract(epoch FROM created_at)::float8 AS t FROM messages "
        "WHERE created_at >= $1 AND created_at < $2 AND status = 'PROCESSED'",
        since,
        until,
    )
    return {r["id"]: float(r["t"]) for r in rows}


async def _transactions(bench: Bench) -> int:
    """Transactions PostgreSQL has ended in the bench database so far: one per statement
    sent outside a transaction, one per transaction block (the bench's own few queries
    included)."""
    rows = await bench.sql(
        "SELECT xact_commit + xact_rollback AS n FROM pg_stat_database "
        "WHERE datname = current_database()"
    )
    return int(rows[0]["n"])


async def _rows_written(bench: Bench) -> dict[str, int]:
    """Rows inserted, updated or deleted so far, by table (pg_stat_user_tables)."""
    rows = await bench.sql(
        "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del AS n FROM pg_stat_user_tables"
    )
    return {str(r["relname"]): int(r["n"]) for r in rows}


def _per_message(before: dict[str, int], after: dict[str, int], messages: int) -> dict[str, float]:
    """The tables written during the phase, rows per message (busiest first)."""
    found = {t: (n - before.get(t, 0)) / max(messages, 1) for t, n in after.items()}
    return {t: round(v, 2) for t, v in sorted(found.items(), key=lambda kv: -kv[1]) if v >= 0.01}


async def _callback_attempts(bench: Bench, since: datetime) -> dict[str, int]:
    """The phase's callback attempts by the topic they came from (`messages.status`:
    first attempts; a retry tier: copies, each at least the copy's grace late)."""
    rows = await bench.sql(
        "SELECT coalesce(tier, '-') AS tier, count(*) AS n FROM delivery_attempts "
        "WHERE kind = 'callback' AND at >= $1 GROUP BY 1 ORDER BY 1",
        since,
    )
    return {str(r["tier"]): int(r["n"]) for r in rows}


def _latencies(created: dict[str, float], arrivals: list[list[Any]], gave_up: float) -> Any:
    """First arrival per message of the phase, minus its acceptance. A message that had
    none when the wait gave up counts as arriving then: its figure is a lower bound."""
    first: dict[str, float] = {}
    for message_id, *_, at in arrivals:
        if message_id in created and message_id not in first:
            first[message_id] = at
    found = Latencies()
    for message_id, accepted in created.items():
        found.add(first.get(message_id, gave_up) - accepted)
    missing = len(created) - len(first)
    return {"messages": len(created), "missing": missing, **found.summary_ms()}


async def _run_phase(bench: Bench, port: int, sink: str, meter: Meter, tag: str) -> dict[str, Any]:
    opts = bench.options
    base = await _get(f"{sink}{sinks.COUNTS_PATH}")
    gen = loadgen.LoadGenerator(ingress.HOST, port, ingress.submit_requests(port, opts.citizens))
    since = datetime.now(UTC)
    recorder = profiler(bench, tag, meter)
    busy0 = procs.machine_busy()
    xact0, written0 = await _transactions(bench), await _rows_written(bench)
    meter.start()
    result = await gen.run_open(float(opts.pipeline_rate), opts.pipeline_seconds)
    until = datetime.now(UTC)
    inbox = await settled(bench, since, until, result.ok)
    created = await _phase_messages(bench, since, until)
    await _wait_counts(
        f"{sink}{sinks.COUNTS_PATH}",
        base["pushes"] + len(created),
        base["callbacks"].get(PUSH_SENT, 0) + len(created),
        SETTLE_SECONDS,
    )
    gave_up = time.time()
    costs = meter.figures(inbox["rows"])
    # pg_stat_database is updated when a backend's transaction ends (at most every
    # second for an idle one): read after the wait above, it has settled.
    xacts = await _transactions(bench) - xact0
    written = _per_message(written0, await _rows_written(bench), inbox["rows"])
    busy1 = procs.machine_busy()
    profile = recorder.stop() if recorder else None
    arrivals = await _get(f"{sink}{sinks.ARRIVALS_PATH}")
    callbacks = arrivals["callbacks"]
    return {
        "offered_per_second": opts.pipeline_rate,
        "accepted": result.ok,
        "statuses": {str(k): v for k, v in sorted(result.statuses.items())},
        "submit_latency": result.latencies.summary_ms(),
        "accept_to_processed": inbox,
        "processed_messages": len(created),
        "accept_to_push_sent": _latencies(created, arrivals["pushes"], gave_up),
        "accept_to_callback_processed": _latencies(
            created, [c for c in callbacks if c[1] == PROCESSED], gave_up
        ),
        "accept_to_callback_push_sent": _latencies(
            created, [c for c in callbacks if c[1] == PUSH_SENT], gave_up
        ),
        "callback_attempts_by_topic": await _callback_attempts(bench, since),
        "postgres_transactions_per_message": round(xacts / max(inbox["rows"], 1), 2),
        "postgres_rows_written_per_message": written,
        "mails": arrivals["mails"] - base["mails"],
        **costs,
        "generator_cpu_seconds": round(result.cpu_seconds, 2),
        "machine_busy": round((busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1.0), 3),
        "profile": profile,
    }


def _processes(
    bench: Bench, tag: str, env: dict[str, str], ceiling: bool
) -> dict[str, procs.Service]:
    """Our four roles, or the ceiling's four processes in their places."""
    if not ceiling:
        return {role: bench.role(f"{tag}-{role}", role, env) for role in ROLES}
    return {
        role: bench.process(f"{tag}-{role}", env, "devkit.bench.bare_ingress")
        if role == "ingress"
        else bench.process(f"{tag}-{role}", env, "devkit.bench.bare_pipeline", role)
        for role in ROLES
    }


async def measure(
    bench: Bench,
    tag: str = "full",
    extra_env: dict[str, str] | None = None,
    *,
    ceiling: bool = False,
) -> dict[str, Any]:
    """The phase on fresh processes (`extra_env` added to their settings); `ceiling`:
    on the ceiling's processes (`bare_ingress`, `bare_pipeline`) instead of ours."""
    port, sink_port, smtp_port = bench.port(), bench.port(), bench.port()
    prefix = bench.prefix(tag)
    await bench.settings(prefix)
    await bench.reset_inbox()
    sink = f"http://127.0.0.1:{sink_port}"
    await bench.sql(
        "UPDATE services SET callback_url = $2, callback_secret = $3 WHERE id = $1",
        workload.SERVICE_ID,
        f"{sink}{sinks.CALLBACK_PATH}",
        CALLBACK_SECRET,
    )
    env = bench.env(
        prefix,
        port,
        POSTINO_PUSH_URL=f"{sink}{sinks.PUSH_PATH}",
        POSTINO_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
        POSTINO_CALLBACK_ALLOW_LOOPBACK="true",
        POSTINO_BENCH_CALLBACK_URL=f"{sink}{sinks.CALLBACK_PATH}",
        POSTINO_BENCH_CITIZENS=str(bench.options.citizens),
        **(extra_env or {}),
    )
    sinks_argv = procs.sinks(sink_port, smtp_port)
    sink_proc = procs.Service(f"{tag}-sinks", sinks_argv, env, bench.workdir / "logs")
    try:
        with sink_proc:
            await sink_proc.wait_http("127.0.0.1", sink_port)
            services = _processes(bench, tag, env, ceiling)
            return await _with_roles(bench, tag, services, (port, sink_proc.pid), sink)
    finally:
        await bench.sql(
            "UPDATE services SET callback_url = NULL, callback_secret = NULL WHERE id = $1",
            workload.SERVICE_ID,
        )


async def _with_roles(
    bench: Bench, tag: str, services: dict[str, procs.Service], ports: tuple[int, int], sink: str
) -> dict[str, Any]:
    port, sink_pid = ports
    try:
        for service in services.values():
            service.start()
        await services["ingress"].wait_http(ingress.HOST, port)
        # The warm-up's own messages (the inbox's history is two days old): waited for
        # until pushed and called back.
        warm_since = datetime.now(UTC) - timedelta(seconds=1)
        warm = await loadgen.LoadGenerator(
            ingress.HOST, port, ingress.submit_requests(port, 50)
        ).run_open(100, 1.0)
        await settled(bench, warm_since, datetime.now(UTC), warm.ok)
        warmed = len(await _phase_messages(bench, warm_since, datetime.now(UTC)))
        await _wait_counts(f"{sink}{sinks.COUNTS_PATH}", warmed, warmed, 60)
        ours = {role: (s.pid, bench.counts(f"{tag}-{role}")) for role, s in services.items()}
        meter = Meter(ours, bench.stack_pids(), {"sinks": [sink_pid]})
        phase = await _run_phase(bench, port, sink, meter, tag)
        phase["rss_peak_mb"] = {
            role: round(procs.memory_kb(s.pid) / 1024, 1) for role, s in services.items()
        }
        return phase
    finally:
        for service in services.values():
            service.stop()
