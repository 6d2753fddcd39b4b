"""Fixtures of the integration tests that only a real Apache Kafka can answer."""

from __future__ import annotations

import pytest

from tests.conftest import _broker_name, session_broker


@pytest.fixture
def apache_kafka() -> None:
    """This test needs the session's broker to be Apache Kafka (admin operations,
    retention, idempotence, group rebalances, librdkafka clients): skipped, with the
    reason, on the embedded Tansu (`POSTINO_TEST_BROKER=tansu`, or no Java here)."""
    choice = session_broker()
    if choice.kind != "kafka":
        why = choice.kafka_skipped or f"POSTINO_TEST_BROKER={_broker_name()}"
        pytest.skip(f"needs Apache Kafka, the session runs on {choice.label}: {why}")
