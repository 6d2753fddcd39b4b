"""`call_with_retry`: one call tried at most `attempts` times, again only on a
transient failure (the first try runs before any retry state is built)."""

from __future__ import annotations

import pytest

from worker.core.errors import PermanentError, RetryableError
from worker.services.retry import call_with_retry


class Flaky:
    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


async def test_a_call_that_succeeds_is_made_once() -> None:
    call = Flaky()
    assert await call_with_retry(call, 3) == "ok"
    assert call.calls == 1


async def test_a_transient_failure_is_tried_again_up_to_the_attempts() -> None:
    call = Flaky(RetryableError("503"), RetryableError("503"))
    assert await call_with_retry(call, 3) == "ok"
    assert call.calls == 3


async def test_the_last_transient_failure_is_raised_when_the_attempts_are_spent() -> None:
    call = Flaky(RetryableError("first"), RetryableError("second"), RetryableError("third"))
    with pytest.raises(RetryableError, match="second"):
        await call_with_retry(call, 2)
    assert call.calls == 2


async def test_one_attempt_means_no_retry() -> None:
    call = Flaky(RetryableError("503"))
    with pytest.raises(RetryableError):
        await call_with_retry(call, 1)
    assert call.calls == 1


async def test_a_permanent_failure_is_never_tried_again() -> None:
    call = Flaky(RetryableError("503"), PermanentError("400"))
    with pytest.raises(PermanentError):
        await call_with_retry(call, 5)
    assert call.calls == 2
