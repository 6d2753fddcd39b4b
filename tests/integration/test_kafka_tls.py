"""Postino over TLS: a broker reachable only through a TLS-terminating proxy that
requires a client certificate. Topics are created, the ingress produces and deliver
consumes, all through the proxy (the broker advertises the proxy's address)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from devkit.embedded import EmbeddedBroker, free_port
from tests.conftest import eventually
from tests.factories import create_profile, create_service, message_body
from tests.integration.helpers import drain
from tests.tls import Certificates, TlsProxy, make_certificates
from worker.adapters import kafka
from worker.bootstrap import open_runtime
from worker.ingress.app import create_app, reload_services
from worker.lifecycle import prepare
from worker.settings import Settings, load_settings

CITIZEN = "RSSMRA80A01H501U"


@pytest.fixture
async def tls_broker(tmp_path: Path) -> AsyncIterator[tuple[str, Certificates, TlsProxy]]:
    certs = make_certificates(tmp_path / "certs")
    proxy_port = free_port()
    broker = EmbeddedBroker(tmp_path / "broker", advertised_port=proxy_port)
    broker.start()
    proxy = TlsProxy(certs, ("127.0.0.1", broker.port), proxy_port)
    await proxy.start()
    try:
        yield f"127.0.0.1:{proxy_port}", certs, proxy
    finally:
        await proxy.stop()
        broker.stop()


def tls_settings(base: Settings, bootstrap: str, certs: Certificates) -> Settings:
    security = load_settings(
        {
            "POSTINO_KAFKA_SECURITY_PROTOCOL": "SSL",
            "POSTINO_KAFKA_SSL_CA_FILE": str(certs.ca),
            "POSTINO_KAFKA_SSL_CERT_FILE": str(certs.client_cert),
            "POSTINO_KAFKA_SSL_KEY_FILE": str(certs.client_key),
            "POSTINO_KAFKA_SSL_KEY_PASSWORD": certs.client_key_password,
        }
    ).kafka
    kafka = replace(
        security,
        bootstrap=bootstrap,
        topic_prefix="tls.",
        assignment=base.kafka.assignment,
        partitions=base.kafka.partitions,
        fetch_max_wait_ms=base.kafka.fetch_max_wait_ms,
    )
    return replace(base, kafka=kafka)


async def test_a_role_produces_and_consumes_over_tls_with_a_client_certificate(
    settings: Settings, tls_broker: tuple[str, Certificates, TlsProxy]
) -> None:
    bootstrap, certs, proxy = tls_broker
    over_tls = tls_settings(settings, bootstrap, certs)
    await prepare(over_tls)  # topics created by an admin client over TLS
    async with open_runtime(over_tls, "ingress") as runtime:
        await runtime.pool.execute("TRUNCATE services, profiles, messages CASCADE")
        _, key = await create_service(runtime)
        await create_profile(runtime, CITIZEN)
        async with TestClient(TestServer(create_app(runtime))) as client:
            await reload_services(client.app)
            resp = await client.post(
                "/api/v1/messages",
                json=message_body(CITIZEN),
                headers={"Ocp-Apim-Subscription-Key": key},
            )
            assert resp.status == 201, await resp.text()  # acked by the broker over TLS

            async def delivered() -> str:
                await drain(runtime)  # deliver consumes over TLS (the first fetch may be slow)
                status = await client.get(
                    resp.headers["Location"], headers={"Ocp-Apim-Subscription-Key": key}
                )
                return str((await status.json())["status"])

            await eventually(delivered, lambda status: status == "PROCESSED", timeout=60)
    assert proxy.handshakes >= 3  # admin, producer, consumer: each through the proxy


async def test_a_plaintext_client_is_refused_by_the_tls_listener(
    settings: Settings, tls_broker: tuple[str, Certificates, TlsProxy]
) -> None:
    bootstrap, certs, _ = tls_broker
    over_tls = tls_settings(settings, bootstrap, certs)
    plain = replace(over_tls, kafka=replace(over_tls.kafka, security_protocol="PLAINTEXT"))
    with pytest.raises(Exception, match="not reachable"):
        await kafka.wait_for_broker(plain.kafka, bootstrap, timeout=1.0)
