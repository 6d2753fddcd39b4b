"""Every Kafka client is configured by one function from the security settings: each
protocol and mechanism gives aiokafka the options it needs and nothing else."""

from __future__ import annotations

import itertools
import ssl
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from tests.tls import Certificates, make_certificates
from worker.adapters import kafka
from worker.adapters.kafka_client import FileToken, StaticToken, client_options
from worker.settings import ConfigError, KafkaSettings, load_settings

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


def env_for(protocol: str, mechanism: str | None, certs: Certificates) -> dict[str, str]:
    env = {"POSTINO_KAFKA_SECURITY_PROTOCOL": protocol}
    if protocol.endswith("SSL"):
        env |= {
            "POSTINO_KAFKA_SSL_CA_FILE": str(certs.ca),
            "POSTINO_KAFKA_SSL_CERT_FILE": str(certs.client_cert),
            "POSTINO_KAFKA_SSL_KEY_FILE": str(certs.client_key),
            "POSTINO_KAFKA_SSL_KEY_PASSWORD": certs.client_key_password,
        }
    if mechanism == "OAUTHBEARER":
        env |= {"POSTINO_KAFKA_SASL_MECHANISM": mechanism, "POSTINO_KAFKA_SASL_OAUTH_TOKEN": "t"}
    elif mechanism is not None:
        env |= {
            "POSTINO_KAFKA_SASL_MECHANISM": mechanism,
            "POSTINO_KAFKA_SASL_USERNAME": "postino",
            "POSTINO_KAFKA_SASL_PASSWORD": "s3cret",
        }
    return env


