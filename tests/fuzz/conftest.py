"""The fuzz tests log errors only: thousands of refused cases would otherwise print a
warning each (dead letters, refused requests), slowing the run and hiding the tables."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fuzz.loops import Traced
from worker import logs, tracing


@pytest.fixture(autouse=True)
def quiet_logs() -> Iterator[None]:
    logs.configure("error", "console")
    try:
        yield
    finally:
        logs.configure("warning", "console")


@pytest.fixture
def traced() -> Iterator[Traced]:
    """Tracing on, in process, for the whole test: spans counted, none kept."""
    exporter = Traced()
    tracing.configure("fuzz", "test", exporter=exporter)
    try:
        yield exporter
    finally:
        tracing.shutdown()
