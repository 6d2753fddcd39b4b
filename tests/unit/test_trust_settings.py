"""Production refuses weak settings, naming the variable; `postino dev` refuses the
production profile and an external database unless told `--allow-external`."""

from __future__ import annotations

import pytest

from devkit.dev import refuse_unsafe
from worker.__main__ import main
from worker.settings import ConfigError, load_settings

STRONG = "q7Zp3Xk9Lm2Vb8Nc4Rt6Yw1Hs5Jd0FgA"
PRODUCTION = {
    "POSTINO_PROFILE": "production",
    "POSTINO_ID_SECRET": STRONG,
    "POSTINO_KAFKA_ALLOW_PLAINTEXT": "true",
}


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("POSTINO_ADMIN_TOKEN", "change-me"),
        ("POSTINO_ADMIN_TOKEN", "change-me-" + "a" * 40),
        ("POSTINO_ADMIN_TOKEN", "short-token"),
        ("POSTINO_ID_SECRET", "x"),
        ("POSTINO_ID_SECRET", "CHANGE-ME-long-random-secret-0123456789"),
    ],
)
def test_production_refuses_a_weak_secret_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings({**PRODUCTION, variable: value})
    assert str(refused.value).startswith(f"{variable}: too weak")
    if value != "change-me":  # the message may say "change-me"; never the value itself
        assert value not in str(refused.value)


def test_production_refuses_loopback_callbacks() -> None:
    with pytest.raises(ConfigError, match=r"^POSTINO_CALLBACK_ALLOW_LOOPBACK"):
        load_settings({**PRODUCTION, "POSTINO_CALLBACK_ALLOW_LOOPBACK": "true"})


def test_production_takes_strong_secrets_and_dev_takes_anything() -> None:
    settings = load_settings({**PRODUCTION, "POSTINO_ADMIN_TOKEN": STRONG[::-1] + "e2Q"})
    assert settings.profile == "production"
    dev = load_settings({"POSTINO_ADMIN_TOKEN": "change-me", "POSTINO_ID_SECRET": "x"})
    assert dev.admin_token == "change-me"


def test_postino_dev_refuses_production_and_an_external_database_unless_allowed() -> None:
    with pytest.raises(ConfigError, match=r"^POSTINO_PROFILE=production"):
        refuse_unsafe(load_settings(PRODUCTION), allow_external=False)
    external = load_settings({"POSTINO_DATABASE_URL": "postgresql://db.example.org/postino"})
    with pytest.raises(ConfigError, match=r"^POSTINO_DATABASE_URL"):
        refuse_unsafe(external, allow_external=False)
    refuse_unsafe(external, allow_external=True)
    refuse_unsafe(load_settings({}), allow_external=False)


def test_the_dev_command_refuses_the_production_profile(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POSTINO_PROFILE", "production")
    monkeypatch.setenv("POSTINO_ID_SECRET", STRONG)
    monkeypatch.setenv("POSTINO_KAFKA_ALLOW_PLAINTEXT", "true")
    assert main(["dev"]) == 2
    assert "POSTINO_PROFILE=production" in capsys.readouterr().err
