"""The attempts journal on the real PostgreSQL: entries go in by COPY, and a redone
batch (ids already stored) leaves each id once, as the console reads it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from worker.adapters.console_repo import add_attempts, message_story
from worker.bootstrap import Runtime
from worker.services.attempts import Attempt

MESSAGE = "01J0000000000000000000000A"


def _attempt(n: int, at: datetime) -> Attempt:
    return Attempt(
        f"n:{MESSAGE}-push-message:{n}:THROTTLED",
        MESSAGE,
        at + timedelta(seconds=n),
        "notification",
        "PUSH",
        n,
        "THROTTLED",
        detail="push gateway answered 503",
    )


async def test_a_redone_batch_leaves_each_attempt_once(runtime: Runtime) -> None:
    now = datetime.now(UTC)
    await add_attempts(runtime.pool, [_attempt(1, now), _attempt(2, now)])

    await add_attempts(runtime.pool, [_attempt(2, now), _attempt(3, now)])  # 2 redone

    story = await message_story(runtime.pool, MESSAGE)
    assert [a["attempt"] for a in story["attempts"]] == [1, 2, 3]
    assert story["attempts"][0]["detail"] == "push gateway answered 503"
    count = await runtime.pool.fetchval("SELECT count(*) FROM delivery_attempts")
    assert count == 3
