"""deploy/compose.yaml and its development override, rendered by `docker compose config`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.tools import DEPLOY, compose
from worker.roles.registry import ROLES

SECRETS = {
    "POSTGRES_PASSWORD": "pg-secret",
    "POSTINO_ADMIN_TOKEN": "admin-secret",
    "POSTINO_ID_SECRET": "id-secret",
}
RELAY = {"POSTINO_SMTP_URL": "smtp://relay.example:587"}


def _render(tmp_path: Path, files: list[str], env: dict[str, str]) -> dict[str, Any]:
    done = compose(tmp_path, files, env, "config", "--format", "json")
    assert done.returncode == 0, done.stderr
    rendered: dict[str, Any] = json.loads(done.stdout)
    return rendered


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _render(tmp_path_factory.mktemp("compose"), ["compose.yaml"], SECRETS | RELAY)


def test_kafka_keeps_its_data_on_its_volume_under_a_fixed_cluster_id(
    production: dict[str, Any],
) -> None:
    kafka = production["services"]["kafka"]
    mounts = {m["source"]: m["target"] for m in kafka["volumes"]}

    assert kafka["environment"]["KAFKA_LOG_DIRS"] == mounts["kafka-data"]
    source = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert "CLUSTER_ID" in source["services"]["kafka"]["environment"]
    assert len(kafka["environment"]["CLUSTER_ID"]) == 22  # a base64 UUID, as kafka-storage wants


def test_upstream_producers_on_the_host_have_a_listener(production: dict[str, Any]) -> None:
    kafka = production["services"]["kafka"]
    advertised = kafka["environment"]["KAFKA_ADVERTISED_LISTENERS"].split(",")

    assert "HOST://localhost:29092" in advertised
    assert "PLAINTEXT://kafka:9092" in advertised
    published = {(p["host_ip"], p["published"], p["target"]) for p in kafka["ports"]}
    assert published == {("127.0.0.1", "29092", 29092)}


def test_production_has_no_mail_catcher_and_sends_through_the_given_relay(
    production: dict[str, Any],
) -> None:
    assert "mail" not in production["services"]
    for role in ROLES:
        env = production["services"][role]["environment"]
        assert env["POSTINO_SMTP_URL"] == RELAY["POSTINO_SMTP_URL"]


def test_every_role_is_checked_on_its_ops_port_after_the_one_shot_release(
    production: dict[str, Any],
) -> None:
    for role in ROLES:
        service = production["services"][role]
        assert service["command"] == [role]
        assert "http://127.0.0.1:8081/readyz" in " ".join(service["healthcheck"]["test"])
        assert service["depends_on"]["release"]["condition"] == "service_completed_successfully"
        assert not service["image"].endswith(":latest")
    release = production["services"]["release"]
    assert release["command"] == ["migrate", "--with-topics"]
    assert release["restart"] == "no"
    assert set(release["depends_on"]) == {"postgres", "kafka"}


def test_without_an_smtp_relay_compose_refuses_to_start(tmp_path: Path) -> None:
    done = compose(tmp_path, ["compose.yaml"], SECRETS, "config", "--quiet")

    assert done.returncode != 0
    assert "required variable POSTINO_SMTP_URL is missing a value" in done.stderr


def test_the_dev_override_adds_the_mail_catcher_on_loopback_only(tmp_path: Path) -> None:
    dev = _render(
        tmp_path,
        ["compose.yaml", "compose.dev.yaml"],
        SECRETS | {"POSTINO_SMTP_URL": "smtp://mail:1025"},
    )

    mail = dev["services"]["mail"]
    assert [(p["host_ip"], p["target"]) for p in mail["ports"]] == [("127.0.0.1", 8025)]
    assert "mail" in dev["services"]["notify"]["depends_on"]
