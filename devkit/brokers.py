"""Which embedded broker to start: Apache Kafka (`devkit.kafka`, needs Java 17) or Tansu
(`devkit.embedded.EmbeddedBroker`, in memory or durable), one interface for both.

Kinds: `kafka`, `memory` (Tansu in memory), `durable` (Tansu on a local S3 store), and
`auto`: Kafka when this machine can run it, else Tansu in memory, with the reason.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from devkit.embedded import EmbeddedBroker, EmbeddedPostgres
from devkit.kafka import KafkaBroker
from devkit.kafka_dist import java_available

BROKER_KINDS = ("auto", "kafka", "memory", "durable")


class Broker(Protocol):
    """What the embedded brokers have in common (start, stop, crash, where to connect)."""

    @property
    def bootstrap(self) -> str: ...

    @property
    def fetch_max_wait_ms(self) -> int | None: ...

    @property
    def pid(self) -> int | None: ...

    def start(self) -> str: ...

    def stop(self) -> None: ...

    def kill(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Choice:
    """The broker kind to start, and why Kafka was passed over (None: it was not)."""

    kind: str
    kafka_skipped: str | None = None

    @property
    def label(self) -> str:
        return {"kafka": "Apache Kafka", "memory": "Tansu (in memory)"}.get(
            self.kind, "Tansu (durable)"
        )


def choose(kind: str) -> Choice:
    """Resolve `auto`; any other kind is taken as it is (`kafka` fails later, at start,
    with the reason, if Java is missing)."""
    if kind not in BROKER_KINDS:
        raise ValueError(f"broker kind must be one of {BROKER_KINDS}, not {kind!r}")
    if kind != "auto":
        return Choice(kind)
    reason = java_available()
    return Choice("memory", reason) if reason is not None else Choice("kafka")


def make_broker(kind: str, data_dir: Path) -> Broker:
    """An unstarted broker of `kind` (`auto` resolved) keeping its files under `data_dir`."""
    choice = choose(kind)
    if choice.kind == "kafka":
        return KafkaBroker(data_dir)
    return EmbeddedBroker(data_dir, storage=choice.kind)


@dataclass(frozen=True, slots=True)
class Services:
    """A started embedded PostgreSQL and broker."""

    url: str
    broker: Broker
    choice: Choice


@contextlib.contextmanager
def embedded_services(data_dir: Path, kind: str = "memory") -> Iterator[Services]:
    """Start PostgreSQL and a broker of `kind`; stop both on exit."""
    choice = choose(kind)
    pg = EmbeddedPostgres(data_dir)
    broker = make_broker(choice.kind, data_dir)
    try:
        url = pg.start()
        broker.start()
        yield Services(url, broker, choice)
    finally:
        broker.stop()
        pg.stop()


@contextlib.contextmanager
def embedded_stack(data_dir: Path, broker: str = "memory") -> Iterator[tuple[str, str]]:
    """`embedded_services`, yielding (database url, bootstrap)."""
    with embedded_services(data_dir, broker) as services:
        yield services.url, services.broker.bootstrap
