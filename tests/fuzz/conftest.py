"""The fuzz tests log errors only: thousands of refused cases would otherwise print a
warning each (dead letters, refused requests), slowing the run and hiding the tables."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from worker import logs


@pytest.fixture(autouse=True)
def quiet_logs() -> Iterator[None]:
    logs.configure("error", "console")
    try:
        yield
    finally:
        logs.configure("warning", "console")
