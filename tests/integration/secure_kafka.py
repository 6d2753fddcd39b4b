"""An Apache Kafka with a SASL_SSL listener (SCRAM-SHA-512 users created when its
storage is formatted) and a mutual-TLS listener, certificates made by the test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from devkit.kafka import KafkaBroker
from tests.tls import Certificates, make_certificates

USER, PASSWORD = "postino-deliver", "s3cret-scram-password"
SASL_SSL, MTLS = "SASL_SSL", "MTLS"


@dataclass(frozen=True)
class SecureKafka:
    broker: KafkaBroker
    certs: Certificates

    @property
    def sasl_ssl(self) -> str:
        return self.broker.bootstrap_for(SASL_SSL)

    @property
    def mtls(self) -> str:
        return self.broker.bootstrap_for(MTLS)


def _keystore(certs: Certificates, folder: Path) -> Path:
    """The server's key and certificate in one PEM file (Kafka's PEM keystore)."""
    path = folder / "server-keystore.pem"
    path.write_text(certs.server_key.read_text() + certs.server_cert.read_text())
    return path


def secure_properties(certs: Certificates, folder: Path) -> dict[str, str]:
    tls = {
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(_keystore(certs, folder)),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(certs.ca),
    }
    found = {f"listener.name.{n.lower()}.{k}": v for n in (SASL_SSL, MTLS) for k, v in tls.items()}
    return found | {
        "listener.name.mtls.ssl.client.auth": "required",
        "listener.name.sasl_ssl.sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": (
            "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        ),
    }


@contextmanager
def secure_kafka(folder: Path) -> Iterator[SecureKafka]:
    certs = make_certificates(folder / "certs")
    broker = KafkaBroker(
        folder / "broker",
        listeners={SASL_SSL: "SASL_SSL", MTLS: "SSL"},
        extra_properties=secure_properties(certs, folder),
        scram_users={USER: PASSWORD},
    )
    broker.start()
    try:
        yield SecureKafka(broker, certs)
    finally:
        broker.stop()
