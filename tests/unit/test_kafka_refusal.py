"""Only the broker's refusals of this client's security settings stop a role at start;
a broker that is not there (yet) is no refusal, and is waited for."""

from __future__ import annotations

import socket

from worker.adapters.kafka_security import refusal
from worker.settings import load_settings


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_broker_that_is_not_listening_is_no_refusal() -> None:
    for env in (
        {},
        {"POSTINO_KAFKA_SECURITY_PROTOCOL": "SSL"},
        {
            "POSTINO_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "POSTINO_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "POSTINO_KAFKA_SASL_USERNAME": "u",
            "POSTINO_KAFKA_SASL_PASSWORD": "p",
        },
    ):
        assert await refusal(load_settings(env).kafka, f"127.0.0.1:{_closed_port()}") is None
