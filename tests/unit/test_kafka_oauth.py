"""OAUTHBEARER with SASL extensions (Confluent Cloud's `logicalCluster` and
`identityPoolId`) and Amazon MSK's IAM access control, checked against the bytes the
client sends: the SASL/OAUTHBEARER initial client response (RFC 7628) that aiokafka
builds from Postino's token providers, and the signed token AWS's signer makes."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import pytest
from aiokafka.conn import OAuthAuthenticator

from worker.adapters.kafka_client import client_options
from worker.settings import ConfigError, load_settings

CONFLUENT = {
    "POSTINO_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "POSTINO_KAFKA_SASL_MECHANISM": "OAUTHBEARER",
    "POSTINO_KAFKA_SASL_OAUTH_TOKEN": "eyJhbGciOi.payload.sig",
    "POSTINO_KAFKA_SASL_OAUTH_EXTENSIONS": "logicalCluster=lkc-abc123,identityPoolId=pool-Xy9",
}
MSK = {
    "POSTINO_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "POSTINO_KAFKA_SASL_MECHANISM": "AWS_MSK_IAM",
    "POSTINO_KAFKA_AWS_REGION": "eu-south-1",
}


async def initial_response(env: dict[str, str]) -> tuple[str, bytes]:
    options = client_options(load_settings(env).kafka, "b:9096", "deliver")
    authenticator = OAuthAuthenticator(
        sasl_oauth_token_provider=options["sasl_oauth_token_provider"]
    )
    payload, _ = await authenticator.step(None)
    return options["sasl_mechanism"], payload


async def test_confluent_cloud_extensions_travel_with_the_token() -> None:
    mechanism, payload = await initial_response(CONFLUENT)
    assert mechanism == "OAUTHBEARER"
    assert payload == (
        b"n,,\x01auth=Bearer eyJhbGciOi.payload.sig"
        b"\x01logicalCluster=lkc-abc123\x01identityPoolId=pool-Xy9\x01\x01"
    )


async def test_without_extensions_the_response_is_the_token_alone() -> None:
    env = {k: v for k, v in CONFLUENT.items() if k != "POSTINO_KAFKA_SASL_OAUTH_EXTENSIONS"}
    assert (await initial_response(env))[1] == b"n,,\x01auth=Bearer eyJhbGciOi.payload.sig\x01\x01"


@pytest.mark.parametrize(
    ("extensions", "why"),
    [
        ("logicalCluster", "a key of letters"),
        ("auth=x", "not auth"),
        ("logical-cluster=x", "a key of letters"),
        ("logicalCluster=with space", "printable ASCII"),
    ],
)
def test_a_malformed_extension_is_refused_naming_the_variable(extensions: str, why: str) -> None:
    with pytest.raises(ConfigError, match=f"POSTINO_KAFKA_SASL_OAUTH_EXTENSIONS.*{why}"):
        load_settings({**CONFLUENT, "POSTINO_KAFKA_SASL_OAUTH_EXTENSIONS": extensions})


def test_extensions_go_with_oauthbearer_only() -> None:
    with pytest.raises(ConfigError, match="OAUTHBEARER only"):
        load_settings(
            {
                "POSTINO_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "POSTINO_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
                "POSTINO_KAFKA_SASL_USERNAME": "u",
                "POSTINO_KAFKA_SASL_PASSWORD": "p",
                "POSTINO_KAFKA_SASL_OAUTH_EXTENSIONS": "logicalCluster=lkc-1",
            }
        )


async def test_msk_iam_sends_a_sigv4_presigned_connect_token_as_oauthbearer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    mechanism, payload = await initial_response(MSK)
    assert mechanism == "OAUTHBEARER"
    assert payload.startswith(b"n,,\x01auth=Bearer ") and payload.endswith(b"\x01\x01")
    token = payload[len(b"n,,\x01auth=Bearer ") : -2].decode()
    url = urlsplit(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode())
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert url.netloc == "kafka.eu-south-1.amazonaws.com"
    assert query["Action"] == "kafka-cluster:Connect"
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Credential"].startswith("AKIDEXAMPLE/")
    assert query["X-Amz-Credential"].endswith("/eu-south-1/kafka-cluster/aws4_request")
    assert len(query["X-Amz-Signature"]) == 64


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"POSTINO_KAFKA_AWS_REGION": ""}, "needs POSTINO_KAFKA_AWS_REGION"),
        (
            {"POSTINO_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"},
            "needs POSTINO_KAFKA_SECURITY_PROTOCOL",
        ),
        ({"POSTINO_KAFKA_SASL_PASSWORD": "x"}, "unused with AWS_MSK_IAM"),
    ],
)
def test_msk_iam_settings_are_checked_at_start(change: dict[str, str], why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        load_settings({**MSK, **change})
