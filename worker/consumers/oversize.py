"""A batch whose output the broker will never take (a record over its size limit).

Publishing the same bytes again cannot succeed, so the loop would wait for ever. The
batch is redone one record at a time instead (as after a crash: handlers are
idempotent), so that only the record whose own output cannot be published goes to its
DLQ, `output_too_large`; a dead letter too large for its DLQ goes there as a stub
without its bytes (the original stays in its source topic until its retention).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from worker import logs
from worker.core.batch import DeadLetter
from worker.core.errors import UnpublishableError
from worker.core.records import Record

log = logs.get("postino.consumer")

Handle = Callable[[list[Record], Sequence[DeadLetter]], Awaitable[None]]


async def split(
    role: str,
    records: list[Record],
    refused: Sequence[DeadLetter],
    dead: Sequence[DeadLetter],
    error: str,
    *,
    handle: Handle,
    stub: Callable[[DeadLetter], Awaitable[None]],
) -> None:
    """Redo `records` and the `refused` dead letters one at a time through `handle`
    (which comes back here if one alone is still unpublishable). Alone, a record with
    dead letters (`dead`: the batch's, refused ones included) sends them as stubs: it
    is their full copy that is too large; a record without goes to its DLQ."""
    log.warning("output_unpublishable", role=role, size=len(records), error=error)
    if len(records) + len(refused) <= 1 and dead:
        for one in dead:
            try:
                await stub(one)
            except UnpublishableError:  # a DLQ whose limit is below a few headers
                log.error("dead_letter_unpublishable", role=role, topic=one.record.topic)
        return
    if len(records) == 1 and not refused:
        await handle([], [DeadLetter(records[0], "output_too_large", error)])
        return
    for one in refused:
        await handle([], [one])
    for record in records:
        await handle([record], ())
