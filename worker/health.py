"""What a process says about itself on the ops listener: alive, and ready.

Liveness comes from heartbeats: every loop that must keep turning (a consumer loop,
a sweeper, the reminders timer) registers a heartbeat with the longest silence it may
keep, and beats each time round. A loop silent for longer than that is *stalled*,
and `/healthz` answers 503 so the orchestrator restarts the process.

Readiness is marked by whoever knows: a component that cannot reach the broker or the
database calls `not_ready("broker", "unreachable")` and `ready("broker")` once it can;
`/readyz` answers 503 while any mark is set (and checks the database and the broker
with the process's own clients). Pure bookkeeping: no I/O, no locks (one event loop).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Heartbeat:
    last: float
    max_silence: float


class Pulse:
    """One loop's heartbeat: `beat()` each time round (the first beat registers the
    loop, so waiting before it starts is no stall), `end()` when it stops on purpose."""

    def __init__(self, health: Health, name: str, max_silence: float) -> None:
        self._health, self.name, self.max_silence = health, name, max_silence

    def beat(self) -> None:
        self._health.beat(self.name, self.max_silence)

    def end(self) -> None:
        self._health.forget(self.name)


@dataclass(slots=True)
class Health:
    clock: Callable[[], float] = time.monotonic
    _beats: dict[str, _Heartbeat] = field(default_factory=dict)
    _marks: dict[str, str] = field(default_factory=dict)

    def pulse(self, name: str, max_silence: float) -> Pulse:
        """The heartbeat of loop `name`, allowed `max_silence` seconds between beats."""
        return Pulse(self, name, max_silence)

    def beat(self, name: str, max_silence: float) -> None:
        self._beats[name] = _Heartbeat(self.clock(), max_silence)

    def forget(self, name: str) -> None:
        """The loop ended on purpose (stopped): its silence is no longer a stall."""
        self._beats.pop(name, None)

    def stalled(self) -> dict[str, float]:
        """Loops silent past their limit -> seconds since their last beat."""
        now = self.clock()
        return {
            name: round(now - beat.last, 1)
            for name, beat in self._beats.items()
            if now - beat.last > beat.max_silence
        }

    def silences(self) -> dict[str, float]:
        """Every loop -> seconds since its last beat."""
        now = self.clock()
        return {name: now - beat.last for name, beat in self._beats.items()}

    def loops(self) -> list[str]:
        return sorted(self._beats)

    def not_ready(self, component: str, reason: str) -> None:
        self._marks[component] = reason

    def ready(self, component: str) -> None:
        self._marks.pop(component, None)

    def blockers(self) -> dict[str, str]:
        """Components that marked themselves not ready -> why."""
        return dict(self._marks)
