"""The bench's broker probe on the session's broker: it fills one partition to each size
with one-record batches and reads the broker's CPU per fetch of its tail."""

from __future__ import annotations

from devkit.bench import broker
from devkit.brokers import Services


async def test_fetch_cost_is_reported_for_each_partition_length(services: Services) -> None:
    bootstrap = services.broker.bootstrap
    assert services.broker.pid is not None
    pids = [services.broker.pid]
    found = await broker.fetch_cost(bootstrap, "bench-probe.fetch", pids, sizes=(5, 40))
    costs = found["fetch_ms_by_batches"]
    assert list(costs) == ["5", "40"]
    assert all(ms >= 0 for ms in costs.values())
    assert found["us_per_batch"] == round((costs["40"] - costs["5"]) * 1000 / 35, 2)
