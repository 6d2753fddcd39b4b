"""What one phase cost: CPU of every process (ours and the stack's) and Kafka requests of
ours, read before and after the phase and reported per message."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devkit.bench import kafkacount, procs


@dataclass
class Meter:
    """`ours`: name -> (pid, Kafka counts file); `stack`: the broker's and PostgreSQL's
    pids; `outside`: processes standing in for the world (sinks), reported apart and not
    in the total."""

    ours: dict[str, tuple[int, Path]]
    stack: dict[str, list[int]]
    outside: dict[str, list[int]] = field(default_factory=dict)
    _outside0: dict[str, float] = field(default_factory=dict)
    _cpu0: dict[str, float] = field(default_factory=dict)
    _stack0: dict[str, float] = field(default_factory=dict)
    _counts0: dict[str, dict[str, int]] = field(default_factory=dict)

    def start(self) -> None:
        self._cpu0 = {name: procs.cpu_seconds(pid) for name, (pid, _) in self.ours.items()}
        self._stack0 = procs.group_cpu(self.stack)
        self._outside0 = procs.group_cpu(self.outside)
        self._counts0 = {name: kafkacount.read(path) for name, (_, path) in self.ours.items()}

    def figures(self, messages: int) -> dict[str, Any]:
        """CPU seconds per process, then per message (us), and Kafka requests per message."""
        cpu = {
            name: procs.cpu_seconds(pid) - self._cpu0[name] for name, (pid, _) in self.ours.items()
        }
        stack = {k: v - self._stack0[k] for k, v in procs.group_cpu(self.stack).items()}
        requests = {
            name: kafkacount.delta(kafkacount.read(path), self._counts0[name])
            for name, (_, path) in self.ours.items()
        }
        outside = {k: v - self._outside0[k] for k, v in procs.group_cpu(self.outside).items()}
        n = max(messages, 1)
        every = {**cpu, **stack}
        return {
            "sut_cpu_seconds": {k: round(v, 2) for k, v in cpu.items()},
            "stack_cpu_seconds": {k: round(v, 2) for k, v in stack.items()},
            "cpu_us_per_message": {k: round(v / n * 1e6, 1) for k, v in every.items()},
            "cpu_us_per_message_total": round(sum(every.values()) / n * 1e6, 1),
            "outside_cpu_us_per_message": {k: round(v / n * 1e6, 1) for k, v in outside.items()},
            "kafka_requests": requests,
            "kafka_requests_per_message": {
                name: kafkacount.per_message(counts, messages) for name, counts in requests.items()
            },
        }
