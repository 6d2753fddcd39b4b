"""The embedded Apache Kafka: a real round trip once ready, records kept across a clean
restart and a kill -9, and nothing left running after stop."""

from __future__ import annotations

import os

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from devkit.kafka import KafkaBroker
from devkit.kafka_dist import java_available
from devkit.kafka_probe import metadata_brokers
from tests.conftest import session_broker

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> KafkaBroker:
    if session_broker().kind != "kafka":
        pytest.skip(f"Apache Kafka is not this session's broker: {java_available()}")
    return KafkaBroker(tmp_path_factory.mktemp("own-kafka"), heap_mb=256)


async def _produce(bootstrap: str, topic: str, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value)
    finally:
        await producer.stop()


async def _read_all(bootstrap: str, topic: str, count: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        values: list[bytes] = []
        while len(values) < count:
            batch = await consumer.getmany(timeout_ms=1000)
            values += [r.value for records in batch.values() for r in records if r.value]
        return values
    finally:
        await consumer.stop()


async def test_records_survive_a_clean_restart_and_a_kill(broker: KafkaBroker) -> None:
    with broker:
        assert metadata_brokers(broker.port) == 1
        await _produce(broker.bootstrap, "kept", b"before restart")
        broker.restart()
        await _produce(broker.bootstrap, "kept", b"before kill")
        pid = broker.pid
        broker.kill()
        assert pid is not None
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # gone, and reaped
        broker.start()
        assert await _read_all(broker.bootstrap, "kept", 2) == [b"before restart", b"before kill"]
        pid = broker.pid
    assert broker.pid is None
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
