"""Whether this process reaches what it depends on: its database and its broker.

One `Readiness` per process, created before anything connects and handed to
`open_runtime`, which sets each flag once the dependency answers. Readiness probes
(`/readyz` on the ops listener) read it; while a dependency is unreachable at start
the process is alive, waiting, and not ready.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Readiness:
    database: bool = False
    broker: bool = False

    @property
    def ready(self) -> bool:
        return self.database and self.broker

    def checks(self) -> dict[str, str]:
        """Per dependency: "ok" or "waiting" (what a probe reports)."""
        return {
            "database": "ok" if self.database else "waiting",
            "broker": "ok" if self.broker else "waiting",
        }
