"""How every Kafka client of Postino connects: one function, `client_options`.

Every producer, consumer and admin client is built with these options, so TLS,
SASL and the client id are configured in one place and no client can miss them.
The client id is `postino-<role>`: broker logs, quotas and ACLs can tell roles apart.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiokafka.abc import AbstractTokenProvider
from aiokafka.helpers import create_ssl_context

from worker.settings import ConfigError, KafkaSettings


class _Extended(AbstractTokenProvider):  # type: ignore[misc]
    """SASL extensions (RFC 7628, KIP-342) sent beside the token: aiokafka adds them to
    the initial client response, `n,,\x01auth=Bearer <token>\x01key=value...\x01\x01`."""

    def __init__(self, extensions: Sequence[tuple[str, str]] = ()) -> None:
        self._extensions = dict(extensions)

    def extensions(self) -> dict[str, str]:
        return dict(self._extensions)


class StaticToken(_Extended):
    """OAUTHBEARER with a token given once (`POSTINO_KAFKA_SASL_OAUTH_TOKEN`)."""

    def __init__(self, token: str, extensions: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(extensions)
        self._token = token

    async def token(self) -> str:
        return self._token


class FileToken(_Extended):
    """OAUTHBEARER with a token file re-read at every authentication, so a token that
    something else rotates (a projected service-account token, a sidecar) stays fresh."""

    def __init__(self, path: str, extensions: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(extensions)
        self._path = Path(path)

    async def token(self) -> str:
        return self._path.read_text().strip()


class MskIamToken(AbstractTokenProvider):  # type: ignore[misc]
    """Amazon MSK's IAM access control as OAUTHBEARER: a fresh token at every
    authentication, signed (SigV4, 15 minutes) by AWS's signer with the default
    credential chain (environment, web identity for IRSA, instance role)."""

    def __init__(self, region: str) -> None:
        try:
            # optional (the msk extra): imported only where it is asked for
            from aws_msk_iam_sasl_signer import MSKAuthTokenProvider  # type: ignore[import-untyped]
        except ImportError as exc:
            raise ConfigError(
                "POSTINO_KAFKA_SASL_MECHANISM=AWS_MSK_IAM needs the msk extra"
                " (pip install 'postino[msk]')"
            ) from exc
        self._signer = MSKAuthTokenProvider
        self._region = region

    async def token(self) -> str:
        # The credential chain may call the instance metadata service: off the loop.
        token, _expiry_ms = await asyncio.to_thread(self._signer.generate_auth_token, self._region)
        return str(token)


def client_id(role: str) -> str:
    return f"postino-{role}"


def ssl_context(settings: KafkaSettings) -> ssl.SSLContext:
    """Certificate and host name verified, against the CA file or the system's CAs."""
    return create_ssl_context(  # type: ignore[no-any-return]
        cafile=settings.ssl_ca_file,
        certfile=settings.ssl_cert_file,
        keyfile=settings.ssl_key_file,
        password=settings.ssl_key_password,
    )


def client_options(settings: KafkaSettings, bootstrap: str, role: str) -> dict[str, Any]:
    """Keyword arguments shared by `AIOKafkaProducer`, `AIOKafkaConsumer` and
    `AIOKafkaAdminClient`: bootstrap, client id, security protocol, TLS and SASL."""
    protocol = settings.security_protocol
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "client_id": client_id(role),
        "security_protocol": protocol,
        "metadata_max_age_ms": settings.metadata_max_age_ms,
        "connections_max_idle_ms": settings.connections_max_idle_ms,
    }
    if protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = ssl_context(settings)
    if protocol.startswith("SASL_"):
        options.update(_sasl(settings))
    return options


def _sasl(settings: KafkaSettings) -> dict[str, Any]:
    mechanism = settings.sasl_mechanism
    if mechanism == "AWS_MSK_IAM":
        provider: AbstractTokenProvider = MskIamToken(settings.aws_region or "")
        return {"sasl_mechanism": "OAUTHBEARER", "sasl_oauth_token_provider": provider}
    if mechanism == "OAUTHBEARER":
        extensions = settings.sasl_oauth_extensions or ()
        provider = (
            FileToken(settings.sasl_oauth_token_file, extensions)
            if settings.sasl_oauth_token_file
            else StaticToken(settings.sasl_oauth_token or "", extensions)
        )
        return {"sasl_mechanism": mechanism, "sasl_oauth_token_provider": provider}
    return {
        "sasl_mechanism": mechanism,
        "sasl_plain_username": settings.sasl_username,
        "sasl_plain_password": settings.sasl_password,
    }
