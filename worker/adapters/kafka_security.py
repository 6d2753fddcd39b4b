"""Why a broker refuses this client, when the reason is in its own security settings.

aiokafka reports a client it cannot bootstrap as "Unable to bootstrap from ...",
whatever the reason: a broker still starting, a wrong password, a CA that does not sign
the broker's certificate, a client certificate the broker refuses. Only the first is
worth waiting for. `refusal` connects once, as the clients would, and tells the others
apart, naming the setting to fix, so that a role stops at start with one clear error
instead of retrying for ever:

- TLS: the broker's certificate does not verify (`POSTINO_KAFKA_SSL_CA_FILE`: unknown
  CA, expired, wrong host), or the broker answers the handshake with an alert about
  the client certificate (`POSTINO_KAFKA_SSL_CERT_FILE`: expired, unknown CA, none);
- SASL: the broker refuses the credentials (`POSTINO_KAFKA_SASL_*`).

Anything else (refused connection, timeout, a broker closing for its own reasons) is
no refusal: the caller keeps waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl

from aiokafka.conn import create_conn
from aiokafka.errors import AuthenticationFailedError, SaslAuthenticationFailed

from worker.adapters.kafka_client import client_options, ssl_context
from worker.core.errors import PermanentError
from worker.settings import KafkaSettings

#: How long the diagnosis may take per step (it runs only after a failed start).
PROBE_SECONDS = 5.0
#: An ApiVersions v0 request (correlation id 1, client id "postino"): the first bytes a
#: Kafka client sends; a broker that refuses the client certificate alerts instead.
_API_VERSIONS = bytes.fromhex("0000001100120000000000010007") + b"postino"


class KafkaRefused(PermanentError):
    """The broker refuses this client because of its security settings."""


async def refusal(settings: KafkaSettings, bootstrap: str) -> KafkaRefused | None:
    """The refusal of the first bootstrap server, if it is one (see the module doc)."""
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    protocol = settings.security_protocol
    try:
        if protocol in ("SSL", "SASL_SSL"):
            found = await _tls_refusal(settings, host, int(port))
            if found is not None:
                return found
        if protocol.startswith("SASL_"):
            return await _sasl_refusal(settings, host, int(port))
    except (OSError, TimeoutError, ValueError):
        return None
    return None


async def _tls_refusal(settings: KafkaSettings, host: str, port: int) -> KafkaRefused | None:
    context = ssl_context(settings)
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=context, server_hostname=host),
            PROBE_SECONDS,
        )
    except ssl.SSLCertVerificationError as exc:
        ca = settings.ssl_ca_file or "unset: the system's CAs"
        return KafkaRefused(
            f"the broker's certificate does not verify against POSTINO_KAFKA_SSL_CA_FILE"
            f" ({ca}): {exc.verify_message}"
        )
    try:
        writer.write(_API_VERSIONS)
        await writer.drain()
        await asyncio.wait_for(reader.read(4), PROBE_SECONDS)
    except ssl.SSLError as exc:
        if "ALERT" not in (exc.reason or ""):
            return None
        alert = (exc.reason or "").split("ALERT_", 1)[-1].replace("_", " ").lower()
        given = settings.ssl_cert_file or "unset: no client certificate"
        return KafkaRefused(
            f"the broker refused the client certificate, POSTINO_KAFKA_SSL_CERT_FILE"
            f" ({given}): {alert}"
        )
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    return None


async def _sasl_refusal(settings: KafkaSettings, host: str, port: int) -> KafkaRefused | None:
    options = client_options(settings, f"{host}:{port}", "probe")
    options.pop("bootstrap_servers")
    options.pop("metadata_max_age_ms", None)
    options.pop("connections_max_idle_ms", None)
    try:
        conn = await asyncio.wait_for(
            create_conn(host, port, request_timeout_ms=int(PROBE_SECONDS * 1000), **options),
            PROBE_SECONDS,
        )
    except (SaslAuthenticationFailed, AuthenticationFailedError) as exc:
        who = {
            "OAUTHBEARER": "POSTINO_KAFKA_SASL_OAUTH_TOKEN(_FILE)",
            "AWS_MSK_IAM": "the AWS credential chain's identity (POSTINO_KAFKA_AWS_REGION)",
        }.get(
            settings.sasl_mechanism or "",
            "POSTINO_KAFKA_SASL_USERNAME and POSTINO_KAFKA_SASL_PASSWORD",
        )
        return KafkaRefused(
            f"the broker refused the {settings.sasl_mechanism} credentials of {who}:"
            f" {str(exc)[:200]}"
        )
    except Exception:
        return None
    conn.close()
    return None
