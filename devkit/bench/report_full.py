"""The full pipeline beside its ceiling (`bare_pipeline`): the bench's rows.

Both sides run at the same offered rate (open loop), so throughput says nothing: the
ratios are CPU per message (each process, the broker, PostgreSQL, all), which is also
honest where the ceiling shares our producer settings (its ingress lingers as ours).
Latencies are shown side by side, not as ratios.
"""

from __future__ import annotations

from typing import Any

#: The fields of a `report.Row`: figure, value, unit, reference, reference name, target,
#: met (this module builds them; `report` makes the rows, so neither imports the other).
Fields = tuple[Any, ...]


def _row(*fields: Any) -> Fields:
    return fields


#: The issue's target: the full pipeline at most this many times its ceiling's CPU per
#: message, and at most `CPU_BUDGET_US` in all.
CPU_RATIO_TARGET = 2.0
CPU_BUDGET_US = 1800.0


def ceiling_rows(ours: dict[str, Any], ceiling: dict[str, Any]) -> list[Fields]:
    total, ceil_total = ours["cpu_us_per_message_total"], ceiling["cpu_us_per_message_total"]
    met = total <= CPU_RATIO_TARGET * ceil_total and total <= CPU_BUDGET_US
    found = [
        _row("full ceiling CPU/msg, all processes", ceil_total, "us"),
        _row(
            "full CPU/msg vs ceiling (CPU ratio)",
            total,
            "us",
            ceil_total,
            "ceiling CPU/msg",
            f"<= {CPU_RATIO_TARGET:.0f}x, <= {CPU_BUDGET_US:.0f} us",
            met,
        ),
    ]
    ceil_each = ceiling.get("cpu_us_per_message", {})
    for proc, us in ours.get("cpu_us_per_message", {}).items():
        if proc in ceil_each:
            found.append(
                _row(f"full CPU/msg {proc} vs ceiling", us, "us", ceil_each[proc], "ceiling")
            )
    xacts = "postgres_transactions_per_message"
    if xacts in ours and xacts in ceiling:
        found.append(
            _row("full PostgreSQL transactions/msg", ours[xacts], "n", ceiling[xacts], "ceiling")
        )
    ceiling_written = ceiling.get("postgres_rows_written_per_message", {})
    for table, per in ours.get("postgres_rows_written_per_message", {}).items():
        found.append(
            _row(f"full rows written/msg, {table}", per, "n", ceiling_written.get(table), "ceiling")
        )
    for figure, key in (
        ("push", "accept_to_push_sent"),
        ("callback (sent)", "accept_to_callback_push_sent"),
    ):
        found.append(_row(f"full ceiling p99 accept->{figure}", ceiling[key]["p99_ms"], "ms"))
    sent = ours["accept_to_callback_push_sent"]
    found.append(
        _row(
            "full max accept->callback (sent)",
            sent["max_ms"],
            "ms",
            2000.0,
            "target",
            "p99 < 500 ms, max < 2 s",
            sent["p99_ms"] < 500 and sent["max_ms"] < 2000 and sent["missing"] == 0,
        )
    )
    for topic, count in ours.get("callback_attempts_by_topic", {}).items():
        found.append(_row(f"full callback attempts from {topic}", count, "n"))
    return found
