"""Settings are parsed once; a bad value is a clear error naming the variable."""

from __future__ import annotations

import pytest

from schemas.topics import Topic
from worker.settings import ConfigError, load_settings


def test_defaults_need_no_environment() -> None:
    settings = load_settings({})
    assert settings.http.port == 8080
    assert settings.profile == "dev"
    assert settings.kafka.assignment == "direct"
    assert settings.kafka.topics.name(Topic.SUBMITTED) == "messages.submitted"


def test_the_production_profile_uses_groups_and_the_idempotent_producer() -> None:
    settings = load_settings(
        {"POSTINO_PROFILE": "production", "POSTINO_KAFKA_ALLOW_PLAINTEXT": "true"}
    )
    assert settings.kafka.assignment == "group"
    assert settings.kafka.enable_idempotence


def test_a_topic_prefix_applies_to_every_topic() -> None:
    settings = load_settings({"POSTINO_TOPIC_PREFIX": "staging."})
    assert settings.kafka.topics.name(Topic.STATUS) == "staging.messages.status"


def test_the_ingress_producer_lingers_5_ms_and_the_others_not_unless_set() -> None:
    default = load_settings({}).kafka
    assert [default.producer_linger_ms(r) for r in ("ingress", "dev", "deliver-ingress")] == [
        5,
        5,
        5,
    ]
    assert [default.producer_linger_ms(r) for r in ("deliver", "notify-callbacks")] == [0, 0]
    chosen = load_settings({"POSTINO_KAFKA_LINGER_MS": "0"}).kafka
    assert chosen.producer_linger_ms("ingress") == 0
    assert load_settings({"POSTINO_KAFKA_LINGER_MS": "2"}).kafka.producer_linger_ms("notify") == 2


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("POSTINO_HTTP_PORT", "eighty", "expected an integer"),
        ("POSTINO_HTTP_PORT", "70000", "0..65535"),
        ("POSTINO_PROFILE", "staging", "expected one of"),
        ("POSTINO_KAFKA_ENABLE_IDEMPOTENCE", "maybe", "true or false"),
        ("POSTINO_NOTIFY_RETRY_DELAYS", "10,x", "comma-separated"),
        ("POSTINO_NOTIFY_RETRY_DELAYS", "10,-1", "> 0"),
        ("POSTINO_QUOTA_SYNC_SECONDS", "0", ">="),
        ("POSTINO_REMINDER_TIMEZONE", "Europe/Nowhere", "IANA time zone"),
        ("POSTINO_KAFKA_LINGER_MS", "-1", "0..1000"),
        ("POSTINO_CALLBACK_COPY_AFTER_SECONDS", "0", ">= 0.1"),
        ("POSTINO_CALLBACK_COPY_AFTER_SECONDS", "soon", ">= 0.1"),
    ],
)
def test_a_bad_value_names_the_variable(name: str, value: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({name: value})
    assert name in str(info.value)
    assert fragment in str(info.value)
