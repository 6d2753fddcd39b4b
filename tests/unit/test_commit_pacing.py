"""Offset commits paced by `POSTINO_KAFKA_COMMIT_INTERVAL_MS`: after a batch, a commit
goes at most once per interval; what waits goes with the next commit, an idle poll or
the stop, so nothing handled stays uncommitted once the loop is idle or gone."""

from __future__ import annotations

from tests.unit.test_runner import TP, FakeConsumer, FakePublisher, _record, _runner, echo


def _more(consumer: FakeConsumer, first: int, values: list[bytes]) -> None:
    consumer.pending = [_record(first + i, v) for i, v in enumerate(values)]
    consumer.end = first + len(values)


async def test_batches_within_the_interval_share_one_commit_and_an_idle_poll_sends_it() -> None:
    consumer = FakeConsumer([b"a", b"b"])
    runner = _runner(consumer, FakePublisher(consumer), echo, commit_interval=3600.0)
    assert await runner.poll_once(timeout_ms=0) == 2
    assert consumer.commits == [{TP: 2}]  # the first batch commits at once
    _more(consumer, 2, [b"c"])
    assert await runner.poll_once(timeout_ms=0) == 1
    _more(consumer, 3, [b"d", b"e"])
    assert await runner.poll_once(timeout_ms=0) == 2
    assert consumer.commits == [{TP: 2}]  # within the interval: waiting
    assert await runner.poll_once(timeout_ms=0) == 0  # idle
    assert consumer.commits == [{TP: 2}, {TP: 5}]
    assert await runner.poll_once(timeout_ms=0) == 0
    assert consumer.commits == [{TP: 2}, {TP: 5}]  # nothing moved: no request


async def test_the_stop_commits_what_waited_for_the_interval() -> None:
    consumer = FakeConsumer([b"a"])
    runner = _runner(consumer, FakePublisher(consumer), echo, commit_interval=3600.0)
    await runner.start()
    await runner.poll_once(timeout_ms=0)
    _more(consumer, 1, [b"b", b"c"])
    await runner.poll_once(timeout_ms=0)
    assert consumer.commits == [{TP: 1}]
    await runner.stop()
    assert consumer.commits == [{TP: 1}, {TP: 3}]


async def test_without_an_interval_every_batch_commits() -> None:
    consumer = FakeConsumer([b"a"])
    runner = _runner(consumer, FakePublisher(consumer), echo)
    await runner.poll_once(timeout_ms=0)
    _more(consumer, 1, [b"b"])
    await runner.poll_once(timeout_ms=0)
    assert consumer.commits == [{TP: 1}, {TP: 2}]
