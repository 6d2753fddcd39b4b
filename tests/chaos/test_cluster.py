"""The cluster chaos suite's short variant, part of `make test` where Java runs Apache
Kafka: three brokers, one ingress, deliver, notify and callbacks in consumer groups, a
low rate, and one fault (kill -9 the leader of the busiest `messages.submitted`
partition, back 10 s later). `make chaos-cluster` runs every fault."""

from __future__ import annotations

import pytest

from devkit.kafka_dist import java_available
from tests.chaos.cluster_main import plan
from tests.chaos.cluster_run import run

NO_JAVA = java_available()


@pytest.mark.chaos_short
@pytest.mark.timeout(600)
@pytest.mark.skipif(NO_JAVA is not None, reason=f"the cluster runs on Apache Kafka: {NO_JAVA}")
async def test_killing_the_busiest_leader_of_a_three_broker_cluster_loses_nothing() -> None:
    report = await run(plan(rate=10.0, short=True))
    print("\n" + report.table())
    assert report.passed, report.table()
