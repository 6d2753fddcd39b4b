"""Postino on an Apache Kafka that authenticates: the whole flow (topics, the ingress
producing, deliver consuming) over a SASL_SSL listener with SCRAM-SHA-512 and over a
mutual-TLS listener; and a wrong password, an unknown CA and an expired client
certificate each stop the role at start with one error naming the setting to fix,
instead of retrying for ever."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.conftest import eventually, session_broker
from tests.factories import create_profile, create_service, message_body
from tests.integration.helpers import drain
from tests.integration.secure_kafka import PASSWORD, USER, SecureKafka, secure_kafka
from tests.tls import expired_client_certificate, make_certificates
from worker.adapters.kafka_security import KafkaRefused
from worker.bootstrap import open_runtime
from worker.ingress.app import create_app, reload_services
from worker.lifecycle import prepare
from worker.settings import Settings, load_settings

pytestmark = pytest.mark.usefixtures("apache_kafka")
CITIZEN = "RSSMRA80A01H501U"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureKafka]:
    if session_broker().kind != "kafka":
        pytest.skip("needs Apache Kafka")
    with secure_kafka(tmp_path_factory.mktemp("secure-kafka")) as found:
        yield found


def sasl_env(kafka: SecureKafka, **overrides: str) -> dict[str, str]:
    return {
        "POSTINO_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "POSTINO_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "POSTINO_KAFKA_SASL_USERNAME": USER,
        "POSTINO_KAFKA_SASL_PASSWORD": PASSWORD,
        "POSTINO_KAFKA_SSL_CA_FILE": str(kafka.certs.ca),
        **overrides,
    }


def mtls_env(kafka: SecureKafka, **overrides: str) -> dict[str, str]:
    certs = kafka.certs
    return {
        "POSTINO_KAFKA_SECURITY_PROTOCOL": "SSL",
        "POSTINO_KAFKA_SSL_CA_FILE": str(certs.ca),
        "POSTINO_KAFKA_SSL_CERT_FILE": str(certs.client_cert),
        "POSTINO_KAFKA_SSL_KEY_FILE": str(certs.client_key),
        "POSTINO_KAFKA_SSL_KEY_PASSWORD": certs.client_key_password,
        **overrides,
    }


def secured_settings(base: Settings, bootstrap: str, env: dict[str, str], prefix: str) -> Settings:
    security = load_settings(env).kafka
    kafka = replace(
        security,
        bootstrap=bootstrap,
        topic_prefix=prefix,
        assignment=base.kafka.assignment,
        partitions=base.kafka.partitions,
    )
    return replace(base, kafka=kafka)


@pytest.mark.parametrize("listener", ["sasl_ssl", "mtls"])
async def test_the_whole_flow_runs_over_an_authenticated_listener(
    settings: Settings, secured: SecureKafka, listener: str
) -> None:
    env = sasl_env(secured) if listener == "sasl_ssl" else mtls_env(secured)
    bootstrap = secured.sasl_ssl if listener == "sasl_ssl" else secured.mtls
    over = secured_settings(settings, bootstrap, env, f"{listener}.")
    await prepare(over)  # topics created by an admin client over the listener
    async with open_runtime(over, "ingress") as runtime:
        await runtime.pool.execute("TRUNCATE services, profiles, messages CASCADE")
        _, key = await create_service(runtime)
        await create_profile(runtime, CITIZEN)
        async with TestClient(TestServer(create_app(runtime))) as client:
            await reload_services(client.app)
            headers = {"Ocp-Apim-Subscription-Key": key}
            resp = await client.post(
                "/api/v1/messages", json=message_body(CITIZEN), headers=headers
            )
            assert resp.status == 201, await resp.text()

            async def delivered() -> str:
                await drain(runtime)
                status = await client.get(resp.headers["Location"], headers=headers)
                return str((await status.json())["status"])

            await eventually(delivered, lambda status: status == "PROCESSED", timeout=60)


async def refused_at_start(settings: Settings) -> KafkaRefused:
    with pytest.raises(KafkaRefused) as refused:
        async with open_runtime(settings, "deliver"):
            pass
    return refused.value


async def test_a_wrong_password_stops_the_role_naming_the_credentials(
    settings: Settings, secured: SecureKafka
) -> None:
    env = sasl_env(secured, POSTINO_KAFKA_SASL_PASSWORD="not-the-password")
    refused = await refused_at_start(secured_settings(settings, secured.sasl_ssl, env, "x."))
    assert "POSTINO_KAFKA_SASL_PASSWORD" in str(refused)
    assert "SCRAM-SHA-512" in str(refused)


async def test_an_unknown_ca_stops_the_role_naming_the_ca_file(
    settings: Settings, secured: SecureKafka, tmp_path: Path
) -> None:
    other = make_certificates(tmp_path / "other")
    env = sasl_env(secured, POSTINO_KAFKA_SSL_CA_FILE=str(other.ca))
    refused = await refused_at_start(secured_settings(settings, secured.sasl_ssl, env, "x."))
    assert f"POSTINO_KAFKA_SSL_CA_FILE ({other.ca})" in str(refused)
    assert "certificate" in str(refused)


async def test_an_expired_client_certificate_stops_the_role_naming_it(
    settings: Settings, secured: SecureKafka, tmp_path: Path
) -> None:
    cert, key = expired_client_certificate(secured.certs, tmp_path)
    env = mtls_env(
        secured,
        POSTINO_KAFKA_SSL_CERT_FILE=str(cert),
        POSTINO_KAFKA_SSL_KEY_FILE=str(key),
        POSTINO_KAFKA_SSL_KEY_PASSWORD="",
    )
    refused = await refused_at_start(secured_settings(settings, secured.mtls, env, "x."))
    assert f"POSTINO_KAFKA_SSL_CERT_FILE ({cert})" in str(refused)
    assert "expired" in str(refused)