SASL_SSL = {"POSTINO_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}
EXISTS = __file__  # any file that exists

COMBINATIONS = [
    (protocol, mechanism)
    for protocol, mechanism in itertools.product(PROTOCOLS, (None, *MECHANISMS))
    if (mechanism is not None) == protocol.startswith("SASL_")
]


@pytest.mark.parametrize(("protocol", "mechanism"), COMBINATIONS)
def test_each_protocol_and_mechanism_gives_the_client_what_it_needs(
    protocol: str, mechanism: str | None, certs: Certificates
) -> None:
    ks = load_settings(env_for(protocol, mechanism, certs)).kafka
    options = client_options(ks, "broker:9093", "deliver")
    assert options["bootstrap_servers"] == "broker:9093"
    assert options["client_id"] == "postino-deliver"
    assert options["security_protocol"] == protocol
    if protocol.endswith("SSL"):
        context = options["ssl_context"]
        assert isinstance(context, ssl.SSLContext)
        assert context.verify_mode == ssl.CERT_REQUIRED
        assert context.check_hostname
    else:
        assert "ssl_context" not in options
    if mechanism is None:
        assert not any(key.startswith("sasl_") for key in options)
    elif mechanism == "OAUTHBEARER":
        assert options["sasl_mechanism"] == "OAUTHBEARER"
        assert isinstance(options["sasl_oauth_token_provider"], StaticToken)
        assert "sasl_plain_password" not in options
    else:
        assert options["sasl_mechanism"] == mechanism
        assert (options["sasl_plain_username"], options["sasl_plain_password"]) == (
            "postino",
            "s3cret",
        )


@pytest.mark.parametrize(("protocol", "mechanism"), COMBINATIONS)
async def test_producers_consumers_and_admin_clients_accept_the_options(
    protocol: str, mechanism: str | None, certs: Certificates
) -> None:
    ks = load_settings(env_for(protocol, mechanism, certs)).kafka
    producer = kafka.producer(ks, "broker:9093", "ingress")
    consumer = kafka.consumer(ks, "broker:9093", "postino.notify")
    admin = kafka.admin_client(ks, "broker:9093")
    assert isinstance(producer, AIOKafkaProducer)
    assert isinstance(consumer, AIOKafkaConsumer)
    assert isinstance(admin, AIOKafkaAdminClient)
    assert producer.client._client_id == "postino-ingress"
    assert consumer._client._client_id == "postino-notify"
    assert producer.client._security_protocol == protocol
    assert consumer._client._security_protocol == protocol
    assert admin._client._security_protocol == protocol
    if mechanism is not None:
        assert consumer._client._sasl_mechanism == mechanism
    await producer.stop()
    await consumer.stop()
    await admin.close()


def test_a_ca_file_alone_verifies_the_broker_without_a_client_certificate(
    certs: Certificates,
) -> None:
    ks = load_settings(
        {"POSTINO_KAFKA_SECURITY_PROTOCOL": "SSL", "POSTINO_KAFKA_SSL_CA_FILE": str(certs.ca)}
    ).kafka
    context = client_options(ks, "b:1", "x")["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED


def test_without_a_ca_file_the_system_cas_verify_the_broker() -> None:
    ks = load_settings({"POSTINO_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"} | _plain()).kafka
    context = client_options(ks, "b:1", "x")["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.cert_store_stats()["x509_ca"] > 0 or ssl.get_default_verify_paths().cafile


def _plain() -> dict[str, str]:
    return {
        "POSTINO_KAFKA_SASL_MECHANISM": "PLAIN",
        "POSTINO_KAFKA_SASL_USERNAME": "$ConnectionString",
        "POSTINO_KAFKA_SASL_PASSWORD": "Endpoint=sb://x/;SharedAccessKey=k",
    }


def test_every_secret_can_come_from_a_mounted_file(tmp_path: Path, certs: Certificates) -> None:
    files = {}
    for name, value in (("USERNAME", "postino\n"), ("PASSWORD", "from-a-file\n")):
        files[name] = tmp_path / name.lower()
        files[name].write_text(value)
    key_pw = tmp_path / "key-password"
    key_pw.write_text(certs.client_key_password + "\n")
    env = env_for("SASL_SSL", "SCRAM-SHA-512", certs)
    del env["POSTINO_KAFKA_SASL_USERNAME"], env["POSTINO_KAFKA_SASL_PASSWORD"]
    del env["POSTINO_KAFKA_SSL_KEY_PASSWORD"]
    env |= {
        "POSTINO_KAFKA_SASL_USERNAME_FILE": str(files["USERNAME"]),
        "POSTINO_KAFKA_SASL_PASSWORD_FILE": str(files["PASSWORD"]),
        "POSTINO_KAFKA_SSL_KEY_PASSWORD_FILE": str(key_pw),
    }
    ks = load_settings(env).kafka
    assert (ks.sasl_username, ks.sasl_password) == ("postino", "from-a-file")
    assert ks.ssl_key_password == certs.client_key_password
    client_options(ks, "b:1", "x")  # the encrypted key opens with the password from the file


async def test_an_oauth_token_file_is_read_again_at_every_authentication(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("first\n")
    ks = load_settings(
        {
            "POSTINO_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "POSTINO_KAFKA_SASL_MECHANISM": "OAUTHBEARER",
            "POSTINO_KAFKA_SASL_OAUTH_TOKEN_FILE": str(token),
        }
    ).kafka
    provider = client_options(ks, "b:1", "x")["sasl_oauth_token_provider"]
    assert isinstance(provider, FileToken)
    assert await provider.token() == "first"
    token.write_text("rotated")
    assert await provider.token() == "rotated"


def test_the_default_is_plaintext_with_a_client_id_per_role() -> None:
    options = client_options(KafkaSettings(), "b:1", "payments")
    assert options == {
        "bootstrap_servers": "b:1",
        "client_id": "postino-payments",
        "security_protocol": "PLAINTEXT",
        # below the idle cuts of cloud middleboxes (AWS NAT 350 s, Azure 4 min)
        "metadata_max_age_ms": 180000,
        "connections_max_idle_ms": 180000,
    }


async def test_managed_cluster_defaults_replicate_as_the_broker_says_and_wait_for_batches() -> None:
    ks = load_settings({}).kafka
    assert ks.replication_factor == -1  # the cluster's default.replication.factor
    assert (ks.retry_partitions, ks.dlq_partitions) == (4, 1)
    assert ks.rebalance_timeout_ms == 60000
    assert ks.compression == "zstd"
    consumer = kafka.consumer(ks, "b:1", "postino.deliver")
    assert consumer._rebalance_timeout_ms == 60000
    producer = kafka.producer(ks, "b:1", "deliver")
    assert producer._compression_type == "zstd"
    await producer.stop()
    await consumer.stop()


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"POSTINO_KAFKA_SECURITY_PROTOCOL": "TLS"}, "expected one of"),
        ({"POSTINO_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "SASL_MECHANISM is required"),
        (
            {
                "POSTINO_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "POSTINO_KAFKA_SASL_MECHANISM": "GSSAPI",
            },
            "expected one of",
        ),
        (
            {
                "POSTINO_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "POSTINO_KAFKA_SASL_MECHANISM": "PLAIN",
            },
            "USERNAME and _PASSWORD are required",
        ),
        (
            {
                "POSTINO_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "POSTINO_KAFKA_SASL_MECHANISM": "OAUTHBEARER",
            },
            "OAUTHBEARER needs",
        ),
        ({"POSTINO_KAFKA_SASL_PASSWORD": "x"}, "set but unused"),
        ({"POSTINO_KAFKA_SSL_CA_FILE": EXISTS}, "set but unused"),
        (
            {"POSTINO_KAFKA_SECURITY_PROTOCOL": "SSL", "POSTINO_KAFKA_SSL_CA_FILE": "/nope.pem"},
            "no such file",
        ),
        (
            {
                "POSTINO_KAFKA_SECURITY_PROTOCOL": "SSL",
                "POSTINO_KAFKA_SSL_CERT_FILE": EXISTS,
            },
            "go together",
        ),
        (
            {
                "POSTINO_KAFKA_SASL_PASSWORD": "x",
                "POSTINO_KAFKA_SASL_PASSWORD_FILE": EXISTS,
            },
            "set one, not both",
        ),
        ({"POSTINO_KAFKA_SASL_PASSWORD_FILE": "/nope"}, "cannot read it"),
    ],
)
def test_a_security_misconfiguration_stops_the_process_at_start(
    env: dict[str, str], fragment: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    assert fragment in str(info.value)
