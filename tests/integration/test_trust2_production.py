"""The production profile refuses to be unsafe; the dev profile (tests, `postino dev`)
keeps working as it is. And the callback receiver of the docs is run for real.

Refused in production, naming the variable and never showing a secret: e-mail in
clear, Kafka in clear (`PLAINTEXT`, `SASL_PLAINTEXT` with `PLAIN`) unless allowed, a
database URL without `sslmode=verify-full` (or `require` with a reason), an
`http://` push gateway, secrets without entropy or left as placeholders. A malformed
relay URL is reported without its password, in any profile.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from schemas import codecs
from schemas.enums import MessageStatus
from schemas.events import MessageStatusChanged
from schemas.topics import Topic
from tests.conftest import eventually
from tests.factories import create_service
from tests.integration.notify_helpers import running
from worker.bootstrap import Runtime, webhook_sender
from worker.core.records import OutRecord
from worker.roles.callbacks import CallbacksRole
from worker.settings import ConfigError, load_settings

STRONG = "q7Zp3Xk9Lm2Vb8Nc4Rt6Yw1Hs5Jd0FgA"
SAFE = {
    "POSTINO_PROFILE": "production",
    "POSTINO_ADMIN_TOKEN": STRONG,
    "POSTINO_ID_SECRET": STRONG[::-1],
    "POSTINO_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "POSTINO_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "POSTINO_KAFKA_SASL_USERNAME": "postino",
    "POSTINO_KAFKA_SASL_PASSWORD": "kafka-password",
    "POSTINO_DATABASE_URL": "postgresql://postino:pw@db.internal/postino?sslmode=verify-full",
    "POSTINO_SMTP_URL": "smtps://mailer:relay-password@relay.example.org",
    "POSTINO_PUSH_URL": "https://push.example.org/api/push",
}
RECEIVER_PAGE = Path(__file__).parents[2] / "docs" / "integrators" / "callback-receiver.md"


def _with(changes: dict[str, str]) -> dict[str, str]:
    """SAFE with `changes`; a PLAINTEXT protocol goes without the SASL settings."""
    env = {**SAFE, **changes}
    if env["POSTINO_KAFKA_SECURITY_PROTOCOL"] == "PLAINTEXT":
        env = {k: v for k, v in env.items() if not k.startswith("POSTINO_KAFKA_SASL_")}
    return env


def test_a_safe_production_configuration_loads() -> None:
    assert load_settings(SAFE).profile == "production"


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"POSTINO_SMTP_URL": "smtp://mailer:relay-password@relay.example.org:587"}, "SMTP_URL"),
        ({"POSTINO_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"}, "KAFKA_SECURITY_PROTOCOL"),
        (
            {
                "POSTINO_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "POSTINO_KAFKA_SASL_MECHANISM": "PLAIN",
            },
            "KAFKA_SECURITY_PROTOCOL",
        ),
        ({"POSTINO_DATABASE_URL": "postgresql://postino:pw@db.internal/postino"}, "DATABASE_URL"),
        (
            {"POSTINO_DATABASE_URL": "postgresql://postino:pw@db/postino?sslmode=require"},
            "DATABASE_URL",
        ),
        (
            {"POSTINO_DATABASE_URL": "postgresql://postino:pw@db/postino?sslmode=prefer"},
            "DATABASE_URL",
        ),
        ({"POSTINO_PUSH_URL": "http://push.example.org/api/push"}, "PUSH_URL"),
        ({"POSTINO_ADMIN_TOKEN": "a" * 32}, "ADMIN_TOKEN"),
        ({"POSTINO_ADMIN_TOKEN": "<set-a-long-random-admin-token-here>"}, "ADMIN_TOKEN"),
        ({"POSTINO_ID_SECRET": "<set-" + STRONG + ">"}, "ID_SECRET"),
    ],
)
def test_production_refuses_what_is_unsafe(changes: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(_with(changes))
    text = str(refused.value)
    assert text.startswith(f"POSTINO_{named}")
    assert "relay-password" not in text and ":pw@" not in text and STRONG not in text


@pytest.mark.parametrize(
    "changes",
    [
        {"POSTINO_SMTP_URL": "smtp://relay.example.org:587", "POSTINO_SMTP_STARTTLS": "true"},
        {"POSTINO_SMTP_URL": "smtp://relay.example.org:465", "POSTINO_SMTP_TLS": "true"},
        {"POSTINO_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT", "POSTINO_KAFKA_ALLOW_PLAINTEXT": "true"},
        {
            "POSTINO_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "POSTINO_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
        },
        {
            "POSTINO_DATABASE_URL": "postgresql://postino:pw@db/postino?sslmode=require",
            "POSTINO_DATABASE_SSLMODE_REASON": "managed PostgreSQL on the private network",
        },
    ],
)
def test_production_takes_what_is_safe_or_explicitly_allowed(changes: dict[str, str]) -> None:
    assert load_settings(_with(changes)).profile == "production"


def test_a_malformed_smtp_url_is_reported_without_its_password() -> None:
    for url in ("smtp://mailer:hunter2-secret@relay:notaport", "mailto://mailer:hunter2-secret@x"):
        with pytest.raises(ConfigError) as refused:
            load_settings({"POSTINO_SMTP_URL": url})
        assert str(refused.value).startswith("POSTINO_SMTP_URL")
        assert "hunter2" not in str(refused.value)
        assert "***" in str(refused.value)


def test_the_dev_profile_keeps_working_as_before(settings: Any) -> None:
    dev = load_settings(
        {
            "POSTINO_SMTP_URL": "smtp://localhost:1025",
            "POSTINO_PUSH_URL": "http://127.0.0.1:9000/push",
            "POSTINO_ADMIN_TOKEN": "a" * 32,
            "POSTINO_DATABASE_URL": "postgresql://postino@localhost/postino",
        }
    )
    assert dev.profile == "dev"
    assert settings.profile == "dev"  # the tests' own settings, PLAINTEXT broker included


def _snippet_verify() -> Callable[..., bool]:
    """The `verify` function of the docs page, executed as it is written there."""
    page = RECEIVER_PAGE.read_text()
    [code] = [
        block for block in re.findall(r"```python\n(.*?)```", page, re.S) if "def verify" in block
    ]
    namespace: dict[str, Any] = {}
    exec(compile(code, str(RECEIVER_PAGE), "exec"), namespace)  # noqa: S102 - our own docs
    verify: Callable[..., bool] = namespace["verify"]
    return verify


async def test_the_documented_receiver_accepts_postinos_callbacks_and_refuses_replays(
    runtime: Runtime,
) -> None:
    verify = _snippet_verify()
    secret = "s3cret-for-the-receiver-test"
    seen: list[tuple[str, bytes, bool]] = []

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        header = request.headers.get("Postino-Signature", "")
        ok = verify(header, body, secret)
        seen.append((header, body, ok))
        return web.Response(status=204 if ok else 401)

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        service_id, _ = await create_service(
            runtime, callback_url=f"http://127.0.0.1:{port}/hook", callback_secret=secret
        )
        event = MessageStatusChanged(
            message_id="01JRECEIVER000000000000001",
            sender_service_id=service_id,
            seq=1,
            at=datetime.now(UTC),
            status=MessageStatus.PROCESSED,
        )
        await runtime.publisher.publish_many(
            [
                OutRecord(
                    runtime.settings.kafka.topics.name(Topic.STATUS),
                    codecs.STATUS.encode(event),
                    event.message_id.encode(),
                )
            ]
        )
        async with (
            webhook_sender(runtime.settings.callbacks) as sender,
            running(*(role := CallbacksRole(runtime, sender)).runners),
        ):
            await eventually(lambda: asyncio.sleep(0, seen), lambda s: len(s) >= 1)
            await role.stop()
    finally:
        await runner.cleanup()

    [(header, body, accepted)] = seen
    assert accepted
    stamp = int(header.split(",")[0].removeprefix("t="))
    assert not verify(header, body, secret, now=stamp + 301)  # a replay, later
    assert not verify(header, body, secret, now=stamp - 301)
    assert not verify(header, body + b" ", secret)  # a changed body
    assert not verify(header, body, "another-secret")
    for broken in (None, "", "t=abc,v1=00", "v1=00", f"t={stamp},t={stamp},v1=00", "garbage"):
        assert not verify(broken, body, secret)


# -- the deploy files agree with the production profile ------------------------------

DEPLOY = Path(__file__).parents[2] / "deploy"
_VARIABLE = re.compile(r"\$\{(\w+)(?::?[-?][^}]*)?\}")


def _compose_environment() -> dict[str, str]:
    """The roles' environment in deploy/compose.yaml, `${...}` filled as an operator
    following deploy/.env.example would (with real secrets)."""
    source = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    given = {
        "POSTGRES_PASSWORD": "pg-password",
        "POSTINO_ADMIN_TOKEN": STRONG,
        "POSTINO_ID_SECRET": STRONG[::-1],
        "POSTINO_SMTP_URL": "smtp://relay.example:587",
        "POSTINO_SMTP_STARTTLS": "true",
    }
    environment: dict[str, Any] = source["x-postino"]["environment"]
    return {
        key: _VARIABLE.sub(lambda m: given.get(m.group(1), ""), str(value))
        for key, value in environment.items()
    }


def test_the_compose_deployment_passes_the_production_checks() -> None:
    settings = load_settings(_compose_environment())
    assert settings.profile == "production"
    assert settings.database.sslmode_reason


def test_the_k8s_example_names_the_ingress_controller_as_its_trusted_proxy() -> None:
    overlay = yaml.safe_load((DEPLOY / "k8s" / "overlays" / "example" / "config.yaml").read_text())
    proxies = overlay["data"]["POSTINO_TRUSTED_PROXIES"].split(",")
    assert proxies and all(ipaddress.ip_network(p.strip()) for p in proxies)
    assert overlay["data"]["POSTINO_KAFKA_SECURITY_PROTOCOL"] in ("SSL", "SASL_SSL")


def _egress_ports(component: str) -> set[int]:
    """The TCP ports a role's pods may reach outside the cluster's private ranges."""
    docs = yaml.safe_load_all((DEPLOY / "k8s" / "base" / "networkpolicies.yaml").read_text())
    ports: set[int] = set()
    for policy in docs:
        spec = policy["spec"]
        if "Egress" not in spec["policyTypes"] or not _selects(spec["podSelector"], component):
            continue
        for rule in spec.get("egress", []):
            public = any(
                peer.get("ipBlock", {}).get("cidr") in ("0.0.0.0/0", "::/0")
                for peer in rule.get("to", [])
            )
            if public:
                assert "ports" in rule, "egress to the internet on every port"
                ports |= {p["port"] for p in rule["ports"]}
    return ports


def _selects(selector: dict[str, Any], component: str) -> bool:
    labels = {"app.kubernetes.io/name": "postino", "app.kubernetes.io/component": component}
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    return all(labels.get(e["key"]) in e["values"] for e in selector.get("matchExpressions", []))


def test_each_role_reaches_out_only_where_its_peers_are() -> None:
    assert _egress_ports("deliver") == set()
    assert _egress_ports("payments") == set()
    assert _egress_ports("ingress") == {443, 8443}
    assert _egress_ports("callbacks") == {443, 8443}
    assert _egress_ports("notify") == {443, 465, 587}
    assert _egress_ports("reminders") == {443}


def test_the_compose_secrets_file_is_never_committed() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "deploy/.env"],  # noqa: S607
        cwd=DEPLOY.parent,
        check=False,
    )
    assert ignored.returncode == 0
