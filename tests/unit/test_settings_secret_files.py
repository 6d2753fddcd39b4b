"""The deployment's secrets can come from mounted files (`POSTINO_<NAME>_FILE`), as the
Kubernetes manifests give them: never through the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.settings import ConfigError, load_settings

SECRETS = {
    "DATABASE_URL": "postgresql://postino:s3cret@db.example:5432/postino",
    "ADMIN_TOKEN": "admin-token-from-a-file",
    "ID_SECRET": "id-secret-from-a-file",
    "SMTP_URL": "smtp://user:pw@relay.example:587",
}


def test_every_deployment_secret_is_read_from_its_file(tmp_path: Path) -> None:
    env = {}
    for name, value in SECRETS.items():
        (tmp_path / name).write_text(value + "\n")  # as `kubectl create secret` leaves it
        env[f"POSTINO_{name}_FILE"] = str(tmp_path / name)

    settings = load_settings(env)

    assert settings.database.url == SECRETS["DATABASE_URL"]
    assert settings.admin_token == SECRETS["ADMIN_TOKEN"]
    assert settings.id_secret == SECRETS["ID_SECRET"]
    assert settings.notify.smtp_url == SECRETS["SMTP_URL"]


def test_a_secret_given_both_ways_is_refused(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("from-file")
    env = {"POSTINO_ADMIN_TOKEN": "inline", "POSTINO_ADMIN_TOKEN_FILE": str(tmp_path / "token")}

    with pytest.raises(ConfigError, match="POSTINO_ADMIN_TOKEN and POSTINO_ADMIN_TOKEN_FILE"):
        load_settings(env)
