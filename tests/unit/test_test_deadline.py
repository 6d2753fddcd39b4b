"""The suite's own deadline for async tests (tests/conftest.py): a stalled test fails
by itself, with what every task was awaiting, instead of waiting on."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import _with_deadline


async def test_a_stalled_async_test_fails_with_every_task_s_await_chain(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def stalled_on_a_reply() -> None:
        await asyncio.Event().wait()

    with pytest.raises(pytest.fail.Exception, match="still waiting after 1 s"):
        await _with_deadline(stalled_on_a_reply, 0.6)()
    stacks = capsys.readouterr().err
    assert "stalled_on_a_reply" in stacks
    assert "locks.py" in stacks  # down to the Event it waited on


async def test_a_test_within_its_deadline_returns_its_value() -> None:
    async def quick(value: int) -> int:
        return value

    assert await _with_deadline(quick, 5.0)(value=7) == 7
